-- LOCAL COPY of the Fictures app's schema, for tests and local development only.
-- In the real app the schema is owned by the app (drizzle-kit pushes it); against a
-- real app database these migrations are never run. Source of truth:
-- the schema sheet (fictures-schema.md). Keep in step with it.
--
-- Enum types. Labels and their order are exactly as listed in the sheet.

CREATE TYPE user_role AS ENUM ('reader', 'writer', 'manager');
CREATE TYPE status AS ENUM ('writing', 'published');
CREATE TYPE genre AS ENUM (
    'Fantasy', 'Science Fiction', 'Romance', 'Mystery', 'Thriller',
    'Detective', 'Adventure', 'Horror', 'Historical Fiction', 'Contemporary'
);
CREATE TYPE tone AS ENUM ('hopeful', 'dark', 'bittersweet', 'satirical');
CREATE TYPE visibility AS ENUM ('private', 'unlisted', 'public');
CREATE TYPE content_type AS ENUM ('markdown', 'html', 'plain');
CREATE TYPE moderation_status AS ENUM ('approved', 'pending', 'flagged', 'rejected');

-- Not listed with labels in the sheet (it only says chapters have arc_position,
-- adversity_type, virtue_type enum columns and scenes a comic_status defaulting
-- to 'none'); these labels are app-like local choices.
CREATE TYPE arc_position AS ENUM ('beginning', 'middle', 'climax', 'resolution');
CREATE TYPE adversity_type AS ENUM ('internal', 'external', 'both');
CREATE TYPE virtue_type AS ENUM ('courage', 'compassion', 'integrity', 'sacrifice', 'loyalty', 'wisdom');
CREATE TYPE comic_status AS ENUM ('none', 'draft', 'published');
