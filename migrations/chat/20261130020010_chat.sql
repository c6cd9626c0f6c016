-- Chat: conversations (direct messages and groups) of an organization, their members and
-- messages, reactions, and the outbox that delivers every durable change to Centrifugo.
-- Postgres is the truth; Centrifugo only fans changes out (docs/chat-and-presence.md).

CREATE TABLE chat_conversations (
    id              UUID PRIMARY KEY,
    org_id          BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('dm', 'group')),
    -- Groups only.
    name            TEXT CHECK (length(name) BETWEEN 1 AND 100),
    -- DMs only: '<smaller user id>:<larger user id>', so one DM per pair per organization.
    dm_key          TEXT,
    created_by      BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The last message's sequence number (messages are numbered per conversation, 1, 2, …),
    -- taken under this row's lock so the order of a conversation is its commit order.
    last_seq        BIGINT NOT NULL DEFAULT 0,
    last_message_at TIMESTAMPTZ,
    CHECK ((kind = 'dm') = (dm_key IS NOT NULL)),
    UNIQUE (org_id, dm_key)
);
CREATE INDEX chat_conversations_org ON chat_conversations (org_id);

CREATE TABLE chat_members (
    conversation_id UUID NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Group admins add and remove members.
    role            TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member')),
    joined_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The read cursor: the sequence number of the last message this member has read.
    last_read_seq   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX chat_members_user ON chat_members (user_id);

CREATE TABLE chat_messages (
    id              UUID PRIMARY KEY,
    conversation_id UUID NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    sender_id       BIGINT REFERENCES users (id) ON DELETE SET NULL,
    -- The sender's idempotency key: a retried send finds the first message.
    client_msg_id   TEXT CHECK (length(client_msg_id) BETWEEN 1 AND 64),
    content         TEXT NOT NULL CHECK (length(content) BETWEEN 1 AND 4000),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    edited_at       TIMESTAMPTZ,
    deleted_at      TIMESTAMPTZ,
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, sender_id, client_msg_id)
);

CREATE TABLE chat_reactions (
    message_id UUID NOT NULL REFERENCES chat_messages (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL CHECK (length(emoji) BETWEEN 1 AND 32),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, user_id, emoji)
);

-- The transactional outbox: written in the same transaction as the change it announces, read
-- by the singleton relay in id order, published with `idempotency_key = 'outbox:<id>'`.
CREATE TABLE chat_outbox (
    id              BIGSERIAL PRIMARY KEY,
    channel         TEXT NOT NULL,
    data            JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts        INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT,
    published_at    TIMESTAMPTZ,
    -- Refused for good by Centrifugo (unknown namespace, malformed): never retried.
    dead_at         TIMESTAMPTZ
);
CREATE INDEX chat_outbox_pending ON chat_outbox (id) WHERE published_at IS NULL AND dead_at IS NULL;
CREATE INDEX chat_outbox_done ON chat_outbox (created_at) WHERE published_at IS NOT NULL OR dead_at IS NOT NULL;
