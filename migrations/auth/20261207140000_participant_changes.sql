-- The participant cache (features/auth/src/session_cache.rs) holds the name a member is shown
-- by (their display name in the organization, else their full name, else their email): a
-- change of any of these is announced on `qubital_sessions` too, so that every serve process
-- forgets what it cached at once. Row-level with a WHEN, unlike the session triggers: the
-- WorkOS mirror rewrites these columns with every user event, and only an actual change
-- should cost the caches their entries (Postgres folds repeated notifications of a
-- transaction into one).
CREATE TRIGGER users_names_changed
    AFTER UPDATE OF email, first_name, last_name ON users
    FOR EACH ROW
    WHEN (OLD.email IS DISTINCT FROM NEW.email
          OR OLD.first_name IS DISTINCT FROM NEW.first_name
          OR OLD.last_name IS DISTINCT FROM NEW.last_name)
    EXECUTE FUNCTION notify_session_changes();

CREATE TRIGGER user_organizations_names_changed
    AFTER UPDATE OF display_name ON user_organizations
    FOR EACH ROW
    WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name)
    EXECUTE FUNCTION notify_session_changes();
