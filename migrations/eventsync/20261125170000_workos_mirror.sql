-- eventsync: the state of following the WorkOS event stream, and what the mirror needs to apply
-- events idempotently and in order of the objects' own clocks.

-- One row per followed stream ('workos'). `cursor` is the id of the last applied event; it
-- moves in the same transaction as the event's effects.
CREATE TABLE event_cursors (
    stream              TEXT PRIMARY KEY,
    cursor              TEXT,
    -- When the last full backfill began: the stream is read from here after it.
    backfill_started_at TIMESTAMPTZ,
    last_event_at       TIMESTAMPTZ,
    last_polled_at      TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every event applied or seen, by id, whichever way it came (stream or webhook): applying an
-- event twice is a no-op.
CREATE TABLE event_inbox (
    event_id    TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('stream', 'webhook')),
    outcome     TEXT NOT NULL CHECK (outcome IN ('applied', 'stale', 'skipped')),
    occurred_at TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX event_inbox_received ON event_inbox (received_at);

-- The WorkOS `updated_at` of each mirrored row: an event is applied only when its object is
-- newer than what is stored.
ALTER TABLE organizations ADD COLUMN workos_updated_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN workos_updated_at TIMESTAMPTZ;
ALTER TABLE user_organizations ADD COLUMN workos_updated_at TIMESTAMPTZ;

-- Deleted WorkOS objects, so that a late, older event cannot bring them back.
CREATE TABLE workos_tombstones (
    object_type TEXT NOT NULL CHECK (object_type IN ('organization', 'user', 'organization_membership')),
    workos_id   TEXT NOT NULL,
    deleted_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (object_type, workos_id)
);
