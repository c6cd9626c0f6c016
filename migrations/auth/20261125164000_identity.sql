-- Identity: users, organizations, memberships, sessions and the short-lived sign-in state.
-- Organizations, users and memberships mirror WorkOS (the source of truth for who exists);
-- rows with no WorkOS id are local-only (created by the development sign-in).

CREATE TABLE organizations (
    id            BIGSERIAL PRIMARY KEY,
    -- The id on the wire. Never the WorkOS id.
    public_id     TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    workos_org_id TEXT UNIQUE,
    -- Token of the organization's invite link; NULL until first read.
    invite_id     TEXT UNIQUE,
    initialized   BOOLEAN NOT NULL DEFAULT false,
    logo_url      TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX organizations_name ON organizations (lower(name));

CREATE TABLE users (
    id         BIGSERIAL PRIMARY KEY,
    workos_id  TEXT UNIQUE,
    email      TEXT NOT NULL,
    first_name TEXT,
    last_name  TEXT,
    -- The organization the user last acted in; sign-in returns there when WorkOS does not say.
    last_organization_id BIGINT REFERENCES organizations (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX users_email ON users (lower(email));
-- A development user is found again by email.
CREATE UNIQUE INDEX users_local_email ON users (lower(email)) WHERE workos_id IS NULL;

CREATE TABLE user_organizations (
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id       BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role         TEXT NOT NULL DEFAULT 'member'
                 CHECK (role IN ('guest', 'member', 'moderator', 'admin')),
    status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    -- Profile data is per organization.
    display_name TEXT,
    avatar_url   TEXT,
    workos_membership_id TEXT UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, org_id)
);
CREATE INDEX user_organizations_org ON user_organizations (org_id, role);

CREATE TABLE user_sessions (
    id            BIGSERIAL PRIMARY KEY,
    -- The `sid` claim of the backend's access tokens.
    session_id    UUID NOT NULL UNIQUE,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The organization the session currently acts in.
    org_id        BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('workos', 'development')),
    -- The WorkOS refresh token, AES-256-GCM sealed (see docs/identity.md). NULL for
    -- development sessions and once the session ended.
    refresh_token BYTEA,
    workos_session_id TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    refreshed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Absolute end of the session: no refresh past it.
    expires_at    TIMESTAMPTZ NOT NULL,
    ended_at      TIMESTAMPTZ,
    end_reason    TEXT,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX user_sessions_live ON user_sessions (user_id, org_id) WHERE ended_at IS NULL;

-- Web and desktop OAuth starts: single use (deleted when finalized), expiring.
CREATE TABLE oauth_states (
    state            TEXT PRIMARY KEY,
    client           TEXT NOT NULL CHECK (client IN ('web', 'desktop')),
    -- web: the backend-generated PKCE verifier, sealed.
    code_verifier    BYTEA,
    -- desktop: the client's S256 challenge.
    code_challenge   TEXT,
    redirect_uri     TEXT NOT NULL,
    invitation_token BYTEA,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at       TIMESTAMPTZ NOT NULL,
    CHECK ((client = 'web') = (code_verifier IS NOT NULL)),
    CHECK ((client = 'desktop') = (code_challenge IS NOT NULL))
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);

-- A sign-in that needs one more step (choose an organization, or sign up), keyed by the
-- SHA-256 of the opaque handle the client holds. Single use, expiring.
CREATE TABLE pending_sign_ins (
    handle_hash   BYTEA PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('organization-selection', 'sign-up')),
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Sealed WorkOS pending authentication token (selection) or refresh token (sign-up).
    secret        BYTEA NOT NULL,
    workos_session_id TEXT,
    -- Organizations offered for selection (internal ids).
    organization_ids BIGINT[] NOT NULL DEFAULT '{}',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX pending_sign_ins_expiry ON pending_sign_ins (expires_at);

-- Fixed-window request counters for the sign-in rate limit, shared by every replica.
CREATE TABLE auth_rate_limits (
    bucket       TEXT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
-- Invitations sent through WorkOS (managed by the organizations feature; here so that sign-up can
-- mark them accepted), mirrored so they have a public id and can be listed without WorkOS.
CREATE TABLE invitations (
    id                   UUID PRIMARY KEY,
    org_id               BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    workos_invitation_id TEXT UNIQUE,
    email                TEXT NOT NULL,
    role                 TEXT NOT NULL CHECK (role IN ('guest', 'member', 'moderator', 'admin')),
    state                TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'revoked')),
    inviter_user_id      BIGINT REFERENCES users (id) ON DELETE SET NULL,
    expires_at           TIMESTAMPTZ NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX invitations_org ON invitations (org_id, created_at DESC);
-- One pending invitation per address and organization.
CREATE UNIQUE INDEX invitations_pending_email ON invitations (org_id, lower(email)) WHERE state = 'pending';
