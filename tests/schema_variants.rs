//! Schema adaptivity: on each schema variant (SQL in tests/data/variants),
//! `doctor`, `seed`, `verify` and `teardown` succeed with at most a seed-file
//! change, and `doctor` names what cannot fit before anything is written.

mod common;

use common::*;

fn variant(env: &TestEnv, name: &str) {
    let sql = std::fs::read_to_string(repo().join("tests/data/variants").join(name)).unwrap();
    env.sql(&sql);
}

fn seed_file(name: &str) -> String {
    repo()
        .join("tests/data/variants")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

/// doctor → seed → seed (no-op) → verify → teardown, all green, foreign rows untouched.
fn full_cycle(env: &TestEnv, extra: &[&str]) -> serde_json::Value {
    let args = |cmd: &str| -> Vec<String> {
        let mut v = vec![cmd.to_string()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |cmd: &str, more: &[&str]| {
        let mut a = args(cmd);
        a.extend(more.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        env.run(&a)
    };
    let foreign = env.checksums();
    let doctor = run("doctor", &["--json"]).expect(0).json();
    run("seed", &["--quiet"]).expect(0);
    let again = run("seed", &["--json"]).expect(0).json();
    assert!(
        again["tables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["insert"] == 0 && t["update"] == 0),
        "inferred values are deterministic, so a re-seed is a no-op: {again}"
    );
    run("verify", &["--quiet"]).expect(0);
    run("teardown", &["--quiet"]).expect(0);
    assert_eq!(env.checksums(), foreign);
    doctor
}

#[test]
fn required_columns_of_every_type_are_inferred() {
    let env = TestEnv::new();
    // Columns added NOT NULL without defaults need empty tables, so this
    // variant has no foreign rows; full_cycle still proves the tables end empty.
    variant(&env, "1-required-columns.sql");
    let doctor = full_cycle(&env, &[]);
    let stories = doctor["doctor"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "stories")
        .unwrap();
    let inferred: Vec<&str> = stories["inferred"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(inferred.len(), 12, "{inferred:?}");
    assert!(
        inferred.contains(&"audience_tone: first label `hopeful`"),
        "{inferred:?}"
    );

    // What the database held after the seed: deterministic, typed values.
    env.run(&["seed", "--quiet"]).expect(0);
    let row = env.sql(&format!(
        "SELECT word_goal, budget, is_featured, audience_tone, meta::text, meta_b::text, launch_at, launch_on, labels, length(age_rating) <= 4, ref_uuid::text ~ '^[0-9a-f-]{{36}}$' FROM scenes WHERE chapter_id IN (SELECT id FROM chapters WHERE story_id = '{STORY_1}') LIMIT 1"
    ));
    assert_eq!(
        row,
        "0|0.00|f|hopeful|[]|[]|2026-01-05 09:00:00|2026-01-05|{}|t|t"
    );
}

#[test]
fn required_parents_renamed_labels_and_dropped_columns_need_only_a_seed_file() {
    let env = TestEnv::new();
    variant(&env, "2-required-parents.sql");
    let file = seed_file("2-required-parents.toml");

    // The canonical file cannot fit; doctor says exactly why and seed writes nothing.
    let before = env.checksums();
    let doctor = env.run(&["doctor", "--json"]).expect(5).json();
    let problems: Vec<String> = doctor["doctor"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    for needle in [
        "`chapters.part_id` is a required reference to `parts`",
        "`chapters.character_id`",
        "`scenes.setting_id`",
        "but the fixture writes `writing`",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "{needle} not in {problems:?}"
        );
    }
    let seed = env.run(&["seed"]).expect(5);
    assert!(
        seed.stderr().contains("run `fictures-seed doctor`"),
        "{}",
        seed.stderr()
    );
    assert_eq!(env.checksums(), before);

    // The adapted seed file fits.
    let doctor = full_cycle(&env, &["--seed-file", &file]);
    let chapters = doctor["doctor"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "chapters")
        .unwrap();
    assert_eq!(chapters["skipped"], serde_json::json!(["author_id"]));

    env.run(&["seed", "--quiet", "--seed-file", &file])
        .expect(0);
    assert_eq!(env.count("SELECT count(*) FROM parts"), 3);
    assert_eq!(
        env.count(&format!(
            "SELECT count(DISTINCT part_id) FROM chapters WHERE story_id = '{STORY_2}'"
        )),
        1
    );
    assert_eq!(
        env.sql(&format!(
            "SELECT status FROM stories WHERE id = '{STORY_2}'"
        )),
        "draft"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM scenes WHERE setting_id IS NULL"),
        0
    );
}

#[test]
fn unknown_dependent_table_is_cleared_by_teardown() {
    let env = TestEnv::new();
    variant(&env, "3-unknown-dependent.sql");
    env.add_foreign_rows();
    env.sql("INSERT INTO scene_annotations VALUES ('frgnNote0000000000001', 'frgnScen0000000000001', 'keep')");
    let foreign = env.checksums();
    let doctor = env.run(&["doctor", "--json"]).expect(0).json();
    assert!(
        doctor["doctor"]["dependents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "scene_annotations"),
        "{doctor}"
    );
    env.run(&["seed", "--quiet"]).expect(0);
    env.sql("INSERT INTO scene_annotations SELECT 'n' || substr(md5(id), 1, 20), id, 'by a test' FROM scenes WHERE id NOT LIKE 'frgn%'");
    let report = env.run(&["teardown", "--json"]).expect(0).json();
    let line = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "scene_annotations")
        .unwrap()
        .clone();
    assert_eq!(line["delete"], 45);
    assert_eq!(env.checksums(), foreign);
}

#[test]
fn doctor_names_a_missing_table_and_seed_writes_nothing() {
    let env = TestEnv::new();
    env.sql("DROP TABLE story_likes");
    let before = env.checksums();
    let run = env.run(&["doctor"]).expect(5);
    assert!(
        run.stdout().contains("table `story_likes` is missing"),
        "{}",
        run.stdout()
    );
    let seed = env.run(&["seed"]).expect(5);
    assert!(
        seed.stderr().contains("table `story_likes` is missing"),
        "{}",
        seed.stderr()
    );
    assert_eq!(env.checksums(), before);
}

#[test]
fn doctor_names_an_uninferable_column() {
    let env = TestEnv::new();
    env.sql("ALTER TABLE scenes ADD COLUMN geo point NOT NULL");
    let run = env.run(&["doctor"]).expect(5);
    assert!(
        run.stdout().contains("`scenes.geo` (point)"),
        "{}",
        run.stdout()
    );
    env.run(&["seed", "--quiet"]).expect(5);
    assert_eq!(env.count("SELECT count(*) FROM stories"), 0);
}

#[test]
fn moved_states_and_id_lists_follow_the_seed_file() {
    let env = TestEnv::new();
    variant(&env, "4-moved-states.sql");
    let file = seed_file("4-moved-states.toml");

    // The canonical file names every edit variant 4 needs, and writes nothing.
    let before = env.checksums();
    let doctor = env.run(&["doctor", "--json"]).expect(5).json();
    let problems = doctor["doctor"]["problems"].to_string();
    for needle in [
        "[labels.status]",
        "[states.scene] column",
        "`scenes.visibility`",
        "[states.chapter] column",
        "`chapters.status`",
        "`scenes.setting_id` is required and its name says it holds a `settings` id",
    ] {
        assert!(problems.contains(needle), "{needle} not in {problems}");
    }
    let hints = doctor["doctor"]["tables"].to_string();
    assert!(
        hints.contains("chapters.setting_ids looks like a list of `settings` ids"),
        "{hints}"
    );
    env.run(&["seed"]).expect(5);
    assert_eq!(env.checksums(), before);

    // The edited file fits, and its states land in their new columns.
    let doctor = full_cycle(&env, &["--seed-file", &file]);
    assert!(
        !doctor["doctor"]["tables"]
            .to_string()
            .contains("setting_ids looks like"),
        "the id list is filled now: {doctor}"
    );
    env.run(&["seed", "--quiet", "--seed-file", &file])
        .expect(0);
    let scenes = env.sql(&format!(
        "SELECT string_agg(s.novel_status || ':' || (s.published_at IS NOT NULL), ',' ORDER BY s.order_index) \
         FROM scenes s JOIN chapters c ON c.id = s.chapter_id WHERE c.story_id = '{STORY_1}' AND c.order_index = 2"
    ));
    assert_eq!(scenes, "published:true,draft:false,draft:false");
    // Every scene and chapter points at its own story's settings, every part at its characters.
    assert_eq!(
        env.count(
            "SELECT count(*) FROM scenes s JOIN chapters c ON c.id = s.chapter_id \
             JOIN settings t ON t.id = s.setting_id AND t.story_id = c.story_id"
        ),
        45
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM chapters c, json_array_elements_text(c.setting_ids) e(id) \
             JOIN settings t ON t.id = e.id WHERE t.story_id = c.story_id"
        ),
        30
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM parts p, json_array_elements_text(p.character_arcs) e(id) \
             JOIN characters t ON t.id = e.id WHERE t.story_id = p.story_id"
        ),
        6
    );
    // A state moved by hand is drift that seed restores.
    env.sql(&format!(
        "UPDATE scenes SET novel_status = 'draft' WHERE novel_status = 'published' AND chapter_id IN (SELECT id FROM chapters WHERE story_id = '{STORY_2}')"
    ));
    let verify = env
        .run(&["verify", "--json", "--seed-file", &file])
        .expect(1)
        .json();
    assert!(verify.to_string().contains("novel_status"), "{verify}");
    env.run(&["seed", "--quiet", "--seed-file", &file])
        .expect(0);
    env.run(&["verify", "--quiet", "--seed-file", &file])
        .expect(0);
}

#[test]
fn doctor_fails_where_verify_and_teardown_would() {
    let env = TestEnv::new();
    env.run(&["seed", "--quiet"]).expect(0);
    // A role that can read every table but one dependent: the fixture fits,
    // yet verify's and teardown's walk must read that table.
    let role = format!("doctor_reader_{}", env.name);
    env.sql(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'pw'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}; REVOKE SELECT ON scene_views FROM {role}"
    ));
    let mut url = url::Url::parse(&env.db_url).unwrap();
    url.set_username(&role).unwrap();
    url.set_password(Some("pw")).unwrap();
    let url = url.to_string();
    let verify = env.run(&["verify", "--database-url", &url]).expect(8);
    let doctor = env.run(&["doctor", "--database-url", &url]).expect(8);
    assert!(
        doctor
            .stdout()
            .contains("the reads and statements of verify, seed and teardown fail here"),
        "{}",
        doctor.stdout()
    );
    assert!(!doctor.stdout().contains("seed would succeed"));
    assert!(
        verify.stderr().contains("scene_views"),
        "{}",
        verify.stderr()
    );
    assert!(
        doctor.stdout().contains("scene_views"),
        "{}",
        doctor.stdout()
    );

    // Planning seed's and teardown's writes needs the rights to make them.
    env.sql(&format!("GRANT SELECT ON scene_views TO {role}"));
    let doctor = env.run(&["doctor", "--database-url", &url]).expect(8);
    assert!(
        doctor.stdout().contains("may not write here"),
        "{}",
        doctor.stdout()
    );
    // With every right a seeding role has, doctor passes and says what it read.
    env.sql(&format!(
        "GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}"
    ));
    let doctor = env
        .run(&["doctor", "--json", "--database-url", &url])
        .expect(0)
        .json();
    let rehearsal = &doctor["doctor"]["rehearsal"];
    assert_eq!(rehearsal["extra_rows"], 0, "{doctor}");
    assert_eq!(rehearsal["teardown_rows"], 87, "{doctor}");
    assert!(
        rehearsal["statements_planned"].as_u64().unwrap() >= 8,
        "{doctor}"
    );
    env.sql(&format!("DROP OWNED BY {role}; DROP ROLE {role}"));
}

/// A NOT NULL domain with a default on columns the fixture does not write:
/// the rows' desired values are typed column by column, so the domain is
/// never asked to hold the NULL of a column the fixture leaves alone.
#[test]
fn a_not_null_domain_on_a_column_the_fixture_leaves_alone() {
    let env = TestEnv::new();
    env.script(
        "CREATE DOMAIN mood_text AS text NOT NULL DEFAULT 'calm';
         ALTER TABLE scenes ADD COLUMN mood mood_text;
         ALTER TABLE users ADD COLUMN mood mood_text;",
    );
    full_cycle(&env, &[]);
    env.run(&["seed", "--quiet"]).expect(0);
    // A drifted row is restored by the same typed upsert.
    env.sql(&format!(
        "UPDATE scenes SET title = 'changed' WHERE chapter_id IN (SELECT id FROM chapters WHERE story_id = '{STORY_1}')"
    ));
    env.run(&["seed", "--quiet"]).expect(0);
    env.run(&["verify", "--quiet"]).expect(0);
    assert_eq!(
        env.sql("SELECT count(*), count(*) FILTER (WHERE mood = 'calm') FROM scenes"),
        "45|45"
    );
}
