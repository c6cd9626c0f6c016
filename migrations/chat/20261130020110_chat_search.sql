-- Message search: case-insensitive substring (ILIKE) over message text, served by a trigram
-- index so a search is not a sequential scan of every message. pg_trgm is a trusted extension
-- (Postgres 13+): the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX chat_messages_content_trgm ON chat_messages USING gin (content gin_trgm_ops)
    WHERE deleted_at IS NULL;
