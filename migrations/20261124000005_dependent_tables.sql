-- LOCAL COPY of the Fictures app's schema, for tests and local development only.
-- In the real app the schema is owned by the app (drizzle-kit pushes it); against a
-- real app database these migrations are never run. Source of truth:
-- the schema sheet (fictures-schema.md). Keep in step with it.
--
-- A representative subset of the app's other tables that reference the fixture
-- tables (the real database has ~37 tables and gains new ones often). They exist
-- so that a teardown meets the same NO ACTION and CASCADE references as in the
-- real database. Code must still discover referencing tables from the catalog.

CREATE TABLE scene_views (
    id         text PRIMARY KEY,
    scene_id   text NOT NULL,
    user_id    text,
    session_id text,
    viewed_at  timestamp without time zone DEFAULT now(),
    CONSTRAINT scene_views_scene_id_scenes_id_fk FOREIGN KEY (scene_id)
        REFERENCES scenes (id) ON DELETE CASCADE,
    CONSTRAINT scene_views_user_id_users_id_fk FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE
);

CREATE TABLE comments (
    id                text PRIMARY KEY,
    content           text NOT NULL,
    story_id          text NOT NULL,
    chapter_id        text,
    scene_id          text,
    user_id           text NOT NULL,
    parent_comment_id text,
    depth             integer NOT NULL DEFAULT 0,
    like_count        integer NOT NULL DEFAULT 0,
    created_at        timestamp without time zone DEFAULT now(),
    updated_at        timestamp without time zone DEFAULT now(),
    CONSTRAINT comments_story_id_stories_id_fk FOREIGN KEY (story_id)
        REFERENCES stories (id) ON DELETE CASCADE,
    CONSTRAINT comments_chapter_id_chapters_id_fk FOREIGN KEY (chapter_id)
        REFERENCES chapters (id) ON DELETE CASCADE,
    CONSTRAINT comments_scene_id_scenes_id_fk FOREIGN KEY (scene_id)
        REFERENCES scenes (id) ON DELETE CASCADE,
    CONSTRAINT comments_user_id_users_id_fk FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT comments_parent_comment_id_comments_id_fk FOREIGN KEY (parent_comment_id)
        REFERENCES comments (id) ON DELETE CASCADE
);

CREATE TABLE comment_likes (
    comment_id text NOT NULL,
    user_id    text NOT NULL,
    created_at timestamp without time zone DEFAULT now(),
    CONSTRAINT comment_likes_comment_id_user_id_pk PRIMARY KEY (comment_id, user_id),
    CONSTRAINT comment_likes_comment_id_comments_id_fk FOREIGN KEY (comment_id)
        REFERENCES comments (id) ON DELETE CASCADE,
    CONSTRAINT comment_likes_user_id_users_id_fk FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE
);

CREATE TABLE reading_history (
    id           text PRIMARY KEY,
    user_id      text NOT NULL,
    story_id     text NOT NULL,
    chapter_id   text,
    last_read_at timestamp without time zone NOT NULL DEFAULT now(),
    created_at   timestamp without time zone DEFAULT now(),
    CONSTRAINT reading_history_user_id_story_id_unique UNIQUE (user_id, story_id),
    CONSTRAINT reading_history_user_id_users_id_fk FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT reading_history_story_id_stories_id_fk FOREIGN KEY (story_id)
        REFERENCES stories (id) ON DELETE CASCADE,
    CONSTRAINT reading_history_chapter_id_chapters_id_fk FOREIGN KEY (chapter_id)
        REFERENCES chapters (id) ON DELETE CASCADE
);

CREATE TABLE ai_interactions (
    id         text PRIMARY KEY,
    user_id    text NOT NULL,
    story_id   text,
    type       varchar(50) NOT NULL,
    prompt     text,
    response   text,
    created_at timestamp without time zone DEFAULT now(),
    CONSTRAINT ai_interactions_user_id_users_id_fk FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE NO ACTION,
    CONSTRAINT ai_interactions_story_id_stories_id_fk FOREIGN KEY (story_id)
        REFERENCES stories (id) ON DELETE CASCADE
);

CREATE TABLE user_stats (
    id              text PRIMARY KEY,
    user_id         text NOT NULL,
    stories_written integer NOT NULL DEFAULT 0,
    total_words     integer NOT NULL DEFAULT 0,
    updated_at      timestamp without time zone DEFAULT now(),
    CONSTRAINT user_stats_user_id_unique UNIQUE (user_id),
    CONSTRAINT user_stats_user_id_users_id_fk FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE NO ACTION
);

CREATE TABLE publishing_schedules (
    id            text PRIMARY KEY,
    story_id      text NOT NULL,
    chapter_id    text,
    created_by    text NOT NULL,
    scheduled_for timestamp without time zone NOT NULL,
    status        varchar(20) NOT NULL DEFAULT 'pending',
    created_at    timestamp without time zone DEFAULT now(),
    CONSTRAINT publishing_schedules_story_id_stories_id_fk FOREIGN KEY (story_id)
        REFERENCES stories (id) ON DELETE CASCADE,
    CONSTRAINT publishing_schedules_chapter_id_chapters_id_fk FOREIGN KEY (chapter_id)
        REFERENCES chapters (id) ON DELETE CASCADE,
    CONSTRAINT publishing_schedules_created_by_users_id_fk FOREIGN KEY (created_by)
        REFERENCES users (id) ON DELETE NO ACTION
);
