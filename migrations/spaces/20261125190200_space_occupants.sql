-- Who is in each space's conference now, from LiveKit's participant webhooks (the recordings
-- feature receives them) and the room service (its reconcile job). A row per space and LiveKit
-- identity; `changed_at` is the time of the event that last changed it, so news older than the
-- row (LiveKit does not promise order) changes nothing. Rows of people who left are kept a
-- while for that comparison, then pruned.
CREATE TABLE space_occupants (
    room_id    BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    -- The identity the conference token was minted for (the user id for members).
    identity   TEXT NOT NULL,
    -- The user, when the identity is one (guests and other participants are not users).
    user_id    BIGINT REFERENCES users (id) ON DELETE CASCADE,
    present    BOOLEAN NOT NULL,
    joined_at  TIMESTAMPTZ NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (room_id, identity)
);
CREATE INDEX space_occupants_present ON space_occupants (room_id) WHERE present;
CREATE INDEX space_occupants_departed ON space_occupants (changed_at) WHERE NOT present;
