-- Recordings: one row per LiveKit room-composite egress, owned by an organization.

CREATE TABLE recordings (
    id            BIGSERIAL PRIMARY KEY,
    -- The id on the wire (`recordingId`): LiveKit's egress id, opaque to clients.
    egress_id     TEXT NOT NULL UNIQUE,
    org_id        BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- The recorded space; a deleted space leaves its recordings (room NULL).
    room_id       BIGINT REFERENCES rooms (id) ON DELETE SET NULL,
    -- The space's wire id at start (kept after the space is deleted: the zone key below).
    space_id      UUID NOT NULL,
    zone          TEXT NOT NULL CHECK (length(zone) BETWEEN 1 AND 64),
    topic         TEXT NOT NULL CHECK (length(topic) BETWEEN 1 AND 200),
    status        TEXT NOT NULL DEFAULT 'active'
                  CHECK (status IN ('active', 'ending', 'completed', 'failed')),
    started_by    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    started_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at      TIMESTAMPTZ,
    duration_ms   BIGINT CHECK (duration_ms >= 0),
    -- Where LiveKit uploaded the file (object storage location).
    file_location TEXT,
    -- LiveKit's error text, for operators; never sent to clients.
    error         TEXT,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- At most one active recording per space and zone (the start path also serializes per
-- organization with an advisory lock, so LiveKit is asked once).
CREATE UNIQUE INDEX recordings_one_active_per_zone ON recordings (space_id, zone) WHERE status = 'active';
CREATE INDEX recordings_org_started ON recordings (org_id, started_at DESC, id DESC);
CREATE INDEX recordings_unfinished ON recordings (updated_at) WHERE status IN ('active', 'ending');

CREATE TABLE recording_participants (
    recording_id BIGINT NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (recording_id, user_id)
);
CREATE INDEX recording_participants_user ON recording_participants (user_id, recording_id);
