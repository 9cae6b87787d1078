//! `verify` against real servers: exit 0 on an exact fixture, exit 1 with the
//! finding named for each kind of drift, JSON for CI, and no writes.

mod common;

use common::*;
use serde_json::Value;
use serde_json::json;

fn seeded() -> TestEnv {
    let env = TestEnv::new();
    env.add_foreign_rows();
    env.run(&["seed", "--quiet"]).expect(0);
    env
}

fn findings(env: &TestEnv) -> Vec<Value> {
    let report = env.run(&["verify", "--json"]).expect(1).json();
    report["findings"].as_array().unwrap().clone()
}

fn first_scene(story: &str) -> String {
    format!(
        "(SELECT s.id FROM scenes s JOIN chapters c ON c.id = s.chapter_id WHERE c.story_id = '{story}' AND c.order_index = 1 AND s.order_index = 1)"
    )
}

#[test]
fn exact_fixture_verifies_clean() {
    let env = seeded();
    let run = env.run(&["verify"]).expect(0);
    assert_eq!(run.stdout().lines().last(), Some("fixture OK"));
    // App activity the fixture does not own is not drift.
    env.sql(&format!(
        "UPDATE stories SET view_count = 4242 WHERE id = '{STORY_1}'"
    ));
    env.sql(&format!(
        "UPDATE scenes SET view_count = 7, last_viewed_at = now() WHERE id = {}",
        first_scene(STORY_1)
    ));
    env.run(&["verify", "--quiet"]).expect(0);
}

#[test]
fn changed_column_is_drift() {
    let env = seeded();
    env.sql(&format!(
        "UPDATE scenes SET title = 'PATCHED' WHERE id = {}",
        first_scene(STORY_2)
    ));
    let f = findings(&env);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["kind"], "drift");
    assert_eq!(f[0]["table"], "scenes");
    assert_eq!(f[0]["column"], "title");
    assert_eq!(f[0]["expected"], "Scene 1: Cache Test");
    assert_eq!(f[0]["actual"], "PATCHED");
    let human = env.run(&["verify"]).expect(1).stdout();
    assert!(
        human.contains("expected \"Scene 1: Cache Test\", found \"PATCHED\""),
        "{human}"
    );
    assert_eq!(human.lines().last(), Some("1 finding"));
    assert_eq!(human.lines().next(), Some("verify"), "a read is no dry run");
    assert!(
        !human.contains("gets no password"),
        "passwords do not matter to verify: {human}"
    );
    let seed = env.run(&["seed", "--dry-run"]).expect(0).stdout();
    assert!(seed.contains("account `writer` gets no password"), "{seed}");
    // JSON counts carry the human report's words, and `ok` says the verdict.
    let report = env.run(&["verify", "--json"]).expect(1).json();
    assert_eq!(report["ok"], false);
    let scenes = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "scenes")
        .unwrap();
    assert_eq!(
        (
            &scenes["missing"],
            &scenes["drifted"],
            &scenes["extra"],
            &scenes["exact"]
        ),
        (&json!(0), &json!(1), &json!(0), &json!(44))
    );
    assert!(scenes.get("insert").is_none(), "{scenes}");
}

/// Long text is compared on the server by its digest (the question stays
/// small); a change anywhere in it is still drift, reported with the text
/// itself, and seed writes the text back byte for byte.
#[test]
fn a_change_anywhere_in_long_text_is_drift_and_seed_restores_it() {
    let env = seeded();
    let scene = first_scene(STORY_3);
    let content =
        |env: &TestEnv| env.sql(&format!("SELECT content FROM scenes WHERE id = {scene}"));
    let before = content(&env);
    assert!(before.len() > 1000, "the prose is long: {}", before.len());
    let middle = before.len() / 2;
    for (change, shown) in [
        // One character in the middle, the same length.
        (
            format!("overlay(content placing 'Q' from {middle} for 1)"),
            "Q",
        ),
        // A character the digest must see as its UTF-8 bytes.
        (
            format!("overlay(content placing 'é' from {middle} for 1)"),
            "é",
        ),
        ("NULL".to_string(), "null"),
    ] {
        env.sql(&format!(
            "UPDATE scenes SET content = {change} WHERE id = {scene}"
        ));
        let f = findings(&env);
        assert_eq!(f.len(), 1, "{change}: {f:?}");
        assert_eq!(
            (&f[0]["kind"], &f[0]["column"]),
            (&json!("drift"), &json!("content")),
            "{change}"
        );
        assert_eq!(
            f[0]["expected"],
            before.as_str(),
            "{change}: the text, not a digest"
        );
        let actual = f[0]["actual"].to_string();
        assert!(actual.contains(shown), "{change}: {actual:.80}");
        env.run(&["seed", "--quiet"]).expect(0);
        assert_eq!(content(&env), before, "{change}: restored");
        env.run(&["verify", "--quiet"]).expect(0);
    }
}

