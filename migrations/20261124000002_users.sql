-- LOCAL COPY of the Fictures app's schema, for tests and local development only.
-- In the real app the schema is owned by the app (drizzle-kit pushes it); against a
-- real app database these migrations are never run. Source of truth:
-- the schema sheet (fictures-schema.md). Keep in step with it.
--
-- users and api_keys.

CREATE TABLE users (
    id             text PRIMARY KEY,
    -- NOT unique in the real database: look accounts up by email, never ON CONFLICT (email).
    email          text NOT NULL,
    name           text,
    email_verified timestamp without time zone,
    image          text,
    username       varchar(50),
    password       varchar(255),          -- bcrypt hash
    bio            text,
    role           user_role NOT NULL DEFAULT 'reader',
    created_at     timestamp without time zone DEFAULT now(),
    updated_at     timestamp without time zone DEFAULT now(),
    CONSTRAINT users_username_unique UNIQUE (username)
);

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    user_id      text NOT NULL,
    name         varchar(255) DEFAULT 'API Key',
    key_hash     varchar(64) NOT NULL,
    key_prefix   varchar(16) NOT NULL,
    scopes       json NOT NULL DEFAULT '[]'::json,
    last_used_at timestamp without time zone,
    expires_at   timestamp without time zone,
    is_active    boolean NOT NULL DEFAULT true,
    created_at   timestamp without time zone DEFAULT now(),
    updated_at   timestamp without time zone DEFAULT now(),
    CONSTRAINT api_keys_key_hash_unique UNIQUE (key_hash),
    CONSTRAINT api_keys_user_id_users_id_fk FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE
);
