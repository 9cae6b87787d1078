//! Seed-file validation: every mistake gives one message naming the file,
//! line and field, exit code 2, before any connection is attempted (the
//! database URL here points at a closed port and is never reached).

mod common;

use std::process::Command;

use common::*;

/// Runs `seed` on a variant of the canonical file; asserts exit 2 and returns stderr.
fn rejected(edit: impl Fn(String) -> String) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let text = edit(canonical_seed());
    assert_ne!(text, canonical_seed(), "the edit must change the file");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fictures-seed"))
        .env_clear()
        .env("DATABASE_URL", "postgres://nobody:secret@127.0.0.1:1/none")
        .env("REDIS_URL", "redis://127.0.0.1:1/0")
        .args(["seed", "--no-cache", "--seed-file", path.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("bad.toml:"), "names the file: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
    stderr
}

fn line_of(needle: &str) -> usize {
    canonical_seed()
        .lines()
        .position(|l| l.contains(needle))
        .unwrap()
        + 1
}

#[test]
fn unknown_key() {
    let e = rejected(|s| s.replace("scene_words = 320", "scene_words = 320\nscene_wrds = 1"));
    assert!(e.contains("unknown field `scene_wrds`"), "{e}");
    assert!(
        e.contains(&format!("bad.toml:{}:", line_of("scene_words") + 1)),
        "{e}"
    );
}

#[test]
fn malformed_toml() {
    let e = rejected(|s| s.replace("seed = 20261124", "seed = \"twenty\""));
    assert!(
        e.contains(&format!("bad.toml:{}:", line_of("seed = 20261124"))),
        "{e}"
    );
    assert!(e.contains("invalid type"), "{e}");
    let e = rejected(|s| s.replace("[stories]", "[stories"));
    assert!(
        e.contains(&format!("bad.toml:{}:", line_of("[stories]"))),
        "{e}"
    );
}

#[test]
fn duplicate_id() {
    let e = rejected(|s| {
        s.replace(
            "id = \"E2d5Wt9opYf6y0midOc5r\"",
            "id = \"LGAbU_uuQe56exjKNAQn3\"",
        )
    });
    assert!(
        e.contains("field `story[1].id`") && e.contains("already used"),
        "{e}"
    );
    assert!(
        e.contains(&format!("bad.toml:{}:", line_of("E2d5Wt9opYf6y0midOc5r"))),
        "{e}"
    );
}

#[test]
fn id_of_wrong_length() {
    let e = rejected(|s| s.replace("H2d5lyQLC5qGxzG0YL322", "H2d5lyQLC5qGx"));
    assert!(
        e.contains("field `story[2].id`") && e.contains("13 characters"),
        "{e}"
    );
}

#[test]
fn id_of_wrong_alphabet() {
    let e = rejected(|s| s.replace("fxReader0CacheTests01", "fxReader0CacheTests0!"));
    assert!(
        e.contains("field `accounts.reader.id`") && e.contains("`!`"),
        "{e}"
    );
}

#[test]
fn zero_count() {
    let e = rejected(|s| s.replace("scenes_per_chapter = 3", "scenes_per_chapter = 0"));
    assert!(
        e.contains("field `stories.scenes_per_chapter`") && e.contains("at least 1"),
        "{e}"
    );
}

#[test]
fn bad_enum_label() {
    let e = rejected(|s| s.replacen("status = \"writing\"", "status = \"drafted\"", 1));
    assert!(
        e.contains("field `story[1].status`") && e.contains("`drafted`"),
        "{e}"
    );
    let e = rejected(|s| s.replace("role = \"reader\"", "role = \"admin\""));
    assert!(e.contains("field `accounts.reader.role`"), "{e}");
}

#[test]
fn empty_story_list() {
    let e = rejected(|s| {
        let start = s.find("[[story]]").unwrap();
        let end = s.find("# Community data").unwrap();
        format!("{}{}", &s[..start], &s[end..])
    });
    assert!(e.contains("no stories"), "{e}");
}

#[test]
fn unknown_account_reference() {
    let e = rejected(|s| {
        s.replace(
            "post_likes_by = [\"reader\", \"manager\"]",
            "post_likes_by = [\"reader\", \"boss\"]",
        )
    });
    assert!(e.contains("`boss` is not an account"), "{e}");
}

#[test]
fn the_canonical_file_is_valid() {
    let out = Command::new(env!("CARGO_BIN_EXE_fictures-seed"))
        .current_dir(repo())
        .env_clear()
        .env("DATABASE_URL", "postgres://nobody:secret@127.0.0.1:1/none")
        .args(["seed", "--no-cache", "--connect-attempts", "1"])
        .output()
        .unwrap();
    // It gets past validation and fails only at connecting.
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn states_name_a_known_state_and_its_labels() {
    let e = rejected(|s| s + "\n[states.paragraph]\ncolumn = \"x\"\n");
    assert!(e.contains("field `states.paragraph`"), "{e}");
    assert!(e.contains("use one of story, chapter, scene"), "{e}");
    let e = rejected(|s| {
        s + "\n[states.scene]\ncolumn = \"novel_status\"\nlabels = { hidden = \"draft\" }\n"
    });
    assert!(e.contains("field `states.scene.labels`"), "{e}");
    assert!(
        e.contains("the scene states are public and unlisted"),
        "{e}"
    );
}

#[test]
fn entity_references_need_a_declared_entity_in_range() {
    let e = rejected(|s| s + "\n[tables.scenes.set]\nsetting_id = \"{entity:settings}\"\n");
    assert!(e.contains("field `tables.scenes.set`"), "{e}");
    assert!(e.contains("names no [[entity]]"), "{e}");
    let entity = "\n[[entity]]\ntable = \"settings\"\ncount = 2\nvalues = { name = \"S {n}\", story_id = \"{story}\" }\n";
    let e = rejected(|s| {
        s + entity + "\n[tables.chapters.set]\nsetting_ids = [\"{entity:settings:3}\"]\n"
    });
    assert!(e.contains("`{entity:settings:3}` is out of range"), "{e}");
    let e = rejected(|s| s + entity + "\n[tables.users.set]\nbio = \"{entity:settings}\"\n");
    assert!(e.contains("users rows belong to none"), "{e}");
    // An entity may point only at entities declared above it.
    let e = rejected(|s| {
        s + "\n[[entity]]\ntable = \"parts\"\nvalues = { arcs = [\"{entity:characters}\"] }\n"
            + "\n[[entity]]\ntable = \"characters\"\nvalues = { name = \"C\" }\n"
    });
    assert!(e.contains("field `entity[0].values`"), "{e}");
}

#[test]
fn entity_links_name_a_generated_table_and_column() {
    let e = rejected(|s| s + "\n[[entity]]\ntable = \"parts\"\nlinks = [\"nowhere\"]\n");
    assert!(e.contains("field `entity[0].links`"), "{e}");
    assert!(
        e.contains("`nowhere` must be TABLE.COLUMN of a generated table"),
        "{e}"
    );
    let e = rejected(|s| s + "\n[[entity]]\ntable = \"parts\"\nlinks = [\"parts.story_id\"]\n");
    assert!(e.contains("`parts.story_id` must be TABLE.COLUMN"), "{e}");
}

#[test]
fn fake_generators_are_known_ones() {
    let e = rejected(|s| s + "\n[tables.scenes.fake]\nsummary = \"lorem\"\n");
    assert!(e.contains("field `tables.scenes.fake.summary`"), "{e}");
    assert!(e.contains("`lorem` is not a generator; use one of"), "{e}");
}

#[test]
fn scale_titles_stay_off_the_cache_test_page() {
    let e = rejected(|s| {
        s.replace(
            "title = \"Load Test Story {n}\"",
            "title = \"Cache Test Story {n}\"",
        )
    });
    assert!(e.contains("field `scale.title`"), "{e}");
    assert!(
        e.contains("must not start with \"Cache Test Story\""),
        "{e}"
    );
    let e = rejected(|s| {
        s.replace(
            "title = \"Load Test Story {n}\"",
            "title = \"Load Test Story\"",
        )
    });
    assert!(e.contains("must contain {n}"), "{e}");
}

#[test]
fn api_key_scopes_are_the_app_s() {
    let e = rejected(|s| s.replacen("\"stories:read\"", "\"stories:everything\"", 1));
    assert!(e.contains("field `accounts.writer.api_keys`"), "{e}");
    assert!(
        e.contains("`stories:everything` is not a scope the app knows"),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "bad.toml:{}:",
            line_of("name = \"cache-tests writer\"")
        )),
        "{e}"
    );
}

