-- Who changed what: one row per administrative change, written in the change's transaction.
-- `organization_id` is the identity feature's organization id (no foreign key: the trail
-- outlives what it talks about). The relay columns track the copy sent to WorkOS Audit Logs.
CREATE TABLE audit_events (
    id uuid PRIMARY KEY,
    organization_id bigint NOT NULL,
    actor_type text NOT NULL,
    actor_id text NOT NULL,
    actor_name text,
    action text NOT NULL,
    targets jsonb NOT NULL DEFAULT '[]'::jsonb,
    request_id text,
    ip_address text,
    user_agent text,
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    relay_state text NOT NULL DEFAULT 'pending'
        CHECK (relay_state IN ('pending', 'relayed', 'skipped')),
    relay_attempts integer NOT NULL DEFAULT 0,
    relay_next_at timestamptz NOT NULL DEFAULT now(),
    relay_error text,
    relayed_at timestamptz
);

CREATE INDEX audit_events_organization_time ON audit_events (organization_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_targets ON audit_events USING gin (targets jsonb_path_ops);
CREATE INDEX audit_events_relay_pending ON audit_events (relay_next_at, occurred_at)
    WHERE relay_state = 'pending';
