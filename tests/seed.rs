//! `seed` against real servers: the canonical fixture, determinism,
//! idempotence, convergence after drift, pruning, cache invalidation,
//! dry runs, concurrency and the statement budget.

mod common;

use common::*;

#[test]
fn fresh_seed_writes_the_exact_fixture() {
    let env = TestEnv::new();
    env.add_foreign_rows();
    let report = env.run(&["seed", "--json"]).expect(0).json();
    assert_eq!(report["command"], "seed");

    for (table, n) in [
        ("stories", 3),
        ("chapters", 15),
        ("scenes", 45),
        ("community_posts", 3),
        ("community_replies", 9),
        ("post_likes", 6),
        ("story_likes", 1),
    ] {
        let fixture = env.count(&format!(
            "SELECT count(*) FROM {table} WHERE {}",
            not_foreign(table)
        ));
        assert_eq!(fixture, n, "{table}");
    }
    assert_eq!(
        env.count("SELECT count(*) FROM users WHERE id LIKE 'fx%'"),
        3
    );

    // Fixed story ids, titles, statuses and owner.
    assert_eq!(
        env.sql("SELECT string_agg(id || ' ' || title || ' ' || status || ' ' || author_id, ',' ORDER BY title) FROM stories WHERE title LIKE 'Cache Test Story%'"),
        format!("{STORY_1} Cache Test Story 1 published {WRITER},{STORY_2} Cache Test Story 2 writing {WRITER},{STORY_3} Cache Test Story 3 writing {WRITER}")
    );
    // Every story: chapters 1..5, 1-3 published with published_at, 4-5 writing without.
    for story in [STORY_1, STORY_2, STORY_3] {
        assert_eq!(
            env.sql(&format!("SELECT string_agg(order_index || ':' || status || ':' || (published_at IS NOT NULL), ',' ORDER BY order_index) FROM chapters WHERE story_id = '{story}'")),
            "1:published:true,2:published:true,3:published:true,4:writing:false,5:writing:false"
        );
        // Every chapter: scenes 1..3, the first public with published_at, the rest unlisted.
        assert_eq!(
            env.sql(&format!("SELECT string_agg(DISTINCT x, ';') FROM (SELECT c.id, string_agg(s.order_index || ':' || s.visibility || ':' || (s.published_at IS NOT NULL), ',' ORDER BY s.order_index) x FROM chapters c JOIN scenes s ON s.chapter_id = c.id WHERE c.story_id = '{story}' GROUP BY c.id) t")),
            "1:public:true,2:unlisted:false,3:unlisted:false"
        );
    }
    // Ids are valid nanoids; scene bodies are realistic prose.
    assert_eq!(
        env.count("SELECT count(*) FROM scenes WHERE id !~ '^[A-Za-z0-9_-]{21}$'"),
        0
    );
    assert_eq!(
        env.count("SELECT count(*) FROM chapters WHERE id !~ '^[A-Za-z0-9_-]{21}$'"),
        0
    );
    assert_eq!(
        env.count("SELECT count(*) FROM scenes s JOIN chapters c ON c.id = s.chapter_id WHERE c.story_id LIKE '%' AND array_length(regexp_split_to_array(s.content, '\\s+'), 1) < 250 AND s.id NOT LIKE 'frgn%'"),
        0
    );
    // Community: only on the published story, with a nested reply and true counters.
    assert_eq!(
        env.count(&format!(
            "SELECT count(DISTINCT story_id) FROM community_posts WHERE story_id = '{STORY_1}'"
        )),
        1
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM community_posts WHERE story_id IN ('{STORY_2}', '{STORY_3}')"
        )),
        0
    );
    assert_eq!(env.count("SELECT count(*) FROM community_replies WHERE parent_reply_id IS NOT NULL AND depth = 1 AND id NOT LIKE 'frgn%'"), 3);
    assert_eq!(
        env.count("SELECT count(*) FROM community_posts p WHERE p.id NOT LIKE 'frgn%' AND (p.likes <> (SELECT count(*) FROM post_likes l WHERE l.post_id = p.id) OR p.replies <> (SELECT count(*) FROM community_replies r WHERE r.post_id = p.id))"),
        0
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM story_likes WHERE story_id = '{STORY_1}' AND user_id = '{READER}'"
        )),
        1
    );
}

