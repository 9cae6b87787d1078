//! `teardown` against real servers: it removes the fixture and everything
//! hanging off it, found from live foreign keys (tables it never heard of
//! included), and leaves every other row exactly as it was.

mod common;

use common::*;

/// Rows tests typically leave behind on and around the fixture.
fn add_debris(env: &TestEnv) {
    let scene = env.sql(&format!(
        "SELECT s.id FROM scenes s JOIN chapters c ON c.id = s.chapter_id WHERE c.story_id = '{STORY_1}' ORDER BY c.order_index, s.order_index LIMIT 1"
    ));
    let post = env.sql(&format!(
        "SELECT id FROM community_posts WHERE story_id = '{STORY_1}' ORDER BY id LIMIT 1"
    ));
    env.sql(&format!(
        "INSERT INTO community_posts (id, title, content, story_id, author_id) VALUES ('debrisPost0000000001', 'hi', 'x', '{STORY_1}', 'frgnUser0000000000002');
         INSERT INTO community_replies (id, content, post_id, author_id) VALUES ('debrisReply000000001', 'x', '{post}', 'frgnUser0000000000001');
         INSERT INTO community_replies (id, content, post_id, author_id, parent_reply_id, depth) VALUES ('debrisReply000000002', 'y', '{post}', 'frgnUser0000000000002', 'debrisReply000000001', 1);
         INSERT INTO post_likes (post_id, user_id) VALUES ('{post}', 'frgnUser0000000000001');
         INSERT INTO scene_views (id, scene_id, user_id) VALUES ('debrisView0000000001', '{scene}', 'frgnUser0000000000002');
         INSERT INTO comments (id, content, story_id, scene_id, user_id) VALUES ('debrisComment0000001', 'c', '{STORY_1}', '{scene}', 'frgnUser0000000000002');
         INSERT INTO comment_likes (comment_id, user_id) VALUES ('debrisComment0000001', 'frgnUser0000000000001');
         INSERT INTO reading_history (id, user_id, story_id) VALUES ('debrisRead0000000001', '{READER}', 'frgnStory000000000001');
         INSERT INTO stories (id, title, genre, author_id) VALUES ('debrisStory000000001', 'Made by a test', 'Horror', '{WRITER}');
         INSERT INTO chapters (id, title, story_id, author_id, order_index) VALUES ('debrisChapter0000001', 'c', 'debrisStory000000001', '{WRITER}', 1);
         INSERT INTO scenes (id, title, chapter_id, order_index) VALUES ('debrisScene000000001', 's', 'debrisChapter0000001', 1);
         INSERT INTO ai_interactions (id, user_id, type) VALUES ('debrisAi000000000001', '{READER}', 'chat');
         INSERT INTO user_stats (id, user_id) VALUES ('debrisStats000000001', '{WRITER}');
         INSERT INTO publishing_schedules (id, story_id, created_by, scheduled_for) VALUES ('debrisSchedule000001', 'frgnStory000000000001', '{WRITER}', '2031-01-01');"
    ));
}

