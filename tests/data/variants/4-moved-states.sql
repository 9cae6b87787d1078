-- Variant 4: the app's schema three weeks after the suite's date. A scene's
-- public/unlisted state moved from visibility to novel_status (draft/published)
-- beside published_at; chapters lost status and parts lost author_id; chapters
-- and parts hold JSON lists of ids that should point at the story's settings and
-- characters; scenes.setting_id became required text without a foreign key.
ALTER TYPE status RENAME VALUE 'writing' TO 'draft';
ALTER TABLE scenes DROP COLUMN visibility;
ALTER TABLE scenes ADD COLUMN novel_status status NOT NULL DEFAULT 'draft';
ALTER TABLE chapters DROP COLUMN status;
ALTER TABLE parts DROP COLUMN author_id;
ALTER TABLE chapters ADD COLUMN setting_ids json NOT NULL DEFAULT '[]';
ALTER TABLE scenes DROP CONSTRAINT scenes_setting_id_settings_id_fk;
ALTER TABLE scenes ALTER COLUMN setting_id SET NOT NULL;
