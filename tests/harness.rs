//! The harness itself: tests running at the same time write the same ids
//! into their own databases and Redis databases without seeing each other.

mod common;

use std::time::Duration;

use common::*;

fn write_same_ids_and_check(marker: &str) {
    let env = TestEnv::new();
    env.run(&["seed", "--quiet"]).expect(0);
    for round in 0..20 {
        let value = format!("{marker}-{round}");
        env.sql(&format!(
            "UPDATE stories SET title = '{value}' WHERE id = '{STORY_1}'"
        ));
        env.redis(&["SET", &format!("story:{STORY_1}"), &value]);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            env.sql(&format!("SELECT title FROM stories WHERE id = '{STORY_1}'")),
            value
        );
        assert_eq!(env.redis(&["GET", &format!("story:{STORY_1}")]), value);
    }
}

#[test]
fn isolation_a() {
    write_same_ids_and_check("a");
}

#[test]
fn isolation_b() {
    write_same_ids_and_check("b");
}

#[test]
fn each_test_gets_its_own_database_and_redis_database() {
    let (one, two) = (TestEnv::new(), TestEnv::new());
    assert_ne!(one.db_url, two.db_url);
    assert_ne!(one.redis_url, two.redis_url);
    one.run(&["seed", "--quiet"]).expect(0);
    assert_eq!(one.count("SELECT count(*) FROM scenes"), 45);
    assert_eq!(two.count("SELECT count(*) FROM scenes"), 0);
}

/// Run by the test below in a child process whose environment names servers
/// the project did not start; skipped when run any other way.
#[test]
fn probe_with_foreign_servers_in_the_environment() {
    if std::env::var_os("FICTURES_HARNESS_PROBE").is_none() {
        return;
    }
    let env = TestEnv::new();
    assert!(!env.redis_url.contains(":1/"), "{}", env.redis_url);
    assert!(!env.db_url.contains(":1/"), "{}", env.db_url);
    assert_eq!(env.redis(&["PING"]), "PONG");
    assert_eq!(env.count("SELECT 1"), 1);
}

#[test]
fn the_harness_uses_only_the_stack_the_project_started() {
    // A developer's shell with the app's .env exported: the tests must not
    // flush that Redis or touch that database.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "probe_with_foreign_servers_in_the_environment"])
        .env("FICTURES_HARNESS_PROBE", "1")
        .env("REDIS_URL", "redis://127.0.0.1:1/0")
        .env("DATABASE_URL", "postgres://app@127.0.0.1:1/app")
        .env("STACK_PG_ADMIN_URL", "postgres://app@127.0.0.1:1/postgres")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