#[test]
fn teardown_removes_fixture_and_debris_and_nothing_else() {
    let env = TestEnv::new();
    env.add_foreign_rows();
    let foreign = env.checksums();
    env.run(&["seed", "--quiet"]).expect(0);
    add_debris(&env);

    let real = env.teardown_as_predicted();
    let removed: u64 = real["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["delete"].as_u64().unwrap())
        .sum();
    // 87 fixture rows (85 and the two API keys) + 14 debris rows.
    assert_eq!(removed, 87 + 14);

    assert_eq!(
        env.count("SELECT count(*) FROM stories WHERE title LIKE 'Cache Test Story%'"),
        0
    );
    assert_eq!(
        env.count("SELECT count(*) FROM users WHERE id LIKE 'fx%'"),
        0
    );
    for table in [
        "community_posts",
        "community_replies",
        "scene_views",
        "comments",
        "reading_history",
        "stories",
        "chapters",
        "scenes",
        "ai_interactions",
        "user_stats",
        "publishing_schedules",
    ] {
        assert_eq!(
            env.count(&format!(
                "SELECT count(*) FROM {table} WHERE id LIKE 'debris%'"
            )),
            0,
            "{table}"
        );
    }
    assert_eq!(env.checksums(), foreign, "foreign rows are byte-identical");

    let again = env.run(&["teardown", "--json"]).expect(0).json();
    assert!(
        again["tables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["delete"] == 0),
        "{again}"
    );
}

#[test]
fn tables_the_tool_never_heard_of_are_handled() {
    let env = TestEnv::new();
    env.add_foreign_rows();
    env.sql(
        "CREATE TABLE scene_bookmarks (id text PRIMARY KEY, scene_id text NOT NULL REFERENCES scenes(id) ON DELETE NO ACTION, note text);
         CREATE TABLE user_badges (user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE, badge text NOT NULL);
         INSERT INTO scene_bookmarks VALUES ('frgnBookmark000000001', 'frgnScen0000000000001', 'keep');
         INSERT INTO user_badges VALUES ('frgnUser0000000000001', 'keep');",
    );
    let foreign = env.checksums();
    env.run(&["seed", "--quiet"]).expect(0);
    env.sql(&format!(
        "INSERT INTO scene_bookmarks SELECT 'bm' || substr(md5(id), 1, 19), id, 'ours' FROM scenes WHERE chapter_id IN (SELECT id FROM chapters WHERE story_id = '{STORY_2}');
         INSERT INTO user_badges VALUES ('{WRITER}', 'ours'), ('{READER}', 'ours');"
    ));
    assert_eq!(
        env.count("SELECT count(*) FROM scene_bookmarks WHERE note = 'ours'"),
        15
    );

    // The NO ACTION reference would make a naive delete of scenes fail.
    let report = env.run(&["teardown", "--json"]).expect(0).json();
    let line = |t: &str| {
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["table"] == t)
            .cloned()
    };
    assert_eq!(line("scene_bookmarks").unwrap()["delete"], 15);
    // user_badges has no primary key: its rows are identified by ctid.
    assert_eq!(line("user_badges").unwrap()["delete"], 2);
    assert_eq!(env.checksums(), foreign);
}

#[test]
fn adopted_accounts_and_their_own_data_stay() {
    let env = TestEnv::new();
    env.add_foreign_rows();
    env.sql(
        "INSERT INTO users (id, email, username, name, role) VALUES ('stagingManager0000001', 'manager@fictures.xyz', 'boss', 'Boss', 'manager');
         INSERT INTO stories (id, title, genre, author_id) VALUES ('managersOwnStory00001', 'Not a fixture', 'Romance', 'stagingManager0000001');",
    );
    let dir = tempfile::tempdir().unwrap();
    let seed = canonical_seed().replace(
        "id = \"fxManager0CacheTest01\"\nemail = \"manager@fictures.xyz\"\nusername = \"cache_test_manager\"\nname = \"Cache Test Manager\"\nrole = \"manager\"\npassword_env = \"FIXTURE_MANAGER_PASSWORD\"",
        "adopt_email = \"manager@fictures.xyz\"",
    );
    assert!(seed.contains("adopt_email = \"manager@fictures.xyz\"\n"));
    let path = env.seed_file(dir.path(), "adopt.toml", &seed);
    let path = path.to_str().unwrap();
    let before = env.sql("SELECT u::text FROM users u WHERE id = 'stagingManager0000001'");
    let foreign = env.checksums();

    env.run(&["seed", "--quiet", "--seed-file", path]).expect(0);
    // The adopted manager likes the fixture's posts, under its existing id.
    assert_eq!(
        env.count("SELECT count(*) FROM post_likes WHERE user_id = 'stagingManager0000001'"),
        3
    );
    assert_eq!(
        env.count("SELECT count(*) FROM users WHERE email = 'manager@fictures.xyz'"),
        1
    );
    env.run(&["verify", "--quiet", "--seed-file", path])
        .expect(0);

    env.run(&["teardown", "--quiet", "--seed-file", path])
        .expect(0);
    assert_eq!(
        env.sql("SELECT u::text FROM users u WHERE id = 'stagingManager0000001'"),
        before
    );
    assert_eq!(
        env.count("SELECT count(*) FROM stories WHERE id = 'managersOwnStory00001'"),
        1
    );
    assert_eq!(env.checksums(), foreign);
}

#[test]
fn verify_after_teardown_reports_everything_missing() {
    let env = TestEnv::new();
    env.run(&["seed", "--quiet"]).expect(0);
    env.run(&["teardown", "--quiet"]).expect(0);
    let report = env.run(&["verify", "--json"]).expect(1).json();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 87, "85 rows and the two API keys");
    assert!(findings.iter().all(|f| f["kind"] == "missing"));
}
