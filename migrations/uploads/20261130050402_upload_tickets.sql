-- Upload tickets: a presigned PUT handed to a user for one image (an avatar, or an
-- organization's logo) under `tmp/`, waiting to be finalized. A ticket is used once: finalize
-- deletes it; an unused one is pruned a day after it expired (see the feature's `.tables`).

CREATE TABLE upload_tickets (
    -- Also the last segment of the temporary key: tmp/<kind>s/<id>.
    id           UUID PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('avatar', 'logo')),
    -- Who asked for it, in which organization: only they may finalize it there.
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id       BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- What the client declared, and the presigned PUT signed: the object must be this size.
    content_type TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL CHECK (size_bytes BETWEEN 1 AND 5242880),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Finalize is refused from then on (the PUT URL itself expires earlier).
    expires_at   TIMESTAMPTZ NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX upload_tickets_expires ON upload_tickets (expires_at);
