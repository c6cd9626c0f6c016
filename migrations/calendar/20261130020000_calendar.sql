-- Calendar sync: a member's connection to a calendar provider (Google now), the events of the
-- organization's spaces created through it, their attendees, and the short-lived state of a
-- connect (OAuth) in progress.

-- One connection per member, organization and provider. Tokens are sealed (AES-256-GCM, the
-- identity feature's sealer, associated data naming the column): never readable in the table.
CREATE TABLE calendar_connections (
    id                UUID PRIMARY KEY,
    org_id            BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id           BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider          TEXT NOT NULL CHECK (length(provider) BETWEEN 1 AND 32),
    -- The provider account that granted access (for the member to recognise it).
    account_email     TEXT,
    -- The calendar events are written to and read from.
    calendar_id       TEXT NOT NULL DEFAULT 'primary',
    refresh_token     BYTEA NOT NULL,
    access_token      BYTEA,
    access_expires_at TIMESTAMPTZ,
    scopes            TEXT[] NOT NULL DEFAULT '{}',
    -- `broken`: the provider refused the grant (revoked by the user, expired); only a new
    -- connect repairs it.
    status            TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'broken')),
    broken_at         TIMESTAMPTZ,
    -- Where the next incremental sync resumes (NULL: the next sync is a full one).
    sync_token        TEXT,
    last_synced_at    TIMESTAMPTZ,
    -- A sync run holds the connection until then (one run per connection at a time, across
    -- replicas, without a transaction held across the provider calls).
    sync_lease_until  TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (org_id, user_id, provider)
);
CREATE INDEX calendar_connections_due ON calendar_connections (last_synced_at NULLS FIRST) WHERE status = 'active';

-- A connect in progress: `state` (hashed) bound to the member who asked and to their browser
-- (the hash of a nonce kept in a short-lived cookie), with the PKCE verifier (sealed).
CREATE TABLE calendar_oauth_states (
    state_hash     BYTEA PRIMARY KEY,
    org_id         BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id        BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       TEXT NOT NULL,
    browser_hash   BYTEA NOT NULL,
    code_verifier  BYTEA NOT NULL,
    redirect_uri   TEXT NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX calendar_oauth_states_expiry ON calendar_oauth_states (expires_at);

-- An event of a space, on its organizer's connected calendar. `id` is the wire id; the
-- provider's id is derived from it, so a sync recognises the event.
CREATE TABLE calendar_events (
    id                  UUID PRIMARY KEY,
    org_id              BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    connection_id       UUID NOT NULL REFERENCES calendar_connections (id) ON DELETE CASCADE,
    organizer_id        BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id             BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    space_id            UUID NOT NULL,
    provider_event_id   TEXT NOT NULL,
    title               TEXT NOT NULL,
    description         TEXT,
    starts_at           TIMESTAMPTZ NOT NULL,
    ends_at             TIMESTAMPTZ NOT NULL,
    time_zone           TEXT NOT NULL,
    recurrence          TEXT[] NOT NULL DEFAULT '{}',
    status              TEXT NOT NULL CHECK (status IN ('confirmed', 'tentative', 'cancelled')),
    join_url            TEXT NOT NULL,
    html_link           TEXT,
    -- The provider's last change: a sync applies only what is at least as new.
    provider_updated_at TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (connection_id, provider_event_id)
);
CREATE INDEX calendar_events_org_time ON calendar_events (org_id, starts_at, id);
CREATE INDEX calendar_events_cancelled ON calendar_events (updated_at) WHERE status = 'cancelled';

-- Who is invited, by mail address (lower-cased); `user_id` when the attendee is a member.
CREATE TABLE calendar_event_attendees (
    event_id        UUID NOT NULL REFERENCES calendar_events (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    user_id         BIGINT REFERENCES users (id) ON DELETE SET NULL,
    response_status TEXT NOT NULL
                    CHECK (response_status IN ('needsAction', 'declined', 'tentative', 'accepted')),
    organizer       BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (event_id, email)
);
