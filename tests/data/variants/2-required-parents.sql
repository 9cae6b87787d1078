-- Variant 2: a chapter must belong to a part and a character, a scene to a
-- setting; the status label `writing` became `draft`; chapters lost author_id.
ALTER TABLE chapters ALTER COLUMN part_id SET NOT NULL;
ALTER TABLE chapters ALTER COLUMN character_id SET NOT NULL;
ALTER TABLE scenes ALTER COLUMN setting_id SET NOT NULL;
ALTER TYPE status RENAME VALUE 'writing' TO 'draft';
ALTER TABLE chapters DROP COLUMN author_id;
