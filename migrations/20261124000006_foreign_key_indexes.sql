-- Local copy of the app's schema (drizzle-owned in the real app): indexes on
-- the foreign-key columns the app filters and joins by. Without them every
-- delete of a parent row scans its child tables, which makes removing large
-- amounts of data (scale mode, teardown) quadratic.
CREATE INDEX stories_author_id_idx ON stories (author_id);
CREATE INDEX parts_story_id_idx ON parts (story_id);
CREATE INDEX characters_story_id_idx ON characters (story_id);
CREATE INDEX settings_story_id_idx ON settings (story_id);
CREATE INDEX chapters_story_id_idx ON chapters (story_id);
CREATE INDEX chapters_part_id_idx ON chapters (part_id);
CREATE INDEX chapters_character_id_idx ON chapters (character_id);
CREATE INDEX scenes_chapter_id_idx ON scenes (chapter_id);
CREATE INDEX scenes_setting_id_idx ON scenes (setting_id);
CREATE INDEX community_posts_story_id_idx ON community_posts (story_id);
CREATE INDEX community_posts_author_id_idx ON community_posts (author_id);
CREATE INDEX community_replies_post_id_idx ON community_replies (post_id);
CREATE INDEX community_replies_author_id_idx ON community_replies (author_id);
CREATE INDEX community_replies_parent_reply_id_idx ON community_replies (parent_reply_id);
CREATE INDEX post_likes_user_id_idx ON post_likes (user_id);
CREATE INDEX story_likes_story_id_idx ON story_likes (story_id);
CREATE INDEX scene_views_scene_id_idx ON scene_views (scene_id);
CREATE INDEX comments_story_id_idx ON comments (story_id);
CREATE INDEX comments_chapter_id_idx ON comments (chapter_id);
CREATE INDEX comments_scene_id_idx ON comments (scene_id);
CREATE INDEX reading_history_story_id_idx ON reading_history (story_id);
