-- Every serve process caches the spaces its conference tokens are asked for, for a few seconds
-- (features/spaces/src/cache.rs). A space deleted (also with its organization) or renamed is
-- announced at commit on `qubital_spaces`, so that every process forgets what it cached at
-- once instead of at its age limit. Statement-level: one notification per statement, whatever
-- the number of rows (an organization's deletion removes all its spaces in one).
CREATE FUNCTION notify_space_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('qubital_spaces', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER rooms_changed
    AFTER UPDATE OF room_id, org_id, name OR DELETE ON rooms
    FOR EACH STATEMENT EXECUTE FUNCTION notify_space_changes();
