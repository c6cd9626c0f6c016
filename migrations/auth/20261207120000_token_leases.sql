-- A WorkOS refresh token is single use: whoever spends one (a token refresh, entering another
-- organization, finishing a sign-up) first takes its lease in a short statement, calls WorkOS
-- holding no lock and no connection, and writes the outcome in a transaction that checks the
-- lease is still theirs (features/auth/src/token_lease.rs). A lease outlives a crashed holder
-- only until `lease_until`.
ALTER TABLE user_sessions
    ADD COLUMN lease_id    UUID,
    ADD COLUMN lease_until TIMESTAMPTZ;

ALTER TABLE pending_sign_ins
    ADD COLUMN lease_id    UUID,
    ADD COLUMN lease_until TIMESTAMPTZ;
