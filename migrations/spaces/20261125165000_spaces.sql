-- Spaces: the persistent 2D environments of an organization (table `rooms`, the name of the
-- existing schema), the server-authored set of valid layout/dimension/style combinations, and
-- organization-scoped tags.

-- The layouts a space may use. Server-authored: changed only by migrations.
CREATE TABLE valid_room_combinations (
    layout     TEXT NOT NULL CHECK (layout ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
    dimension  TEXT NOT NULL CHECK (dimension ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
    style      TEXT NOT NULL CHECK (style ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
    -- Listing order of /space-layouts/list.
    position   INTEGER NOT NULL,
    PRIMARY KEY (layout, dimension, style)
);

INSERT INTO valid_room_combinations (layout, dimension, style, position) VALUES
    ('office',       'small',  'modern',  10),
    ('office',       'small',  'classic', 20),
    ('office',       'medium', 'modern',  30),
    ('office',       'medium', 'classic', 40),
    ('office',       'large',  'modern',  50),
    ('office',       'large',  'classic', 60),
    ('lounge',       'small',  'cozy',    70),
    ('lounge',       'medium', 'cozy',    80),
    ('lounge',       'medium', 'modern',  90),
    ('lecture-hall', 'medium', 'modern', 100),
    ('lecture-hall', 'large',  'modern', 110),
    ('lecture-hall', 'large',  'classic',120),
    ('event-floor',  'large',  'modern', 130);

CREATE TABLE rooms (
    id          BIGSERIAL PRIMARY KEY,
    -- The id on the wire (a space's id) and the conference room name.
    room_id     UUID NOT NULL UNIQUE,
    org_id      BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description TEXT CHECK (length(description) <= 1000),
    layout      TEXT NOT NULL,
    dimension   TEXT NOT NULL,
    style       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (layout, dimension, style) REFERENCES valid_room_combinations (layout, dimension, style)
);
CREATE INDEX rooms_org_name ON rooms (org_id, lower(name), room_id);
CREATE INDEX rooms_org_created ON rooms (org_id, created_at, room_id);

CREATE TABLE room_tags (
    id         UUID PRIMARY KEY,
    org_id     BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Tag names are unique in an organization, ignoring case.
CREATE UNIQUE INDEX room_tags_org_name ON room_tags (org_id, lower(name));

CREATE TABLE room_tag_assignments (
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    tag_id  UUID NOT NULL REFERENCES room_tags (id) ON DELETE CASCADE,
    PRIMARY KEY (room_id, tag_id)
);
CREATE INDEX room_tag_assignments_tag ON room_tag_assignments (tag_id, room_id);
