//! Scale mode against real servers: load-test stories streamed with COPY,
//! checked by counts and a content checksum, exact on re-seed, invisible to
//! the canonical fixture's checks, and removed by teardown.

mod common;

use common::*;

const LOAD: &str = "fxLoadTestAccount0001";

fn scale_rows(env: &TestEnv, table: &str) -> i64 {
    let filter = match table {
        "stories" => format!("author_id = '{LOAD}'"),
        "chapters" => format!("story_id IN (SELECT id FROM stories WHERE author_id = '{LOAD}')"),
        _ => format!(
            "chapter_id IN (SELECT c.id FROM chapters c JOIN stories s ON s.id = c.story_id WHERE s.author_id = '{LOAD}')"
        ),
    };
    env.count(&format!("SELECT count(*) FROM {table} WHERE {filter}"))
}

#[test]
fn scale_data_is_streamed_checked_and_removed() {
    let env = TestEnv::new();
    env.add_foreign_rows();
    let foreign = env.checksums();
    let first = env
        .run(&["seed", "--scale", "6", "--json"])
        .expect(0)
        .json();
    assert_eq!(first["scale"]["written"], true);
    assert_eq!(scale_rows(&env, "stories"), 6);
    assert_eq!(scale_rows(&env, "chapters"), 30);
    assert_eq!(scale_rows(&env, "scenes"), 90);
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM community_posts WHERE author_id = '{LOAD}'"
        )),
        18
    );
    // Off the cache test page, and the canonical stories are untouched by it.
    assert_eq!(
        env.count("SELECT count(*) FROM stories WHERE title LIKE 'Cache Test Story%'"),
        3
    );
    assert_eq!(
        env.sql(&format!(
            "SELECT min(title) FROM stories WHERE author_id = '{LOAD}'"
        )),
        "Load Test Story 000001"
    );
    assert!(env.count(&format!("SELECT min(length(content)) FROM scenes s JOIN chapters c ON c.id = s.chapter_id JOIN stories t ON t.id = c.story_id WHERE t.author_id = '{LOAD}'")) > 1000);

    let again = env
        .run(&["seed", "--scale", "6", "--json"])
        .expect(0)
        .json();
    assert_eq!(
        again["scale"]["written"], false,
        "exact scale data is not rewritten"
    );
    env.run(&["verify", "--scale", "6", "--quiet"]).expect(0);
    // The canonical checks do not see load-test data as extras, nor does prune.
    env.run(&["verify", "--quiet"]).expect(0);
    env.run(&["seed", "--prune", "--quiet"]).expect(0);
    assert_eq!(scale_rows(&env, "scenes"), 90);

    // Content drift is caught by the checksum and repaired by a re-seed.
    env.sql(&format!(
        "UPDATE scenes SET content = 'tampered' WHERE id = (SELECT s.id FROM scenes s JOIN chapters c ON c.id = s.chapter_id JOIN stories t ON t.id = c.story_id WHERE t.author_id = '{LOAD}' ORDER BY s.id LIMIT 1)"
    ));
    let report = env
        .run(&["verify", "--scale", "6", "--json"])
        .expect(1)
        .json();
    assert_eq!(report["findings"][0]["kind"], "scale");
    assert_eq!(report["findings"][0]["column"], "content checksum");
    let repair = env.run(&["seed", "--scale", "6"]).expect(0).stdout();
    // The rewrite is counted: every load-test row went and came back.
    let changes: usize = repair
        .lines()
        .find_map(|l| l.split_once(" changes, ").map(|(n, _)| n.parse().unwrap()))
        .unwrap_or_else(|| panic!("no change count in:\n{repair}"));
    assert!(changes >= 6 + 30 + 90, "{repair}");
    env.run(&["verify", "--scale", "6", "--quiet"]).expect(0);
    assert_eq!(
        env.count("SELECT count(*) FROM scenes WHERE content = 'tampered'"),
        0
    );

    // A row of a table the tool never heard of, hanging off a load-test
    // scene, goes with it; the dry run (a walk in the client) and the real
    // run (a sweep inside the database) count the same rows per table.
    env.sql(&format!(
        "CREATE TABLE scene_marks (id serial PRIMARY KEY, scene_id text NOT NULL REFERENCES scenes(id)); \
         INSERT INTO scene_marks (scene_id) SELECT s.id FROM scenes s JOIN chapters c ON c.id = s.chapter_id \
         JOIN stories t ON t.id = c.story_id WHERE t.author_id = '{LOAD}' LIMIT 4"
    ));
    let dry = env
        .run(&["teardown", "--dry-run", "--json"])
        .expect(0)
        .json();
    let real = env.run(&["teardown", "--json"]).expect(0).json();
    assert_eq!(deletes(&dry), deletes(&real));
    assert!(deletes(&real).get("scene_marks") == Some(&4), "{real}");
    assert!(deletes(&real).get("scenes") == Some(&(45 + 90)), "{real}");
    assert_eq!(
        env.count(&format!("SELECT count(*) FROM users WHERE id = '{LOAD}'")),
        0
    );
    assert_eq!(env.count("SELECT count(*) FROM scene_marks"), 0);
    env.sql("DROP TABLE scene_marks");
    assert_eq!(env.checksums(), foreign);
}

