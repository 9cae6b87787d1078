-- LOCAL COPY of the Fictures app's schema, for tests and local development only.
-- In the real app the schema is owned by the app (drizzle-kit pushes it); against a
-- real app database these migrations are never run. Source of truth:
-- the schema sheet (fictures-schema.md). Keep in step with it.
--
-- stories, characters, settings, parts, chapters, scenes.
-- NO ACTION references are written out explicitly so that a teardown meets the same
-- restrictions as in the real database.

CREATE TABLE stories (
    id              text PRIMARY KEY,
    title           varchar(255) NOT NULL,
    genre           genre NOT NULL,
    status          status NOT NULL DEFAULT 'writing',
    author_id       text NOT NULL,
    view_count      integer DEFAULT 0,
    rating          integer DEFAULT 0,
    rating_count    integer DEFAULT 0,
    image_url       text,
    image_variants  json,
    summary         text,
    tone            tone,
    moral_framework text,
    created_at      timestamp without time zone DEFAULT now(),
    updated_at      timestamp without time zone DEFAULT now(),
    CONSTRAINT stories_author_id_users_id_fk FOREIGN KEY (author_id)
        REFERENCES users (id) ON DELETE NO ACTION
);

CREATE TABLE characters (
    id         text PRIMARY KEY,
    story_id   text NOT NULL,
    name       text NOT NULL,
    role       text,
    summary    text,
    created_at timestamp without time zone DEFAULT now(),
    updated_at timestamp without time zone DEFAULT now(),
    CONSTRAINT characters_story_id_stories_id_fk FOREIGN KEY (story_id)
        REFERENCES stories (id) ON DELETE NO ACTION
);

CREATE TABLE settings (
    id          text PRIMARY KEY,
    story_id    text NOT NULL,
    name        text NOT NULL,
    description text,
    created_at  timestamp without time zone DEFAULT now(),
    updated_at  timestamp without time zone DEFAULT now(),
    CONSTRAINT settings_story_id_stories_id_fk FOREIGN KEY (story_id)
        REFERENCES stories (id) ON DELETE NO ACTION
);

CREATE TABLE parts (
    id             text PRIMARY KEY,
    title          varchar(255) NOT NULL,
    story_id       text NOT NULL,
    author_id      text NOT NULL,
    summary        text,
    order_index    integer NOT NULL,
    character_arcs json,
    created_at     timestamp without time zone DEFAULT now(),
    updated_at     timestamp without time zone DEFAULT now(),
    CONSTRAINT parts_story_id_stories_id_fk FOREIGN KEY (story_id)
        REFERENCES stories (id) ON DELETE NO ACTION,
    CONSTRAINT parts_author_id_users_id_fk FOREIGN KEY (author_id)
        REFERENCES users (id) ON DELETE NO ACTION
);

CREATE TABLE chapters (
    id             text PRIMARY KEY,
    title          varchar(255) NOT NULL,
    summary        text,
    story_id       text NOT NULL,
    part_id        text,
    author_id      text NOT NULL,
    order_index    integer NOT NULL,
    status         status NOT NULL DEFAULT 'writing',
    purpose        text,
    hook           text,
    published_at   timestamp without time zone,
    scheduled_for  timestamp without time zone,
    character_id   text,
    -- planning columns (the sheet names only their kinds; names are local choices)
    arc_position   arc_position,
    adversity_type adversity_type,
    virtue_type    virtue_type,
    seeds_planted  json DEFAULT '[]'::json,
    seeds_resolved json DEFAULT '[]'::json,
    created_at     timestamp without time zone DEFAULT now(),
    updated_at     timestamp without time zone DEFAULT now(),
    CONSTRAINT chapters_story_id_stories_id_fk FOREIGN KEY (story_id)
        REFERENCES stories (id) ON DELETE NO ACTION,
    CONSTRAINT chapters_part_id_parts_id_fk FOREIGN KEY (part_id)
        REFERENCES parts (id) ON DELETE NO ACTION,
    CONSTRAINT chapters_author_id_users_id_fk FOREIGN KEY (author_id)
        REFERENCES users (id) ON DELETE NO ACTION,
    CONSTRAINT chapters_character_id_characters_id_fk FOREIGN KEY (character_id)
        REFERENCES characters (id) ON DELETE SET NULL
);

CREATE TABLE scenes (
    id                      text PRIMARY KEY,
    title                   varchar(255) NOT NULL,
    content                 text DEFAULT '',
    chapter_id              text NOT NULL,
    order_index             integer NOT NULL,
    summary                 text,
    image_url               text,
    image_variants          json,
    setting_id              text,
    published_at            timestamp without time zone,
    scheduled_for           timestamp without time zone,
    visibility              visibility NOT NULL DEFAULT 'private',
    auto_publish            boolean DEFAULT false,
    published_by            text,
    unpublished_by          text,
    comic_published_by      text,
    comic_unpublished_by    text,
    comic_status            comic_status NOT NULL DEFAULT 'none',
    -- the six view counters (the sheet gives only their count; names are local choices)
    view_count              integer NOT NULL DEFAULT 0,
    unique_view_count       integer NOT NULL DEFAULT 0,
    novel_view_count        integer NOT NULL DEFAULT 0,
    novel_unique_view_count integer NOT NULL DEFAULT 0,
    comic_view_count        integer NOT NULL DEFAULT 0,
    comic_unique_view_count integer NOT NULL DEFAULT 0,
    last_viewed_at          timestamp without time zone,
    created_at              timestamp without time zone DEFAULT now(),
    updated_at              timestamp without time zone DEFAULT now(),
    CONSTRAINT scenes_chapter_id_chapters_id_fk FOREIGN KEY (chapter_id)
        REFERENCES chapters (id) ON DELETE NO ACTION,
    CONSTRAINT scenes_setting_id_settings_id_fk FOREIGN KEY (setting_id)
        REFERENCES settings (id) ON DELETE NO ACTION,
    CONSTRAINT scenes_published_by_users_id_fk FOREIGN KEY (published_by)
        REFERENCES users (id) ON DELETE NO ACTION,
    CONSTRAINT scenes_unpublished_by_users_id_fk FOREIGN KEY (unpublished_by)
        REFERENCES users (id) ON DELETE NO ACTION,
    CONSTRAINT scenes_comic_published_by_users_id_fk FOREIGN KEY (comic_published_by)
        REFERENCES users (id) ON DELETE NO ACTION,
    CONSTRAINT scenes_comic_unpublished_by_users_id_fk FOREIGN KEY (comic_unpublished_by)
        REFERENCES users (id) ON DELETE NO ACTION
);
