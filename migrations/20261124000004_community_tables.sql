-- LOCAL COPY of the Fictures app's schema, for tests and local development only.
-- In the real app the schema is owned by the app (drizzle-kit pushes it); against a
-- real app database these migrations are never run. Source of truth:
-- the schema sheet (fictures-schema.md). Keep in step with it.
--
-- community_posts, community_replies, post_likes, story_likes.
-- likes/replies/views on community_posts are denormalised counters: seeders keep
-- them equal to the real rows.

CREATE TABLE community_posts (
    id                text PRIMARY KEY,
    title             varchar(255) NOT NULL,
    content           text NOT NULL,
    content_type      content_type NOT NULL DEFAULT 'markdown',
    content_html      text,
    content_images    json DEFAULT '[]'::json,
    story_id          text NOT NULL,
    author_id         text NOT NULL,
    type              varchar(50) DEFAULT 'discussion',
    is_pinned         boolean DEFAULT false,
    is_locked         boolean DEFAULT false,
    is_edited         boolean DEFAULT false,
    is_deleted        boolean DEFAULT false,
    edit_count        integer DEFAULT 0,
    likes             integer DEFAULT 0,
    replies           integer DEFAULT 0,
    views             integer DEFAULT 0,
    moderation_status moderation_status DEFAULT 'approved',
    moderated_by      text,
    tags              json DEFAULT '[]'::json,
    mentions          json DEFAULT '[]'::json,
    last_activity_at  timestamp without time zone NOT NULL DEFAULT now(),
    created_at        timestamp without time zone DEFAULT now(),
    updated_at        timestamp without time zone DEFAULT now(),
    CONSTRAINT community_posts_story_id_stories_id_fk FOREIGN KEY (story_id)
        REFERENCES stories (id) ON DELETE CASCADE,
    CONSTRAINT community_posts_author_id_users_id_fk FOREIGN KEY (author_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT community_posts_moderated_by_users_id_fk FOREIGN KEY (moderated_by)
        REFERENCES users (id) ON DELETE NO ACTION
);

CREATE TABLE community_replies (
    id              text PRIMARY KEY,
    content         text NOT NULL,
    content_type    content_type NOT NULL DEFAULT 'markdown',
    post_id         text NOT NULL,
    author_id       text NOT NULL,
    parent_reply_id text,
    depth           integer NOT NULL DEFAULT 0,
    is_edited       boolean DEFAULT false,
    is_deleted      boolean DEFAULT false,
    edit_count      integer DEFAULT 0,
    likes           integer DEFAULT 0,
    mentions        json DEFAULT '[]'::json,
    created_at      timestamp without time zone DEFAULT now(),
    updated_at      timestamp without time zone DEFAULT now(),
    CONSTRAINT community_replies_post_id_community_posts_id_fk FOREIGN KEY (post_id)
        REFERENCES community_posts (id) ON DELETE CASCADE,
    CONSTRAINT community_replies_author_id_users_id_fk FOREIGN KEY (author_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT community_replies_parent_reply_id_community_replies_id_fk FOREIGN KEY (parent_reply_id)
        REFERENCES community_replies (id) ON DELETE CASCADE
);

CREATE TABLE post_likes (
    post_id    text NOT NULL,
    user_id    text NOT NULL,
    created_at timestamp without time zone DEFAULT now(),
    CONSTRAINT post_likes_post_id_user_id_pk PRIMARY KEY (post_id, user_id),
    CONSTRAINT post_likes_post_id_community_posts_id_fk FOREIGN KEY (post_id)
        REFERENCES community_posts (id) ON DELETE CASCADE,
    CONSTRAINT post_likes_user_id_users_id_fk FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE
);

CREATE TABLE story_likes (
    user_id    text NOT NULL,
    story_id   text NOT NULL,
    created_at timestamp without time zone DEFAULT now(),
    CONSTRAINT story_likes_user_id_story_id_pk PRIMARY KEY (user_id, story_id),
    CONSTRAINT story_likes_user_id_users_id_fk FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT story_likes_story_id_stories_id_fk FOREIGN KEY (story_id)
        REFERENCES stories (id) ON DELETE CASCADE
);