#[test]
fn statements_do_not_grow_with_scale() {
    let (a, b) = (TestEnv::new(), TestEnv::new());
    let small = a.run(&["seed", "--scale", "2", "--json"]).expect(0).json();
    let large = b.run(&["seed", "--scale", "12", "--json"]).expect(0).json();
    assert_eq!(scale_rows(&b, "scenes"), 12 * 15);
    assert_eq!(small["statements"], large["statements"]);
    assert_eq!(small["round_trips"], large["round_trips"]);
}

/// Tables whose written columns all have a binary encoding go in COPY's
/// binary format; a table with one that has none (a required numeric column
/// here) goes as text; the rows stored are the same either way.
#[test]
fn binary_and_text_copy_store_the_same_rows() {
    let (binary, text) = (TestEnv::new(), TestEnv::new());
    text.sql("ALTER TABLE scenes ADD COLUMN weight numeric NOT NULL");
    let copies = |env: &TestEnv| -> Vec<String> {
        let log = env.run(&["seed", "--scale", "3", "-vv"]).expect(0).stderr();
        log.lines()
            .filter_map(|l| Some(l[l.find("COPY ")?..].to_string()))
            .collect()
    };
    let (all, mixed) = (copies(&binary), copies(&text));
    assert_eq!(all.len(), 7, "{all:?}");
    assert!(
        all.iter()
            .all(|c| c.ends_with("FROM STDIN WITH (FORMAT binary)")),
        "{all:?}"
    );
    let scenes = |c: &&String| c.starts_with("COPY \"scenes\"");
    assert!(
        mixed
            .iter()
            .filter(scenes)
            .all(|c| c.ends_with("FROM STDIN")),
        "{mixed:?}"
    );
    assert_eq!(
        mixed
            .iter()
            .filter(|c| c.ends_with("(FORMAT binary)"))
            .count(),
        6
    );
    text.sql("ALTER TABLE scenes DROP COLUMN weight");
    assert_eq!(binary.checksums(), text.checksums());
    binary.run(&["verify", "--scale", "3"]).expect(0);

    // Load-test text is compressed with lz4 where the server has it, for the
    // seed's transaction only: the fixture's own rows and every later
    // session keep the server's default.
    let lz4 = binary.sql(
        "SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'",
    );
    let compressed = |method: &str| {
        binary.count(&format!(
            "SELECT count(*) FROM scenes s JOIN chapters c ON c.id = s.chapter_id \
             JOIN stories t ON t.id = c.story_id \
             WHERE t.author_id = '{LOAD}' AND pg_column_compression(s.content) = '{method}'"
        ))
    };
    if lz4 == "t" {
        assert_eq!((compressed("lz4"), compressed("pglz")), (45, 0));
    }
    assert_eq!(
        binary.count("SELECT count(*) FROM scenes WHERE title LIKE 'Scene%' AND pg_column_compression(content) = 'lz4' AND chapter_id IN (SELECT c.id FROM chapters c JOIN stories t ON t.id = c.story_id WHERE t.title LIKE 'Cache Test Story%')"),
        0
    );
    assert_eq!(binary.sql("SHOW default_toast_compression"), "pglz");
}

