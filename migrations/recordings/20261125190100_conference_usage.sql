-- Conference usage, fed by LiveKit's participant webhooks.

-- Who is in each space's conference now. A row per LiveKit room (the space's id) and identity
-- (the user id); `changed_at` is the time of the event that last changed it, so news older than
-- the row (LiveKit does not promise order) changes nothing.
CREATE TABLE conference_participants (
    room_name  TEXT NOT NULL,
    identity   TEXT NOT NULL,
    org_id     BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    present    BOOLEAN NOT NULL,
    joined_at  TIMESTAMPTZ NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (room_name, identity)
);
CREATE INDEX conference_participants_present ON conference_participants (org_id) WHERE present;

-- One row per organization, user and UTC day on which that user joined a conference: weekly
-- and monthly active users are distinct counts over it (Prometheus cannot count distinct
-- users over a sliding window). Rows older than the longest window are pruned.
CREATE TABLE conference_activity_days (
    org_id  BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    day     DATE NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, day, user_id)
);
CREATE INDEX conference_activity_days_day ON conference_activity_days (day);