#[test]
fn deleted_row_is_missing() {
    let env = seeded();
    let id = env.sql(&format!("SELECT {}", first_scene(STORY_3)));
    env.sql(&format!("DELETE FROM scenes WHERE id = '{id}'"));
    let f = findings(&env);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (
            f[0]["kind"].as_str(),
            f[0]["table"].as_str(),
            f[0]["id"].as_str()
        ),
        (Some("missing"), Some("scenes"), Some(id.as_str()))
    );
}

#[test]
fn extra_row_hanging_off_the_fixture_is_reported() {
    let env = seeded();
    env.sql(&format!(
        "INSERT INTO chapters (id, title, story_id, author_id, order_index) VALUES ('extraChapter000000001', 'Chapter 6', '{STORY_1}', '{WRITER}', 6)"
    ));
    let f = findings(&env);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (
            f[0]["kind"].as_str(),
            f[0]["table"].as_str(),
            f[0]["id"].as_str()
        ),
        (
            Some("extra"),
            Some("chapters"),
            Some("extraChapter000000001")
        )
    );
}

/// Level 1 of the walk rides in the snapshot's batch; deeper levels are
/// asked one round trip each, and both must find what hangs off the fixture.
#[test]
fn a_fixture_alone_is_read_in_one_round_trip_and_deeper_extras_are_still_found() {
    let env = seeded();
    let trips = |verb: &str| {
        let run = env.run(&[verb, "--json"]);
        run.json()["round_trips"].as_u64().unwrap()
    };
    // The catalog remembered from the last run, confirmed in the batch that
    // reads the snapshot and the walk's first two levels; then the seed's
    // COMMIT or verify's ROLLBACK.
    assert_eq!(trips("seed"), 2);
    assert_eq!(trips("verify"), 2);
    env.sql(&format!(
        "INSERT INTO chapters (id, title, story_id, author_id, order_index) VALUES ('extraChapter000000001', 'Chapter 6', '{STORY_1}', '{WRITER}', 6); \
         INSERT INTO scenes (id, title, chapter_id, order_index) VALUES ('extraScene0000000001', 's', 'extraChapter000000001', 1)"
    ));
    let mut extras: Vec<(String, String)> = findings(&env)
        .iter()
        .map(|f| {
            assert_eq!(f["kind"], "extra", "{f}");
            (
                f["table"].as_str().unwrap().into(),
                f["id"].as_str().unwrap().into(),
            )
        })
        .collect();
    extras.sort();
    assert_eq!(
        extras,
        [
            ("chapters".to_string(), "extraChapter000000001".to_string()),
            ("scenes".to_string(), "extraScene0000000001".to_string())
        ]
    );
    assert!(trips("verify") > 2, "the scene is a level further down");
}

#[test]
fn counter_that_disagrees_with_rows_is_reported() {
    let env = seeded();
    // A like removed behind the counter's back: the stored value is now wrong.
    env.sql(&format!(
        "DELETE FROM post_likes WHERE user_id = '{READER}' AND post_id = (SELECT id FROM community_posts WHERE story_id = '{STORY_1}' ORDER BY id LIMIT 1)"
    ));
    let f = findings(&env);
    let counter: Vec<&Value> = f.iter().filter(|x| x["kind"] == "counter").collect();
    assert_eq!(counter.len(), 1, "{f:?}");
    assert_eq!(counter[0]["column"], "likes");
    assert_eq!(counter[0]["expected"], 1);
    assert_eq!(counter[0]["actual"], 2);
    assert!(
        f.iter()
            .any(|x| x["kind"] == "missing" && x["table"] == "post_likes")
    );
}