fn not_foreign(table: &str) -> String {
    match table {
        "post_likes" => "post_id NOT LIKE 'frgn%'".into(),
        "story_likes" => "story_id NOT LIKE 'frgn%'".into(),
        _ => "id NOT LIKE 'frgn%'".into(),
    }
}

#[test]
fn content_is_identical_across_fresh_databases() {
    let a = TestEnv::new();
    let b = TestEnv::new();
    a.run(&["seed", "--quiet"]).expect(0);
    b.run(&["seed", "--quiet"]).expect(0);
    assert_eq!(a.checksums(), b.checksums());
    // Not vacuous: the scenes table really holds data.
    assert!(a.count("SELECT sum(length(content)) FROM scenes") > 45 * 1000);
}

#[test]
fn second_seed_changes_nothing_and_writes_nothing() {
    let env = TestEnv::new();
    env.run(&["seed", "--quiet"]).expect(0);
    let before = env.sql("SELECT string_agg(xmin::text, ',' ORDER BY id) FROM scenes");
    let checksum = env.checksums();
    let report = env.run(&["seed", "--json"]).expect(0).json();
    for t in report["tables"].as_array().unwrap() {
        assert_eq!(
            (
                t["insert"].as_u64(),
                t["update"].as_u64(),
                t["delete"].as_u64()
            ),
            (Some(0), Some(0), Some(0)),
            "{t}"
        );
    }
    // No row was rewritten: xmin would change on any UPDATE, even to equal values.
    assert_eq!(
        env.sql("SELECT string_agg(xmin::text, ',' ORDER BY id) FROM scenes"),
        before
    );
    assert_eq!(env.checksums(), checksum);
}

#[test]
fn seed_restores_drift_and_prune_removes_extras() {
    let env = TestEnv::new();
    env.add_foreign_rows();
    env.run(&["seed", "--quiet"]).expect(0);
    let canonical = env.checksums();
    let scene = env.sql(&format!(
        "SELECT s.id FROM scenes s JOIN chapters c ON c.id = s.chapter_id WHERE c.story_id = '{STORY_1}' AND c.order_index = 2 AND s.order_index = 2"
    ));
    let deleted = env.sql(&format!(
        "SELECT s.id FROM scenes s JOIN chapters c ON c.id = s.chapter_id WHERE c.story_id = '{STORY_2}' AND c.order_index = 5 AND s.order_index = 3"
    ));
    env.sql(&format!(
        "UPDATE scenes SET title = 'Changed by a test', updated_at = now() WHERE id = '{scene}'"
    ));
    env.sql(&format!("DELETE FROM scenes WHERE id = '{deleted}'"));
    env.sql(&format!(
        "INSERT INTO community_posts (id, title, content, story_id, author_id) VALUES ('testPost000000000001', 'From a test', 'x', '{STORY_1}', '{READER}')"
    ));

    let report = env.run(&["seed", "--json"]).expect(0).json();
    let scenes = table_line(&report, "scenes");
    assert_eq!(
        (scenes["insert"].as_u64(), scenes["update"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        env.sql(&format!("SELECT title FROM scenes WHERE id = '{scene}'")),
        "Scene 5: Cache Test",
        "scenes are numbered across the story: chapter 2 holds 4 to 6"
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM scenes WHERE id = '{deleted}'"
        )),
        1
    );
    // Without --prune the test's post stays.
    assert_eq!(
        env.count("SELECT count(*) FROM community_posts WHERE id = 'testPost000000000001'"),
        1
    );

    env.run(&["seed", "--prune", "--quiet"]).expect(0);
    assert_eq!(
        env.count("SELECT count(*) FROM community_posts WHERE id = 'testPost000000000001'"),
        0
    );
    // Exactly canonical again, foreign rows included.
    assert_eq!(env.checksums(), canonical);
}

