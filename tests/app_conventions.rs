//! What the app and its Playwright suite really read, played against real
//! servers: the seed file works from any directory, the fixture does not
//! change with the environment, and `user.json` signs in as the stories' owner.

mod common;
mod interop;

use common::*;
use serde_json::Value;

const AUTH_SECRET: &str = "conventions-auth-secret-42";

fn state(dir: &std::path::Path, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

#[test]
fn the_built_in_seed_file_works_from_any_directory_and_init_writes_it() {
    let env = TestEnv::new();
    // The app's repository has no seeds/ folder: run from an empty directory.
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = elsewhere.path();
    env.run_in(dir, &["seed", "--quiet"], &[]).expect(0);
    env.run_in(dir, &["verify", "--quiet"], &[]).expect(0);
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM stories WHERE id IN ('{STORY_1}', '{STORY_2}', '{STORY_3}')"
        )),
        3
    );

    // `init` writes the same file, comments included, and never clobbers one.
    env.run_in(dir, &["init"], &[]).expect(0);
    let written = std::fs::read_to_string(dir.join("fictures-seed.toml")).unwrap();
    assert_eq!(written, canonical_seed());
    let again = env.run_in(dir, &["init"], &[]).expect(2);
    assert!(
        again.stderr().contains("pass --force"),
        "{}",
        again.stderr()
    );
    std::fs::write(dir.join("fictures-seed.toml"), "edited").unwrap();
    env.run_in(dir, &["init", "--force"], &[]).expect(0);
    assert_eq!(
        std::fs::read_to_string(dir.join("fictures-seed.toml")).unwrap(),
        canonical_seed()
    );
    // An edited copy is what --seed-file reads, from wherever it is.
    std::fs::write(
        dir.join("mine.toml"),
        canonical_seed().replace("Cache Test Story 3", "Cache Test Story 3 (edited)"),
    )
    .unwrap();
    env.run_in(dir, &["seed", "--quiet", "--seed-file", "mine.toml"], &[])
        .expect(0);
    assert_eq!(
        env.sql(&format!("SELECT title FROM stories WHERE id = '{STORY_3}'")),
        "Cache Test Story 3 (edited)"
    );
}

