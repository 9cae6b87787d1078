//! seed, verify and teardown build their first reads on the catalog and
//! accounts the last run on this machine read from the same database
//! (`io::hint`) and confirm them in the same round trip. A stale hint costs
//! a second attempt, never a wrong answer or a write built on it.

mod common;

use common::*;

fn trips(env: &TestEnv, args: &[&str], vars: &[(&str, &str)], code: i32) -> u64 {
    let mut args = args.to_vec();
    args.push("--json");
    let report = env.run_with(&args, vars).expect(code).json();
    report["round_trips"].as_u64().unwrap()
}

#[test]
fn a_remembered_catalog_saves_a_round_trip_until_the_schema_changes() {
    let env = TestEnv::new();
    // Catalog and accounts, state, COMMIT; then the catalog rides with the state.
    assert_eq!(trips(&env, &["seed"], &[], 0), 3);
    assert_eq!(trips(&env, &["seed"], &[], 0), 2);
    assert_eq!(trips(&env, &["verify"], &[], 0), 2);
    // Deleting the fixture's own accounts does not change how they resolve.
    assert_eq!(
        trips(&env, &["teardown"], &[], 0),
        3,
        "its sweep looks for load-test data"
    );
    assert_eq!(trips(&env, &["seed"], &[], 0), 2);

    // A column the remembered catalog lacks: the run starts over on a fresh
    // read, so the new column's default is what the fixture's rows hold.
    env.sql("ALTER TABLE scenes ADD COLUMN mood text NOT NULL DEFAULT 'calm'");
    env.sql("UPDATE scenes SET title = title || '!' WHERE id = (SELECT min(id) FROM scenes)");
    let run = env.run(&["seed", "--json", "-v"]).expect(0);
    assert!(
        run.stderr()
            .contains("starting over without the remembered catalog"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        run.json()["round_trips"],
        3,
        "counted for the fresh attempt"
    );
    assert_eq!(
        trips(&env, &["verify"], &[], 0),
        2,
        "the fresh catalog was kept"
    );

    // A label the fixture writes renamed: the state read built on the old
    // catalog fails inside PostgreSQL; the fresh attempt names the problem.
    env.sql("ALTER TYPE visibility RENAME VALUE 'unlisted' TO 'hidden'");
    let run = env.run(&["seed"]).expect(5);
    assert!(
        run.stderr().contains("but the fixture writes `unlisted`"),
        "{}",
        run.stderr()
    );
    assert_eq!(env.count("SELECT count(*) FROM scenes"), 45);
}

/// Reads built on a stale catalog can fail with errors other than a missing
/// column (here a value too long for a column narrowed since): those start
/// over too, so the fresh catalog names the problem, every time.
#[test]
fn any_failure_of_reads_built_on_a_stale_catalog_starts_over() {
    let env = TestEnv::new();
    env.run(&["seed", "--quiet"]).expect(0);
    env.run(&["teardown", "--quiet"]).expect(0);
    env.sql("ALTER TABLE scenes ALTER COLUMN title TYPE varchar(5)");
    for _ in 0..2 {
        let run = env.run(&["seed", "-v"]).expect(5);
        let stderr = run.stderr();
        assert!(
            stderr.contains("starting over without the remembered catalog"),
            "{stderr}"
        );
        assert!(stderr.contains("scenes.title"), "{stderr}");
    }
    assert_eq!(env.count("SELECT count(*) FROM scenes"), 0);
}

#[test]
fn an_account_adopted_since_the_last_run_is_found() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let seed = canonical_seed().replace(
        "id = \"fxManager0CacheTest01\"\nemail = \"manager@fictures.xyz\"\nusername = \"cache_test_manager\"\nname = \"Cache Test Manager\"\nrole = \"manager\"\npassword_env = \"FIXTURE_MANAGER_PASSWORD\"",
        "adopt_email = \"manager@fictures.xyz\"",
    );
    let path = env.seed_file(dir.path(), "adopt.toml", &seed);
    let path = path.to_str().unwrap();
    // Nothing to adopt yet; this run remembers that.
    let run = env.run(&["seed", "--seed-file", path]).expect(2);
    assert!(
        run.stderr().contains("no account has that email"),
        "{}",
        run.stderr()
    );
    env.sql(
        "INSERT INTO users (id, email, username, name, role) VALUES ('stagingManager0000001', 'manager@fictures.xyz', 'boss', 'Boss', 'manager')",
    );
    env.run(&["seed", "--quiet", "--seed-file", path]).expect(0);
    assert_eq!(
        env.count("SELECT count(*) FROM post_likes WHERE user_id = 'stagingManager0000001'"),
        3
    );
    // The account goes again: the remembered accounts now say it exists.
    env.sql("DELETE FROM post_likes WHERE user_id = 'stagingManager0000001'");
    env.sql("DELETE FROM story_likes WHERE user_id = 'stagingManager0000001'");
    env.sql("DELETE FROM users WHERE id = 'stagingManager0000001'");
    let run = env.run(&["seed", "--seed-file", path]).expect(2);
    assert!(
        run.stderr().contains("no account has that email"),
        "{}",
        run.stderr()
    );
}