fn table_line<'a>(report: &'a serde_json::Value, table: &str) -> &'a serde_json::Value {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .unwrap_or_else(|| panic!("no line for {table} in {report}"))
}

/// Sets keys of every cache family for the fixture, and keys that are not
/// ours, in `target`; `ids` is a seeded database to look the derived ids up in.
fn fill_cache(ids: &TestEnv, target: &TestEnv) -> (Vec<String>, Vec<String>) {
    let env = ids;
    let chapter = env.sql(&format!(
        "SELECT id FROM chapters WHERE story_id = '{STORY_1}' AND order_index = 1"
    ));
    let scene = env.sql(&format!(
        "SELECT id FROM scenes WHERE chapter_id = '{chapter}' AND order_index = 1"
    ));
    let ours: Vec<String> = [
        format!("story:{STORY_1}"),
        format!("story:{STORY_1}:public"),
        format!("story:{STORY_1}:structure:scenes:true:user:{WRITER}"),
        format!("story:read:{STORY_1}"),
        format!("story:{STORY_2}:chapters:public"),
        format!("chapter:{chapter}"),
        format!("chapter:{chapter}:scenes:public"),
        format!("chapter:scenes:{chapter}"),
        format!("scene:{scene}"),
        format!("scene:{scene}:panels:limit:5:public"),
        format!("user:{WRITER}"),
        format!("user:{WRITER}:stories"),
        format!("user:{WRITER}:stories:with-first-chapter"),
        format!("community:story:{STORY_1}:posts:public"),
        "community:stories:all".into(),
        "community:stories:all:optimized".into(),
        format!("comments:story:{STORY_1}:public"),
        format!("comments:chapter:{chapter}"),
        format!("comments:scene:{scene}:public"),
        "stories:published".into(),
        format!("fictures:studio:stories:user:{WRITER}"),
        format!("fictures:studio:story:{STORY_3}:x"),
        format!("fictures:cache-test:story:{STORY_1}:data"),
    ]
    .into();
    let others: Vec<String> = [
        "story:frgnStory000000000001",
        "story:frgnStory000000000001:public",
        "user:frgnUser0000000000001:stories",
        "chapter:frgnChap0000000000001",
        "session:abc",
        "ratelimit:1.2.3.4",
        "community:story:frgnStory000000000001:public",
    ]
    .map(String::from)
    .into();
    for k in ours.iter().chain(&others) {
        target.redis(&["SET", k, "{}", "EX", "1800"]);
    }
    (ours, others)
}