#[test]
fn user_json_signs_in_as_the_owner_of_the_three_stories() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(".auth");
    // An existing directory keeps the mode its owner gave it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.run_with(
        &["seed", "--quiet", "--auth-out", out.to_str().unwrap()],
        &[("AUTH_SECRET", AUTH_SECRET)],
    )
    .expect(0);
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "no probe left behind: {leftovers:?}");

    // The suite's sign-in: Playwright reads user.json's cookies.
    let user = state(&out, "user.json");
    let token = user["cookies"][0]["value"].as_str().unwrap();
    let claims = interop::auth_js_decode(AUTH_SECRET, "authjs.session-token", token).unwrap();
    let signed_in = claims["id"].as_str().unwrap().to_string();
    let owners = env.sql(&format!(
        "SELECT string_agg(DISTINCT author_id, ',') FROM stories WHERE id IN ('{STORY_1}', '{STORY_2}', '{STORY_3}')"
    ));
    assert_eq!(
        owners, signed_in,
        "the studio opens a story only for its author"
    );
    assert_eq!(claims["role"], "writer");

    // The app's scripts: top-level userId is the author, profiles.writer exists.
    assert_eq!(user["userId"], signed_in.as_str());
    assert_eq!(user["defaultProfile"], "writer");
    assert_eq!(user["profiles"]["writer"]["userId"], signed_in.as_str());
    assert_eq!(user["profiles"]["writer"]["cookies"], user["cookies"]);
    for profile in ["writer", "reader", "manager"] {
        assert!(
            user["profiles"][profile]["cookies"][0]["value"].is_string(),
            "{profile}"
        );
    }
    // The reader has a file of its own, signed in as the reader.
    let reader = state(&out, "reader.json");
    let claims = interop::auth_js_decode(
        AUTH_SECRET,
        "authjs.session-token",
        reader["cookies"][0]["value"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(claims["id"], READER);
    assert_eq!(reader["defaultProfile"], "reader");
}

#[test]
fn every_auth_input_is_checked_before_anything_is_written() {
    let env = TestEnv::new();
    env.redis(&["SET", &format!("story:{STORY_1}"), "{}"]);
    let before = env.checksums();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("auth");
    let out = out.to_str().unwrap();
    let blocker = tempfile::NamedTempFile::new().unwrap();
    let unwritable = blocker.path().join("sub");
    let with_secret = [("AUTH_SECRET", AUTH_SECRET)];
    for (args, vars, code, needle) in [
        (
            vec!["--auth-out", out],
            &[][..],
            2,
            "AUTH_SECRET (or NEXTAUTH_SECRET) is not set",
        ),
        (
            vec!["--auth-out", out, "--base-url", "ftp://x"],
            &with_secret[..],
            2,
            "--base-url ftp://x",
        ),
        (
            vec!["--auth-out", out, "--lifetime", "0s"],
            &with_secret[..],
            2,
            "lifetime is zero",
        ),
        (
            vec!["--auth-out", out, "--lifetime", "soon"],
            &with_secret[..],
            2,
            "soon",
        ),
        (
            vec!["--auth-out", unwritable.to_str().unwrap()],
            &with_secret[..],
            9,
            "cannot write storage states into",
        ),
    ] {
        let mut all = vec!["seed"];
        all.extend(args);
        let run = env.run_with(&all, vars).expect(code);
        assert!(run.stderr().contains(needle), "{needle}: {}", run.stderr());
        assert_eq!(env.checksums(), before, "nothing written for {all:?}");
        assert_eq!(
            env.redis_keys(),
            vec![format!("story:{STORY_1}")],
            "the cache untouched for {all:?}"
        );
    }
}

/// The key secret unset, as on a machine without the CI's secrets.
const NO_KEY_SECRET: [(&str, &str); 1] = [("FIXTURE_API_KEY_SECRET", "")];

#[test]
fn the_fixture_is_the_same_rows_whatever_secrets_are_set() {
    let env = TestEnv::new();
    env.run(&["seed", "--quiet"]).expect(0);
    let keys = "SELECT string_agg(id || ':' || key_hash || ':' || key_prefix || ':' || scopes::text, ',' ORDER BY id) FROM api_keys";
    let stored = env.sql(keys);
    assert_eq!(env.count("SELECT count(*) FROM api_keys"), 2);

    // Without the secret the stored keys are still the fixture's: exact,
    // neither extra nor pruned, and a plain seed writes nothing.
    env.run_with(&["verify", "--quiet"], &NO_KEY_SECRET)
        .expect(0);
    let prune = env
        .run_with(&["seed", "--prune", "--json"], &NO_KEY_SECRET)
        .expect(0)
        .json();
    assert!(
        prune["tables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["delete"] == 0),
        "{prune}"
    );
    assert_eq!(env.sql(keys), stored);

    // What can be checked is: drifted scopes are found and restored, the
    // hash the secret made is kept.
    env.sql("UPDATE api_keys SET scopes = '[\"stories:read\"]'");
    let verify = env
        .run_with(&["verify", "--json"], &NO_KEY_SECRET)
        .expect(1)
        .json();
    assert_eq!(verify["findings"][0]["column"], "scopes", "{verify}");
    env.run_with(&["seed", "--quiet"], &NO_KEY_SECRET).expect(0);
    assert_eq!(env.sql(keys), stored);

    // A missing key cannot be made without the secret: seed says so and does
    // not call the fixture exact, verify reports it missing.
    env.sql("DELETE FROM api_keys WHERE user_id = 'fxManager0CacheTest01'");
    let seed = env.run_with(&["seed"], &NO_KEY_SECRET).expect(0);
    assert!(
        seed.stdout().contains(
            "1 fixture row is missing and cannot be created without $FIXTURE_API_KEY_SECRET"
        ),
        "{}",
        seed.stdout()
    );
    assert!(
        !seed.stdout().contains("already exact"),
        "{}",
        seed.stdout()
    );
    let verify = env
        .run_with(&["verify", "--json"], &NO_KEY_SECRET)
        .expect(1)
        .json();
    assert_eq!(verify["findings"][0]["kind"], "missing", "{verify}");
    assert_eq!(verify["findings"][0]["table"], "api_keys", "{verify}");
    // With the secret, the same key comes back.
    env.run(&["seed", "--quiet"]).expect(0);
    assert_eq!(env.sql(keys), stored);
}

#[test]
fn columns_the_app_writes_in_normal_use_are_not_drift() {
    let env = TestEnv::new();
    env.run(&["seed", "--quiet"]).expect(0);
    // What the cache test page and API requests do between runs.
    env.sql(&format!(
        "UPDATE stories SET view_count = 4242, updated_at = now() WHERE id = '{STORY_1}';
         UPDATE api_keys SET last_used_at = now(), updated_at = now();
         UPDATE scenes SET view_count = 7, last_viewed_at = now() WHERE chapter_id IN (SELECT id FROM chapters WHERE story_id = '{STORY_1}')"
    ));
    let before = env.checksums();
    env.run(&["verify", "--quiet"]).expect(0);
    let seed = env.run(&["seed"]).expect(0);
    assert!(seed.stdout().contains("already exact"), "{}", seed.stdout());
    assert_eq!(
        env.checksums(),
        before,
        "seed leaves the app's own writes alone"
    );
}

#[test]
fn seed_without_prune_says_what_hangs_off_the_fixture() {
    let env = TestEnv::new();
    env.run(&["seed", "--quiet"]).expect(0);
    env.sql(&format!(
        "INSERT INTO community_posts (id, title, content, story_id, author_id) VALUES ('testPost000000000001', 'From a test', 'x', '{STORY_1}', '{READER}')"
    ));
    let seed = env.run(&["seed"]).expect(0);
    let out = seed.stdout();
    assert!(
        out.contains("1 row hangs off the fixture without being part of it (community_posts 1)")
            && out.contains("verify reports it as extra, and `seed --prune` removes it"),
        "{out}"
    );
    assert!(!out.contains("already exact"), "{out}");
    env.run(&["verify", "--quiet"]).expect(1);
    env.run(&["seed", "--quiet", "--prune"]).expect(0);
    let seed = env.run(&["seed"]).expect(0);
    assert!(seed.stdout().contains("already exact"), "{}", seed.stdout());
}

#[test]
fn scenes_are_numbered_across_the_story_as_the_app_s_script_did() {
    let env = TestEnv::new();
    env.run(&["seed", "--quiet"]).expect(0);
    let titles = env.sql(&format!(
        "SELECT string_agg(s.title, '|' ORDER BY c.order_index, s.order_index) FROM scenes s \
         JOIN chapters c ON c.id = s.chapter_id WHERE c.story_id = '{STORY_2}'"
    ));
    let expected: Vec<String> = (1..=15).map(|n| format!("Scene {n}: Cache Test")).collect();
    assert_eq!(titles, expected.join("|"));
    assert_eq!(
        env.sql(&format!(
            "SELECT title FROM chapters WHERE story_id = '{STORY_2}' AND order_index = 2"
        )),
        "Chapter 2: Testing Cache Layer 2"
    );
}
