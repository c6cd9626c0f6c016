-- Conference usage, fed by LiveKit's participant webhooks (who is in a space now is the spaces
-- feature's `space_occupants`).

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