#[test]
fn stale_cache_entry_is_reported_and_seed_clears_it() {
    let env = seeded();
    let fresh = format!(
        "{{\"id\":\"{STORY_1}\",\"title\":\"Cache Test Story 1\",\"updatedAt\":\"2026-01-06T09:00:00.000Z\"}}"
    );
    let without = env.run(&["verify", "--json"]).expect(0).json();
    env.redis(&[
        "SET",
        &format!("story:{STORY_1}:public"),
        &fresh,
        "EX",
        "1800",
    ]);
    // A key of another type in a fixture family is present, with no value to compare.
    env.redis(&[
        "HSET",
        &format!("story:{STORY_1}:structure:public"),
        "a",
        "b",
    ]);
    let report = env.run(&["verify", "--json"]).expect(0).json();
    let present = report["cache"]["present"].as_array().unwrap();
    assert_eq!(present.len(), 2, "{present:?}");
    assert_eq!(present[0]["key"], format!("story:{STORY_1}:public"));
    assert!(present[0]["ttl"].as_i64().unwrap() > 1700);
    assert_eq!(
        present[1]["key"],
        format!("story:{STORY_1}:structure:public")
    );
    assert_eq!(present[1]["ttl"], -1);
    // Their TTLs and values come back in one pipelined command.
    assert_eq!(
        report["redis_commands"].as_u64().unwrap(),
        without["redis_commands"].as_u64().unwrap() + 1,
        "{report}"
    );

    let stale = format!(
        "{{\"story\":{{\"id\":\"{STORY_1}\",\"title\":\"Old title\",\"updatedAt\":\"2026-01-06T09:00:00.000Z\"}}}}"
    );
    env.redis(&["SET", &format!("story:{STORY_1}"), &stale]);
    let f = findings(&env);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["kind"], "stale");
    assert_eq!(f[0]["id"], format!("story:{STORY_1}"));
    assert_eq!(f[0]["actual"], "Old title");

    // A restoring seed drops the story's family, the stale entry with it.
    env.sql(&format!(
        "UPDATE stories SET title = 'Changed' WHERE id = '{STORY_1}'"
    ));
    env.run(&["seed", "--quiet"]).expect(0);
    assert!(
        env.redis_keys()
            .iter()
            .all(|k| !k.starts_with(&format!("story:{STORY_1}"))),
        "{:?}",
        env.redis_keys()
    );
    env.run(&["verify", "--quiet"]).expect(0);
}

#[test]
fn verify_writes_nothing() {
    let env = seeded();
    env.sql(&format!(
        "UPDATE stories SET title = 'x' WHERE id = '{STORY_3}'"
    ));
    env.redis(&["SET", &format!("story:{STORY_3}"), "{}"]);
    let db = env.checksums();
    let redis = env.redis_snapshot();
    env.run(&["verify", "--quiet"]).expect(1);
    assert_eq!(env.checksums(), db);
    assert_eq!(env.redis_snapshot(), redis);
}

/// The server compares stored rows with the fixture's byte for byte: under a
/// case-insensitive collation a title that differs only in case is still
/// drift, and a seed restores it.
#[test]
fn a_case_insensitive_collation_does_not_hide_drift() {
    let env = seeded();
    env.sql(
        "CREATE COLLATION IF NOT EXISTS ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false); \
         ALTER TABLE scenes ALTER COLUMN title TYPE varchar COLLATE ci",
    );
    let scene = first_scene(STORY_1);
    env.sql(&format!(
        "UPDATE scenes SET title = upper(title) WHERE id = {scene}"
    ));
    let found = findings(&env);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["kind"], "drift", "{found:?}");
    assert_eq!(found[0]["column"], "title", "{found:?}");
    env.run(&["seed", "--quiet"]).expect(0);
    env.run(&["verify", "--quiet"]).expect(0);
}
