-- Rows that are not the fixture's, in every table the migrations create.
-- Tests load them before running the tool and prove it never changes them.
INSERT INTO users (id, email, username, name, role) VALUES
  ('frgnUser0000000000001', 'alice@example.com', 'alice', 'Alice', 'writer'),
  ('frgnUser0000000000002', 'bob@example.com', 'bob', 'Bob', 'reader');
INSERT INTO api_keys (id, user_id, key_hash, key_prefix, scopes) VALUES
  ('frgnKey00000000000001', 'frgnUser0000000000001', repeat('a', 64), 'fic_aaaaaaaaaaaa', '["stories:read"]');
INSERT INTO stories (id, title, genre, status, author_id, view_count) VALUES
  ('frgnStory000000000001', 'Alice in Production', 'Mystery', 'published', 'frgnUser0000000000001', 12);
INSERT INTO characters (id, story_id, name) VALUES ('frgnChar0000000000001', 'frgnStory000000000001', 'Holmes');
INSERT INTO settings (id, story_id, name) VALUES ('frgnSett0000000000001', 'frgnStory000000000001', 'Baker Street');
INSERT INTO parts (id, title, story_id, author_id, order_index) VALUES
  ('frgnPart0000000000001', 'Part One', 'frgnStory000000000001', 'frgnUser0000000000001', 1);
INSERT INTO chapters (id, title, story_id, part_id, author_id, order_index, status, character_id) VALUES
  ('frgnChap0000000000001', 'A Study', 'frgnStory000000000001', 'frgnPart0000000000001', 'frgnUser0000000000001', 1, 'published', 'frgnChar0000000000001');
INSERT INTO scenes (id, title, content, chapter_id, order_index, setting_id, visibility, published_by) VALUES
  ('frgnScen0000000000001', 'Opening', 'It was foggy.', 'frgnChap0000000000001', 1, 'frgnSett0000000000001', 'public', 'frgnUser0000000000001');
INSERT INTO community_posts (id, title, content, story_id, author_id, likes, replies) VALUES
  ('frgnPost0000000000001', 'Thoughts?', 'Loved it.', 'frgnStory000000000001', 'frgnUser0000000000002', 1, 2);
INSERT INTO community_replies (id, content, post_id, author_id, parent_reply_id, depth) VALUES
  ('frgnRepl0000000000001', 'Same!', 'frgnPost0000000000001', 'frgnUser0000000000001', NULL, 0),
  ('frgnRepl0000000000002', 'Agreed.', 'frgnPost0000000000001', 'frgnUser0000000000002', 'frgnRepl0000000000001', 1);
INSERT INTO post_likes (post_id, user_id) VALUES ('frgnPost0000000000001', 'frgnUser0000000000001');
INSERT INTO story_likes (user_id, story_id) VALUES ('frgnUser0000000000002', 'frgnStory000000000001');
INSERT INTO scene_views (id, scene_id, user_id, session_id) VALUES
  ('frgnView0000000000001', 'frgnScen0000000000001', 'frgnUser0000000000002', 'sess-1');
INSERT INTO comments (id, content, story_id, chapter_id, scene_id, user_id) VALUES
  ('frgnComm0000000000001', 'Nice scene', 'frgnStory000000000001', 'frgnChap0000000000001', 'frgnScen0000000000001', 'frgnUser0000000000002');
INSERT INTO comment_likes (comment_id, user_id) VALUES ('frgnComm0000000000001', 'frgnUser0000000000001');
INSERT INTO reading_history (id, user_id, story_id, chapter_id) VALUES
  ('frgnRead0000000000001', 'frgnUser0000000000002', 'frgnStory000000000001', 'frgnChap0000000000001');
INSERT INTO ai_interactions (id, user_id, story_id, type, prompt) VALUES
  ('frgnAi000000000000001', 'frgnUser0000000000001', 'frgnStory000000000001', 'summary', 'Summarise');
INSERT INTO user_stats (id, user_id, stories_written) VALUES ('frgnStat0000000000001', 'frgnUser0000000000001', 1);
INSERT INTO publishing_schedules (id, story_id, chapter_id, created_by, scheduled_for) VALUES
  ('frgnSche0000000000001', 'frgnStory000000000001', 'frgnChap0000000000001', 'frgnUser0000000000001', '2030-01-01 00:00:00');