#[test]
fn hints_are_kept_only_where_they_can_be_and_a_damaged_one_is_ignored() {
    let env = TestEnv::new();
    // Switched off: every run reads the catalog.
    let off = [("FICTURES_SEED_CACHE_DIR", "")];
    assert_eq!(trips(&env, &["seed"], &off, 0), 3);
    assert_eq!(trips(&env, &["seed"], &off, 0), 3);
    // A directory that cannot be made costs the round trip and nothing else.
    let file = tempfile::NamedTempFile::new().unwrap();
    let under_a_file = file.path().join("hints");
    let blocked = [("FICTURES_SEED_CACHE_DIR", under_a_file.to_str().unwrap())];
    assert_eq!(trips(&env, &["seed"], &blocked, 0), 3);
    assert_eq!(trips(&env, &["seed"], &blocked, 0), 3);
    // A file that does not parse is read afresh and replaced.
    let dir = tempfile::tempdir().unwrap();
    let own = [("FICTURES_SEED_CACHE_DIR", dir.path().to_str().unwrap())];
    assert_eq!(trips(&env, &["seed"], &own, 0), 3);
    let files = files_in(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let kept = dir.path().join(&files[0]);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&kept).unwrap().permissions());
    assert_eq!(
        mode & 0o777,
        0o600,
        "it names the app's tables and accounts"
    );
    std::fs::write(&kept, "{\"catalog\": [").unwrap();
    assert_eq!(trips(&env, &["seed"], &own, 0), 3);
    assert_eq!(trips(&env, &["seed"], &own, 0), 2);
    // A hint that parses but is not this database's catalog is caught by
    // the check and costs a second attempt.
    std::fs::write(
        &kept,
        "{\"catalog\": {\"tables\": [], \"foreign_keys\": []}, \"version\": \"0\", \"users\": []}",
    )
    .unwrap();
    env.sql("UPDATE scenes SET title = title || '!' WHERE id = (SELECT min(id) FROM scenes)");
    let report = env.run_with(&["seed", "--json"], &own).expect(0).json();
    assert_eq!(report["round_trips"], 3, "{report}");
    env.run_with(&["verify", "--quiet"], &own).expect(0);
}