#[test]
fn storage_state_files_are_plain_distinct_json_names() {
    let e = rejected(|s| {
        s.replace(
            "storage_state = \"reader.json\"",
            "storage_state = \"../reader.json\"",
        )
    });
    assert!(e.contains("field `accounts.reader.storage_state`"), "{e}");
    assert!(
        e.contains("must be a plain file name ending in .json"),
        "{e}"
    );
    let e = rejected(|s| {
        s.replace(
            "storage_state = \"reader.json\"",
            "storage_state = \"user.json\"",
        )
    });
    assert!(
        e.contains("`user.json` is also the file of auth.default_file"),
        "{e}"
    );
    let e = rejected(|s| {
        s.replace(
            "storage_state = \"reader.json\"",
            "storage_state = \"writer.json\"",
        )
    });
    assert!(e.contains("is also the file of accounts."), "{e}");
}

#[test]
fn a_password_comes_from_one_place() {
    let e = rejected(|s| {
        s.replace(
            "password_env = \"FIXTURE_WRITER_PASSWORD\"",
            "password_env = \"FIXTURE_WRITER_PASSWORD\"\npassword = \"hunter2\"",
        )
    });
    assert!(e.contains("field `accounts.writer.password`"), "{e}");
    assert!(
        e.contains("give either password or password_env, not both"),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn an_adopted_account_is_not_also_created() {
    let e = rejected(|s| {
        s.replace(
            "username = \"cache_test_manager\"",
            "username = \"cache_test_manager\"\nadopt_email = \"manager@fictures.xyz\"",
        )
    });
    assert!(e.contains("accounts.manager"), "{e}");
}
