-- Every process caches live sessions for a few seconds (features/auth/src/session_cache.rs).
-- A change to what a session may do is announced at commit on `qubital_sessions`, so that
-- every serve process forgets its cached sessions at once instead of at their age limit.
-- Statement-level: one notification per statement (and Postgres folds repeats within a
-- transaction), whatever the number of rows.
CREATE FUNCTION notify_session_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('qubital_sessions', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

-- A session ended, moved to another organization or shortened (not a token refresh).
CREATE TRIGGER user_sessions_changed
    AFTER UPDATE OF ended_at, org_id, user_id, expires_at OR DELETE ON user_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_session_changes();

-- A membership made, changed (role, status) or ended (not a profile change).
CREATE TRIGGER user_organizations_changed
    AFTER INSERT OR UPDATE OF role, status, user_id, org_id OR DELETE ON user_organizations
    FOR EACH STATEMENT EXECUTE FUNCTION notify_session_changes();
