-- Variant 3: a table the tool has never heard of references scenes with
-- NO ACTION; tests fill it after seeding.
CREATE TABLE scene_annotations (
  id text PRIMARY KEY,
  scene_id text NOT NULL REFERENCES scenes (id) ON DELETE NO ACTION,
  body text NOT NULL
);