#[test]
fn seed_drops_exactly_the_fixture_cache_keys() {
    let ids = TestEnv::new();
    ids.run(&["seed", "--quiet", "--no-cache"]).expect(0);
    let env = TestEnv::new();
    env.add_foreign_rows();
    let (ours, others) = fill_cache(&ids, &env);
    let report = env.run(&["seed", "--json"]).expect(0).json();
    assert_eq!(report["cache"]["removed"].as_u64(), Some(ours.len() as u64));
    assert_eq!(env.redis_keys(), sorted(others));
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn a_drifted_scene_drops_only_its_story_tree_keys() {
    let env = TestEnv::new();
    env.run(&["seed", "--quiet"]).expect(0);
    let (ours, others) = fill_cache(&env, &env);
    env.sql(&format!(
        "UPDATE scenes SET title = 'x' WHERE chapter_id IN (SELECT id FROM chapters WHERE story_id = '{STORY_1}' AND order_index = 1) AND order_index = 1"
    ));
    env.run(&["seed", "--quiet"]).expect(0);
    let left = env.redis_keys();
    // Story 1's families, its author's lists and the global lists went.
    for k in &ours {
        let about_story_1_tree = !k.contains(STORY_2) && !k.contains(STORY_3);
        assert_eq!(!left.contains(k), about_story_1_tree, "{k}");
    }
    for k in &others {
        assert!(left.contains(k), "{k} must stay");
    }
}

#[test]
fn dry_run_leaves_postgres_and_redis_untouched() {
    let env = TestEnv::new();
    env.add_foreign_rows();
    env.redis(&["SET", &format!("story:{STORY_1}"), "{}"]);
    env.redis(&["SET", "session:abc", "1"]);
    let db = env.checksums();
    let redis = env.redis_snapshot();
    let report = env.run(&["seed", "--dry-run", "--json"]).expect(0).json();
    assert_eq!(table_line(&report, "scenes")["insert"].as_u64(), Some(45));
    assert_eq!(
        report["cache"]["keys"],
        serde_json::json!([format!("story:{STORY_1}")])
    );
    assert_eq!(env.checksums(), db);
    assert_eq!(env.redis_snapshot(), redis);

    env.run(&["seed", "--quiet"]).expect(0);
    env.sql(&format!(
        "UPDATE stories SET title = 'x' WHERE id = '{STORY_2}'"
    ));
    let db = env.checksums();
    env.run(&["seed", "--dry-run", "--prune", "--quiet"])
        .expect(0);
    env.run(&["teardown", "--dry-run", "--quiet"]).expect(0);
    assert_eq!(env.checksums(), db);
    assert_eq!(
        env.redis_snapshot(),
        vec![("session:abc".to_string(), "1".to_string())]
    );
}

#[test]
fn concurrent_seeds_both_succeed_and_converge() {
    let env = TestEnv::new();
    let runs: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| s.spawn(|| env.run(&["seed", "--quiet"])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in runs {
        r.expect(0);
    }
    env.run(&["verify", "--quiet"]).expect(0);
    assert_eq!(env.count("SELECT count(*) FROM scenes"), 45);
}

#[test]
fn statement_count_does_not_grow_with_scenes() {
    let env_small = TestEnv::new();
    let env_large = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let large = canonical_seed()
        .replace("scenes_per_chapter = 3", "scenes_per_chapter = 12")
        .replace("chapters = 5", "chapters = 9");
    let path = env_large.seed_file(dir.path(), "large.toml", &large);
    let small = env_small.run(&["seed", "--json"]).expect(0).json();
    let big = env_large
        .run(&["seed", "--json", "--seed-file", path.to_str().unwrap()])
        .expect(0)
        .json();
    assert_eq!(
        table_line(&big, "scenes")["insert"].as_u64(),
        Some(3 * 9 * 12)
    );
    assert_eq!(env_large.count("SELECT count(*) FROM scenes"), 3 * 9 * 12);
    assert_eq!(small["statements"], big["statements"]);
    assert_eq!(small["round_trips"], big["round_trips"]);
    assert!(
        small["statements"].as_u64().unwrap() <= 20,
        "{}",
        small["statements"]
    );
}

#[test]
fn verbose_shows_each_step_with_its_time_and_very_verbose_the_sql() {
    let env = TestEnv::new();
    let run = env.run(&["seed", "-v"]).expect(0);
    let stderr = run.stderr();
    for step in [
        "connect:", "catalog:", "fixture:", "state:", "plan:", "apply:", "cache:",
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(step) && l.ends_with(" ms")),
            "{step} not in:\n{stderr}"
        );
    }
    assert!(!stderr.contains("SELECT"), "-v shows no SQL:\n{stderr}");
    let run = env.run(&["seed", "-vv"]).expect(0);
    assert!(run.stderr().contains("SELECT"), "{}", run.stderr());
    // The counts agree in number.
    let run = env.run(&["migrate", "--dry-run"]).expect(0);
    assert!(
        run.stdout().contains("every migration is applied"),
        "{}",
        run.stdout()
    );
}
