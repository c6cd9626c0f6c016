-- Guests: people without an account invited into one space for a limited time, and the guests
-- who used an invitation (waiting in the lobby, admitted or denied).

CREATE TABLE guest_invites (
    -- The id on the wire, and what the sealed invite token carries (nothing else).
    id           UUID PRIMARY KEY,
    org_id       BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- The one space the invitation is for; deleting the space ends its invitations.
    room_id      BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    space_id     UUID NOT NULL,
    created_by   BIGINT REFERENCES users (id) ON DELETE SET NULL,
    -- 'anyone': every member of the organization may admit; 'named': only admitter_ids.
    admit_by     TEXT NOT NULL CHECK (admit_by IN ('anyone', 'named')),
    admitter_ids BIGINT[] NOT NULL DEFAULT '{}'
                 CHECK (cardinality(admitter_ids) <= 20),
    CHECK ((admit_by = 'named') = (cardinality(admitter_ids) > 0)),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ,
    CHECK (expires_at > created_at)
);
CREATE INDEX guest_invites_org_created ON guest_invites (org_id, created_at DESC, id);
CREATE INDEX guest_invites_ended ON guest_invites (COALESCE(revoked_at, expires_at));

CREATE TABLE guests (
    id            UUID PRIMARY KEY,
    invite_id     UUID NOT NULL REFERENCES guest_invites (id) ON DELETE CASCADE,
    org_id        BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    display_name  TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 64),
    -- SHA-256 of the secret the guest polls its status with (the secret is never stored).
    secret_hash   BYTEA NOT NULL,
    status        TEXT NOT NULL DEFAULT 'waiting'
                  CHECK (status IN ('waiting', 'admitted', 'denied')),
    decided_by    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    decided_at    TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The invitation's expiry, copied: the retention rule reads only this table.
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX guests_invite ON guests (invite_id, created_at);
CREATE INDEX guests_org_status ON guests (org_id, status, created_at);
CREATE INDEX guests_expires ON guests (expires_at);
