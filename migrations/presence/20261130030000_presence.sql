-- Presence: one row per member of an organization who has sent a heartbeat or set a status
-- there. The effective status is manual_status ?? automatic_status; published_status is the
-- effective status last queued for `status:<organization>:<user>`, so only changes publish.
CREATE TABLE user_presence (
    org_id            BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id           BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Set by the user; survives reconnects until changed (NULL: automatic).
    manual_status     TEXT CHECK (manual_status IN ('online', 'away', 'busy', 'offline')),
    -- From heartbeats: online while they keep coming, offline once stale.
    automatic_status  TEXT NOT NULL DEFAULT 'offline' CHECK (automatic_status IN ('online', 'offline')),
    last_heartbeat_at TIMESTAMPTZ,
    published_status  TEXT NOT NULL DEFAULT 'offline',
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);
-- The stale-heartbeat job reads only the online rows.
CREATE INDEX user_presence_online ON user_presence (last_heartbeat_at) WHERE automatic_status = 'online';
