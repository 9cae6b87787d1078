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
