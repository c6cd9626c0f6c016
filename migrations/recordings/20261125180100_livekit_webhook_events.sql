-- Conference (LiveKit) webhook deliveries already processed, by event id: a redelivery is
-- recognised and changes nothing. Rows are kept (pruning them is left to a later job).
CREATE TABLE livekit_webhook_events (
    event_id    TEXT PRIMARY KEY,
    event       TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX livekit_webhook_events_received ON livekit_webhook_events (received_at);
