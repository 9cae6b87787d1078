//! Runs that overlap: every writing run serialises on the fixture lock, so
//! concurrent `seed`, `seed --prune` and `teardown` runs all finish (none
//! deadlocks, none corrupts another), and a run that cannot get the lock in
//! time stops cleanly with exit 6 and writes nothing.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Starts the tool in the background with the test's URLs.
fn spawn(env: &TestEnv, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fictures-seed"))
        .current_dir(repo())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &env.db_url)
        .env("REDIS_URL", &env.redis_url)
        .env("FIXTURE_API_KEY_SECRET", API_KEY_SECRET)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tool starts")
}

/// Waits for every child, failing (after killing the rest) past `limit`.
fn wait_all(children: Vec<(String, Child)>, limit: Duration) -> Vec<(String, Run)> {
    let deadline = Instant::now() + limit;
    let mut pending: Vec<Option<(String, Child)>> = children.into_iter().map(Some).collect();
    let mut done: Vec<Option<(String, Run)>> = pending.iter().map(|_| None).collect();
    while done.iter().any(Option::is_none) {
        for (i, slot) in pending.iter_mut().enumerate() {
            let Some((_, child)) = slot else { continue };
            if child.try_wait().expect("try_wait").is_some() {
                let (name, child) = slot.take().unwrap();
                done[i] = Some((name, Run(child.wait_with_output().unwrap())));
            }
        }
        if Instant::now() > deadline {
            let stuck: Vec<String> = pending.iter().flatten().map(|(n, _)| n.clone()).collect();
            for (_, child) in pending.iter_mut().flatten() {
                let _ = child.kill();
                let _ = child.wait();
            }
            panic!("runs still going after {limit:?} (deadlock?): {stuck:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done.into_iter().map(Option::unwrap).collect()
}

#[test]
fn overlapping_writers_all_finish() {
    let env = TestEnv::new();
    env.add_foreign_rows();
    let foreign = env.checksums();
    let mix: [&[&str]; 8] = [
        &["seed"],
        &["teardown"],
        &["seed", "--prune"],
        &["seed"],
        &["teardown"],
        &["seed", "--prune"],
        &["teardown"],
        &["seed"],
    ];
    // Two rounds: one from an empty database, one from a seeded one.
    for round in 0..2 {
        if round == 1 {
            env.run(&["seed", "--quiet"]).expect(0);
        }
        // The fixture lock, held while they start, keeps every run waiting
        // until all eight are up, however slowly the machine starts them.
        let holder = LockHolder::start(&env);
        let mut children: Vec<(String, Child)> = mix
            .iter()
            .map(|args| {
                let mut all = vec!["--lock-timeout", "60s", "--quiet"];
                all.extend_from_slice(args);
                (format!("{args:?}"), spawn(&env, &all))
            })
            .collect();
        let overlapping = children
            .iter_mut()
            .all(|(_, c)| c.try_wait().unwrap().is_none());
        assert!(overlapping, "a run ended before the last one started");
        holder.release(&env);
        for (name, run) in wait_all(children, Duration::from_secs(45)) {
            let stderr = run.stderr();
            match run.code() {
                0 => assert!(stderr.is_empty(), "{name}: {stderr}"),
                6 => assert!(
                    stderr.lines().count() == 1
                        && stderr.starts_with("error: ")
                        && stderr.contains("lock"),
                    "{name}: exit 6 with an unclear message:\n{stderr}"
                ),
                code => panic!("round {round}: {name} exited {code}:\n{stderr}"),
            }
        }
        env.run(&["seed", "--quiet"]).expect(0);
        env.run(&["verify"]).expect(0);
        env.run(&["teardown", "--quiet"]).expect(0);
        assert_eq!(
            env.checksums(),
            foreign,
            "round {round}: only the foreign rows are left, unchanged"
        );
    }
}

/// A session holding the fixture lock (as another run would) until it is
/// terminated or 5 s pass.
struct LockHolder {
    child: Child,
}

const HOLDER: &str = "fictures-seed-test-lock-holder";

impl LockHolder {
    /// Holds the fixture's advisory lock, as another run would.
    fn start(env: &TestEnv) -> LockHolder {
        Self::holding(
            env,
            "SELECT pg_advisory_xact_lock(hashtextextended('fictures-seed/fixture', 0))",
            "advisory",
        )
    }

    /// Runs `take` in an open transaction and waits until a lock of
    /// `locktype` is granted to it. Tests run side by side, each in its own
    /// database, so the wait looks only at this test's database: another
    /// test's holder already granted must not end it early.
    fn holding(env: &TestEnv, take: &str, locktype: &str) -> LockHolder {
        let child = Command::new("psql")
            .env("PGAPPNAME", HOLDER)
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                &env.db_url,
                "-c",
                // Held until `release` (or the test's database is dropped):
                // a holder that gave up by itself would let a slow test's
                // later run through.
                &format!("BEGIN; {take}; SELECT pg_sleep(600);"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("psql starts");
        let holder = LockHolder { child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while env.count(&format!(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
             WHERE l.locktype = '{locktype}' AND l.granted AND a.application_name = '{HOLDER}' \
             AND a.datname = current_database()"
        )) == 0
        {
            assert!(Instant::now() < deadline, "the holder never got the lock");
            std::thread::sleep(Duration::from_millis(20));
        }
        holder
    }

    fn release(mut self, env: &TestEnv) {
        env.sql(&format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '{HOLDER}' AND datname = current_database()"
        ));
        let _ = self.child.wait();
    }
}

#[test]
fn a_held_lock_times_out_cleanly_and_writes_nothing() {
    let env = TestEnv::new();
    env.add_foreign_rows();
    let before = env.checksums();
    let holder = LockHolder::start(&env);

    let started = Instant::now();
    let run = env.run(&["seed", "--lock-timeout", "500ms"]).expect(6);
    let took = started.elapsed();
    assert!(
        // Far under the 30 s default, with room for a loaded machine.
        took < Duration::from_secs(15),
        "gave up after {took:?}, not after about 500 ms"
    );
    let stderr = run.stderr();
    assert_eq!(stderr.lines().count(), 1, "one line:\n{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("lock"),
        "{stderr}"
    );
    assert_eq!(env.checksums(), before, "nothing was written");

    // `teardown` waits on the same lock.
    env.run(&["teardown", "--lock-timeout", "300ms", "--quiet"])
        .expect(6);
    holder.release(&env);

    env.run(&["seed", "--lock-timeout", "5s", "--quiet"])
        .expect(0);
    env.run(&["verify", "--quiet"]).expect(0);
}

#[test]
fn a_row_lock_held_by_someone_else_is_not_called_the_fixture_lock() {
    let env = TestEnv::new();
    env.run(&["seed", "--quiet"]).expect(0);
    env.sql(&format!(
        "UPDATE stories SET title = 'x' WHERE id = '{STORY_1}'"
    ));
    // The app (or a test) holds the row seed must restore.
    let holder = LockHolder::holding(
        &env,
        &format!("SELECT 1 FROM stories WHERE id = '{STORY_1}' FOR UPDATE"),
        "transactionid",
    );
    let run = env.run(&["seed", "--lock-timeout", "500ms"]).expect(6);
    let stderr = run.stderr();
    assert!(
        stderr.contains("holds a lock on rows or tables the fixture writes"),
        "{stderr}"
    );
    assert!(!stderr.contains("fictures-seed run"), "{stderr}");
    holder.release(&env);

    // Only the advisory lock is called the fixture lock.
    let holder = LockHolder::start(&env);
    let run = env.run(&["seed", "--lock-timeout", "500ms"]).expect(6);
    assert!(
        run.stderr()
            .contains("another fictures-seed run holds the fixture lock"),
        "{}",
        run.stderr()
    );
    holder.release(&env);
}

#[test]
fn the_run_time_limit_says_how_far_the_run_got() {
    let env = TestEnv::new();
    let before = env.checksums();
    // Waiting for the fixture lock, nothing has been sent to commit.
    let holder = LockHolder::start(&env);
    let run = env
        .run(&["seed", "--timeout", "1s", "--lock-timeout", "30s"])
        .expect(8);
    assert!(
        run.stderr().contains("nothing was written"),
        "{}",
        run.stderr()
    );
    holder.release(&env);
    assert_eq!(env.checksums(), before);

    // A deferred check that runs at COMMIT and outlasts the limit: the
    // outcome is unknown, and the message says so.
    env.sql(
        "CREATE FUNCTION slow_check() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(20); RETURN NULL; END $$;
         CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON stories DEFERRABLE INITIALLY DEFERRED
           FOR EACH ROW EXECUTE FUNCTION slow_check()",
    );
    // The limit leaves room for a loaded machine to reach the COMMIT.
    let run = env.run(&["seed", "--timeout", "5s"]).expect(4);
    let stderr = run.stderr();
    assert!(stderr.contains("after the COMMIT was sent"), "{stderr}");
    assert!(stderr.contains("may or may not be committed"), "{stderr}");
    assert!(!stderr.contains("nothing was written"), "{stderr}");
}
