//! What the app and its Playwright suite really read, played against real
//! servers: the seed file works from any directory, the fixture does not
//! change with the environment, and `user.json` signs in as the stories' owner.

mod common;

use common::*;

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