#[test]
fn spool_files_live_in_a_private_directory_removed_on_every_exit() {
    let env = TestEnv::new();
    let tmp = tempfile::tempdir().unwrap();
    let tmpdir = tmp.path().to_str().unwrap();
    env.run_with(&["seed", "--scale", "3", "--quiet"], &[("TMPDIR", tmpdir)])
        .expect(0);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    // Cut short by the run's time limit in the middle of streaming: the
    // watchdog removes the spool directory before the process ends.
    env.run(&["teardown", "--quiet"]).expect(0);
    let run = env.run_with(
        &["seed", "--scale", "4000", "--timeout", "2s"],
        &[("TMPDIR", tmpdir)],
    );
    assert!(matches!(run.code(), 4 | 8), "{}", run.stderr());
    assert!(run.stderr().contains("--timeout 2s"), "{}", run.stderr());
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_role_without_temporary_tables_tears_down_a_fixture_and_is_told_what_load_test_data_needs() {
    let env = TestEnv::new();
    let role = format!("seed_notemp_{}", env.name);
    env.sql(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'pw'; \
         GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}; \
         REVOKE TEMPORARY ON DATABASE {db} FROM PUBLIC",
        db = env.name
    ));
    let mut url = url::Url::parse(&env.db_url).unwrap();
    url.set_username(&role).unwrap();
    url.set_password(Some("pw")).unwrap();
    let url = url.to_string();
    let as_role = |args: &[&str]| {
        let mut all = vec!["--database-url", url.as_str()];
        all.extend_from_slice(args);
        env.run(&all)
    };
    // Without load-test data nothing needs a temporary table.
    as_role(&["seed", "--quiet"]).expect(0);
    as_role(&["teardown", "--quiet"]).expect(0);
    assert_eq!(env.count("SELECT count(*) FROM stories"), 0);
    // With it, the run stops before committing and names the grant.
    env.run(&["seed", "--scale", "2", "--quiet"]).expect(0);
    let before = env.checksums();
    let run = as_role(&["teardown"]);
    assert_eq!(run.code(), 8, "{}", run.stderr());
    assert!(run.stderr().contains("GRANT TEMPORARY"), "{}", run.stderr());
    assert_eq!(env.checksums(), before, "nothing was committed");
    env.sql(&format!(
        "GRANT TEMPORARY ON DATABASE {db} TO PUBLIC; DROP OWNED BY {role}; DROP ROLE {role}",
        db = env.name
    ));
}

#[test]
fn load_test_data_and_the_fixture_go_in_one_children_first_order_with_their_cache_keys() {
    let env = TestEnv::new();
    env.run(&["seed", "--scale", "2", "--quiet"]).expect(0);
    // A table without a primary key (rows identified by ctid) under both a
    // fixture story and the load-test account, whose SET NULL would move the
    // row if the account went first.
    env.sql(&format!(
        "CREATE TABLE xlog (story_id text REFERENCES stories(id), \
         user_id text REFERENCES users(id) ON DELETE SET NULL, note text); \
         INSERT INTO xlog VALUES ('{STORY_1}', '{LOAD}', 'both')"
    ));
    let scene = env.sql(&format!(
        "SELECT s.id FROM scenes s JOIN chapters c ON c.id = s.chapter_id JOIN stories t ON t.id = c.story_id \
         WHERE t.author_id = '{LOAD}' ORDER BY s.id LIMIT 1"
    ));
    let chapter = env.sql(&format!(
        "SELECT c.id FROM chapters c JOIN stories t ON t.id = c.story_id WHERE t.author_id = '{LOAD}' ORDER BY c.id LIMIT 1"
    ));
    let keys = [
        format!("scene:{scene}"),
        format!("scene:{scene}:public"),
        format!("chapter:{chapter}"),
        format!("comments:chapter:{chapter}"),
    ];
    for k in &keys {
        env.redis(&["SET", k, "{}"]);
    }
    env.run(&["teardown", "--quiet"]).expect(0);
    assert_eq!(env.count("SELECT count(*) FROM xlog"), 0);
    assert_eq!(env.count("SELECT count(*) FROM stories"), 0);
    for k in &keys {
        assert_eq!(env.redis(&["EXISTS", k]).trim(), "0", "{k} must go");
    }
    env.sql("DROP TABLE xlog");
}

/// Past a couple of thousand prefixes (four per story) the scan stops
/// dropping keys inside its script and UNLINKs what the read-only one found:
/// the keys under a load-test story's prefixes go all the same, and keys of
/// ids that merely fit the scan's pattern stay.
#[test]
fn tearing_down_hundreds_of_stories_drops_their_prefixed_keys_and_no_others() {
    let env = TestEnv::new();
    env.run(&["seed", "--scale", "520", "--quiet"]).expect(0);
    let story = env.sql(&format!(
        "SELECT id FROM stories WHERE author_id = '{LOAD}' ORDER BY id LIMIT 1"
    ));
    let other = env.sql(&format!(
        "SELECT id FROM stories WHERE author_id = '{LOAD}' ORDER BY id DESC LIMIT 1"
    ));
    // Every character is one a load-test id has at that position.
    let spliced = format!("{}{}", &story[..10], &other[10..]);
    let ours = [
        format!("story:{story}:chapters:public"),
        format!("fictures:studio:story:{other}:x"),
    ];
    let theirs = format!("story:{spliced}:chapters:public");
    for k in ours.iter().chain([&theirs]) {
        env.redis(&["SET", k, "{}"]);
    }
    env.run(&["teardown", "--quiet"]).expect(0);
    for k in &ours {
        assert_eq!(env.redis(&["EXISTS", k]).trim(), "0", "{k} must go");
    }
    assert_eq!(
        env.redis(&["EXISTS", &theirs]).trim(),
        "1",
        "{theirs} stays"
    );
}