/// The remembered catalog is confirmed by the catalog's version, a digest of
/// what the catalog is built from, not by building the catalog again: every
/// kind of DDL that changes the catalog must move it (each change below is
/// checked to change the catalog the run keeps, so none is a no-op), and what
/// leaves the catalog as it was must not, even where it rewrites catalog rows
/// (a version made of row versions would move there, and could stay put when
/// a restored snapshot or a reset branch replays a different history).
#[test]
fn every_change_the_catalog_can_see_moves_its_version_and_nothing_else_does() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let own = [("FICTURES_SEED_CACHE_DIR", dir.path().to_str().unwrap())];
    // Whether the run found its remembered catalog out of date, and the
    // catalog it kept.
    let seed = || {
        let run = env.run_with(&["seed", "-v"], &own).expect(0);
        let files = files_in(dir.path());
        assert_eq!(files.len(), 1, "{files:?}");
        let kept = std::fs::read_to_string(dir.path().join(&files[0])).unwrap();
        let kept: serde_json::Value = serde_json::from_str(&kept).unwrap();
        (
            run.stderr()
                .contains("changed since this machine last read them"),
            kept["catalog"].clone(),
        )
    };
    let (_, mut catalog) = seed();
    let search_path = format!("ALTER DATABASE {} SET search_path = public, side", env.name);
    let quoting = format!("ALTER DATABASE {} SET quote_all_identifiers = on", env.name);
    for change in [
        "ALTER TABLE scenes ADD COLUMN mood text",
        "ALTER TABLE scenes ALTER COLUMN mood SET DEFAULT 'calm'",
        "UPDATE scenes SET mood = 'calm'; ALTER TABLE scenes ALTER COLUMN mood SET NOT NULL",
        "ALTER TYPE tone ADD VALUE 'wry'",
        "ALTER TYPE tone RENAME VALUE 'wry' TO 'dry'",
        "CREATE DOMAIN short_text AS text; ALTER TABLE scenes ADD COLUMN note short_text",
        "ALTER DOMAIN short_text SET DEFAULT 'calm'",
        "ALTER TYPE short_text RENAME TO brief_text",
        "UPDATE scenes SET note = 'calm'; ALTER DOMAIN brief_text SET NOT NULL",
        "ALTER TABLE scenes ALTER COLUMN note TYPE varchar(9)",
        "CREATE UNIQUE INDEX scenes_id_mood ON scenes (id, mood)",
        "CREATE TABLE moods (name text PRIMARY KEY); INSERT INTO moods VALUES ('calm')",
        "ALTER TABLE scenes ADD CONSTRAINT scenes_mood_fk FOREIGN KEY (mood) REFERENCES moods (name)",
        "ALTER TABLE scenes DROP CONSTRAINT scenes_mood_fk, ADD CONSTRAINT scenes_mood_fk \
         FOREIGN KEY (mood) REFERENCES moods (name) ON DELETE CASCADE",
        "ALTER TABLE scenes RENAME COLUMN mood TO feeling",
        "ALTER TABLE scenes DROP COLUMN note",
        "CREATE SCHEMA side; ALTER TABLE moods SET SCHEMA side",
        "CREATE DOMAIN side.calm_text AS text; ALTER TABLE scenes ADD COLUMN calm side.calm_text",
        // The side schema's types become visible: named bare from now on.
        &search_path,
        // A type of the same name earlier on the path hides the column's:
        // only how its type is spelled changes.
        "CREATE DOMAIN public.calm_text AS integer",
        "ALTER SCHEMA side RENAME TO aside",
        // Every table's statement name is quoted from now on.
        &quoting,
        // Two moves that together give names which, joined with a space,
        // read as before: `z`.`x r y` becomes `y r z`.`x`.
        "CREATE SCHEMA z; CREATE TABLE z.\"x r y\" (id int PRIMARY KEY); CREATE SCHEMA \"y r z\"",
        "ALTER TABLE z.\"x r y\" RENAME TO x; ALTER TABLE z.x SET SCHEMA \"y r z\"",
    ] {
        assert!(!seed().0, "unsettled before: {change}");
        env.script(change);
        let (started_over, now) = seed();
        assert!(started_over, "the version did not move: {change}");
        assert!(now != catalog, "not a change the catalog can see: {change}");
        catalog = now;
    }
    for still in [
        "UPDATE scenes SET title = title || '!' WHERE id = (SELECT min(id) FROM scenes)",
        "ANALYZE",
        "VACUUM scenes",
        "INSERT INTO aside.moods VALUES ('grim')",
        // Catalog rows rewritten to what they held.
        "ALTER TABLE scenes ALTER COLUMN title SET STATISTICS 500",
        "ALTER TYPE aside.calm_text RENAME TO some_text; ALTER TYPE aside.some_text RENAME TO calm_text",
        "ALTER TABLE scenes ALTER COLUMN feeling DROP DEFAULT; \
         ALTER TABLE scenes ALTER COLUMN feeling SET DEFAULT 'calm'",
    ] {
        env.script(still);
        let (started_over, now) = seed();
        assert!(now == catalog, "the catalog changed: {still}");
        assert!(!started_over, "the version moved: {still}");
    }
    assert_eq!(
        env.count("SELECT count(*) FROM scenes WHERE feeling = 'calm'"),
        45
    );
    // pg_catalog first (and `side` is gone): the path in effect reads the
    // same, as pg_catalog is always on it, but tables are named against
    // another schema, so the fixture's are no longer the plainly named ones.
    env.sql(&format!(
        "ALTER DATABASE {} SET search_path = pg_catalog, public, side",
        env.name
    ));
    let run = env.run_with(&["seed", "-v"], &own).expect(5);
    assert!(
        run.stderr()
            .contains("changed since this machine last read them"),
        "{}",
        run.stderr()
    );
}
