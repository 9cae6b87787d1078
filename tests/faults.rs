//! Safety under faults: a connection cut at any point of a `seed` or
//! `teardown` leaves the database exactly as it was (or, for a cut after
//! the COMMIT was sent, possibly committed), fails with one clear line, and a
//! plain re-run recovers. A Redis connection cut after the commit reports the
//! committed-but-stale state and `invalidate` finishes the job.

mod common;
mod proxy;

use std::time::{Duration, Instant};

use common::*;
use proxy::{Cut, PgMessage, Proxy, pg_answers, pg_messages, pg_ssl_requested, through, upstream};

/// Runs `args` with the database reached through `proxy`, one connection
/// attempt, and waits until the proxy has seen the connection end.
fn run_via(env: &TestEnv, proxy: &Proxy, args: &[&str]) -> Run {
    // The stack's server offers TLS; cut points are placed by parsing the
    // protocol, so this connection stays in the clear.
    let url = format!("{}?sslmode=disable", through(&env.db_url, proxy));
    let mut all = vec!["--database-url", &url, "--connect-attempts", "1"];
    all.extend_from_slice(args);
    // Every run reads the catalog afresh, as the measured run did: a hint is
    // kept per URL, and a later proxy can get an earlier one's port.
    let run = env.run_with(&all, &[("FICTURES_SEED_CACHE_DIR", "")]);
    assert!(
        proxy.wait_idle(Duration::from_secs(10)),
        "the proxied connection is still open after the run"
    );
    run
}

/// Waits until no session of the tool is left on the test's database: a cut
/// connection's backend may still be finishing (or rolling back) its batch,
/// and the database must be read only after it is gone.
fn settle(env: &TestEnv) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let n = env.count(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'fictures-seed'",
        );
        if n == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "a cut session of the tool is still open after 15 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What one uninterrupted run sends and receives.
struct Traffic {
    client: Vec<PgMessage>,
    /// Ends of the server's answers (the first one ends the startup).
    answers: Vec<usize>,
    /// Client bytes up to and including the Query message that commits.
    commit_end: u64,
    client_total: u64,
    server_total: u64,
}

/// Runs `args` through a proxy that never cuts and maps its traffic.
fn measure(env: &TestEnv, args: &[&str]) -> Traffic {
    let proxy = Proxy::start(upstream(&env.db_url), Cut::Never);
    run_via(env, &proxy, args).expect(0);
    let sent = proxy.client_sent();
    let got = proxy.server_sent();
    assert_eq!(
        proxy.connections(),
        1,
        "the tool uses one PostgreSQL connection"
    );
    let client = pg_messages(&sent);
    assert_eq!(
        client.last().map(|m| (m.end, m.kind)),
        Some((sent.len(), b'X')),
        "the client stream parses completely and ends with Terminate (TLS must be off)"
    );
    let commit = client
        .iter()
        .rfind(|m| m.kind == b'Q')
        .expect("the run sends queries");
    assert!(
        commit.sql.trim_end().ends_with("COMMIT"),
        "the last query commits: {}",
        &commit.sql[commit.sql.len().saturating_sub(200)..]
    );
    let answers = pg_answers(&got, pg_ssl_requested(&sent));
    assert_eq!(answers.last(), Some(&got.len()), "the server stream parses");
    Traffic {
        commit_end: commit.end as u64,
        client_total: sent.len() as u64,
        server_total: got.len() as u64,
        client,
        answers,
    }
}

/// How many cut points to take per direction (plus the ones around the
/// COMMIT, which are always taken).
const PER_DIRECTION: usize = 11;

/// Cut points spread over a whole run, in both directions, placed where the
/// protocol changes state and inside every message rather than at even byte
/// distances (which would nearly all land in the two largest messages):
///
/// - client → server: the middle of every message up to the COMMIT
///   (SSLRequest, startup, each batch: the server holds half a message), the
///   end of every query (the server has it, its answer is lost), and all but
///   the last byte of the COMMIT batch. The Terminate after the COMMIT is no
///   cut point: the run's outcome is already decided and the tool ignores
///   errors while closing, so exit 0 is right there.
/// - server → client: the first byte and the middle of every answer, and all
///   but the last byte of the COMMIT's answer.
///
/// When a direction has more candidates than [`PER_DIRECTION`], evenly spaced
/// ones are taken, always keeping those around the COMMIT.
fn cut_points(t: &Traffic) -> Vec<Cut> {
    let mut client = Vec::new();
    for m in t.client.iter().filter(|m| m.end as u64 <= t.commit_end) {
        let (s, e) = (m.start as u64, m.end as u64);
        client.push((s + e) / 2);
        if m.kind == b'Q' {
            client.push(e);
        }
    }
    let commit = t.commit_end;
    client.push(commit - 1);
    let mut server = Vec::new();
    let mut start = 0u64;
    for &end in &t.answers {
        server.extend([start + 1, (start + end as u64) / 2]);
        start = end as u64;
    }
    let last = t.answers.len() - 2;
    let commit_answer = (t.answers[last] as u64, t.answers[last + 1] as u64);
    server.push(commit_answer.1 - 1);
    let client_must = [commit - 1, commit];
    let server_must = [
        commit_answer.0 + 1,
        (commit_answer.0 + commit_answer.1) / 2,
        commit_answer.1 - 1,
    ];
    let pick = |mut all: Vec<u64>, must: &[u64]| -> Vec<u64> {
        all.sort_unstable();
        all.dedup();
        let mut chosen: Vec<u64> = if all.len() <= PER_DIRECTION {
            all.clone()
        } else {
            (0..PER_DIRECTION)
                .map(|i| all[i * (all.len() - 1) / (PER_DIRECTION - 1)])
                .collect()
        };
        chosen.extend(must);
        chosen.sort_unstable();
        chosen.dedup();
        chosen
    };
    let mut cuts: Vec<Cut> = pick(client, &client_must)
        .into_iter()
        .map(Cut::AfterClientBytes)
        .collect();
    cuts.extend(
        pick(server, &server_must)
            .into_iter()
            .map(Cut::AfterServerBytes),
    );
    cuts
}

/// One command run once per cut point.
struct Rounds<'a> {
    args: &'a [&'a str],
    cuts: &'a [Cut],
    traffic: &'a Traffic,
    /// Brings the database to the starting state.
    prepare: &'a dyn Fn(&TestEnv),
    /// The starting state's checksums, when they are the same every round.
    start: Option<&'a [String]>,
    /// The checksums of the state a complete run reaches.
    done: &'a [String],
    /// Direct runs that must then succeed (each exiting 0).
    recover: &'a [&'a [&'a str]],
}

/// Runs the rounds and checks the outcome of each; returns how many cuts
/// left the database committed.
fn cut_everywhere(env: &TestEnv, r: &Rounds) -> usize {
    let Rounds {
        args,
        cuts,
        traffic,
        prepare,
        start,
        done,
        recover,
    } = *r;
    let mut committed = 0;
    for &cut in cuts {
        prepare(env);
        let before = env.checksums();
        if let Some(start) = start {
            assert_eq!(before, start, "{args:?} {cut:?}: the starting state");
        }
        let proxy = Proxy::start(upstream(&env.db_url), cut);
        let run = run_via(env, &proxy, args);
        let (client, server) = (proxy.client_bytes(), proxy.server_bytes());
        let own = pg_messages(&proxy.client_sent());
        drop(proxy);
        let what = format!(
            "{args:?} cut {cut:?} (full run: {} client / {} server bytes, COMMIT sent by client byte {}); forwarded {client} client / {server} server bytes",
            traffic.client_total, traffic.server_total, traffic.commit_end
        );
        let stderr = run.stderr();
        assert_eq!(
            run.code(),
            4,
            "{what}: expected exit 4 (connection lost)\nstdout:\n{}\nstderr:\n{stderr}",
            run.stdout()
        );
        let lines: Vec<&str> = stderr.lines().collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with("error: ") && lines[0].contains("PostgreSQL"),
            "{what}: stderr must be one `error:` line about PostgreSQL, got:\n{stderr}"
        );
        // The run repeats the uninterrupted run's messages (the SQL may list
        // ids in another order, but every message has the same length), so
        // the measured offsets apply to it, and its own complete messages
        // tell whether the COMMIT batch went out.
        let shape = |m: &PgMessage| (m.kind, m.start, m.end);
        assert!(
            traffic
                .client
                .get(..own.len())
                .is_some_and(|m| m.iter().map(shape).eq(own.iter().map(shape))),
            "{what}: the client's messages differ in size from the uninterrupted run's"
        );
        let commit_sent = own
            .iter()
            .any(|m| m.kind == b'Q' && m.sql.trim_end().ends_with("COMMIT"));
        assert_eq!(commit_sent, client >= traffic.commit_end, "{what}");
        settle(env);
        let after = env.checksums();
        // Once the whole COMMIT batch has reached the server, the server
        // runs it whether or not its answer gets back: the transaction may
        // be committed (or rolled back, when PostgreSQL notices the dead
        // client before the COMMIT statement), and no client can know which.
        // Only then may the database equal the finished state instead of the
        // state before; a cut anywhere earlier must leave it untouched. The
        // client byte count reaching the end of the COMMIT query (measured on
        // the uninterrupted run, whose message sizes this run repeats) tells
        // them apart.
        if client >= traffic.commit_end {
            assert!(
                after == before || after == done,
                "{what}: after a cut past the COMMIT the database must be either untouched or finished"
            );
            if after == done && after != before {
                committed += 1;
            }
        } else {
            assert_eq!(
                after, before,
                "{what}: a cut before the COMMIT was sent must leave the database untouched"
            );
        }
        for r in recover {
            let again = env.run(r);
            assert_eq!(
                again.code(),
                0,
                "{what}: then {r:?} must succeed\nstdout:\n{}\nstderr:\n{}",
                again.stdout(),
                again.stderr()
            );
        }
    }
    committed
}

#[test]
fn seed_cut_anywhere_leaves_the_database_untouched() {
    let started = Instant::now();
    let env = TestEnv::new();
    env.add_foreign_rows();
    let empty = env.checksums();
    let traffic = measure(&env, &["seed", "--quiet"]);
    let seeded = env.checksums();
    assert_ne!(seeded, empty);
    env.run(&["teardown", "--quiet"]).expect(0);
    assert_eq!(env.checksums(), empty);

    let cuts = cut_points(&traffic);
    // Each message and answer of the run is cut inside (a fresh seed is
    // three round trips after the handshake), so this is the floor.
    assert!(cuts.len() >= 15, "{} cut points", cuts.len());
    let start_empty = |env: &TestEnv| {
        // The previous round ends seeded; teardown brings back the start.
        env.run(&["teardown", "--quiet"]).expect(0);
    };
    let committed = cut_everywhere(
        &env,
        &Rounds {
            args: &["seed"],
            cuts: &cuts,
            traffic: &traffic,
            prepare: &start_empty,
            start: Some(&empty),
            done: &seeded,
            recover: &[&["seed", "--quiet"], &["verify", "--quiet"]],
        },
    );
    eprintln!(
        "seed: {} cut points over {} client / {} server bytes, {committed} left committed, {:?}",
        cuts.len(),
        traffic.client_total,
        traffic.server_total,
        started.elapsed()
    );
}

/// Rows tests leave on and around the fixture, which `teardown` removes too.
fn add_debris(env: &TestEnv) {
    env.sql(&format!(
        "INSERT INTO community_posts (id, title, content, story_id, author_id) VALUES ('debrisPost0000000001', 'hi', 'x', '{STORY_1}', 'frgnUser0000000000002');
         INSERT INTO community_replies (id, content, post_id, author_id) VALUES ('debrisReply000000001', 'x', 'debrisPost0000000001', 'frgnUser0000000000001');
         INSERT INTO post_likes (post_id, user_id) VALUES ('debrisPost0000000001', 'frgnUser0000000000001');
         INSERT INTO reading_history (id, user_id, story_id) VALUES ('debrisRead0000000001', '{READER}', 'frgnStory000000000001');
         INSERT INTO stories (id, title, genre, author_id) VALUES ('debrisStory000000001', 'Made by a test', 'Horror', '{WRITER}');
         INSERT INTO chapters (id, title, story_id, author_id, order_index) VALUES ('debrisChapter0000001', 'c', 'debrisStory000000001', '{WRITER}', 1);
         INSERT INTO scenes (id, title, chapter_id, order_index) VALUES ('debrisScene000000001', 's', 'debrisChapter0000001', 1);
         INSERT INTO user_stats (id, user_id) VALUES ('debrisStats000000001', '{WRITER}');"
    ));
}

#[test]
fn teardown_cut_anywhere_leaves_the_database_untouched() {
    let started = Instant::now();
    let env = TestEnv::new();
    env.add_foreign_rows();
    let empty = env.checksums();
    env.run(&["seed", "--quiet"]).expect(0);
    add_debris(&env);
    let traffic = measure(&env, &["teardown", "--quiet"]);
    assert_eq!(
        env.checksums(),
        empty,
        "teardown leaves only the foreign rows"
    );

    let cuts = cut_points(&traffic);
    // Each message and answer of the run is cut inside (a fresh seed is
    // three round trips after the handshake), so this is the floor.
    assert!(cuts.len() >= 15, "{} cut points", cuts.len());
    let start_seeded = |env: &TestEnv| {
        // The previous round ends torn down (or this is the first round).
        env.run(&["seed", "--quiet"]).expect(0);
        env.run(&["verify", "--quiet"]).expect(0);
        add_debris(env);
    };
    let committed = cut_everywhere(
        &env,
        &Rounds {
            args: &["teardown"],
            cuts: &cuts,
            traffic: &traffic,
            prepare: &start_seeded,
            start: None,
            done: &empty,
            recover: &[&["teardown", "--quiet"]],
        },
    );
    assert_eq!(env.checksums(), empty);
    eprintln!(
        "teardown: {} cut points over {} client / {} server bytes, {committed} left committed, {:?}",
        cuts.len(),
        traffic.client_total,
        traffic.server_total,
        started.elapsed()
    );
}

/// Keys of the fixture's first story that SCAN must page through.
const STALE: usize = 5000;

fn fill_cache(env: &TestEnv) {
    for chunk in (0..STALE).collect::<Vec<_>>().chunks(1000) {
        let mut args = vec!["MSET".to_string()];
        for i in chunk {
            args.push(format!("story:{STORY_1}:x{i}"));
            args.push("{}".into());
        }
        args.extend(["story:someoneElse0000001:x".into(), "{}".into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(env.redis(&args), "OK");
    }
}

fn fixture_keys(env: &TestEnv) -> usize {
    env.redis_keys()
        .iter()
        .filter(|k| k.starts_with(&format!("story:{STORY_1}:")))
        .count()
}

#[test]
fn redis_cut_mid_invalidation_reports_committed_and_stale() {
    let env = TestEnv::new();
    env.add_foreign_rows();
    fill_cache(&env);
    assert_eq!(fixture_keys(&env), STALE);

    // The cache step's first request (an UNLINK per exact key, about 3 KB, and
    // the scan script that drops what it finds) follows the connection's
    // handshake (about 100 bytes) and the database's commit: a cut after
    // 1000 client bytes lands inside it, so the server runs none of it.
    let proxy = Proxy::start(upstream(&env.redis_url), Cut::AfterClientBytes(1000));
    let redis = through(&env.redis_url, &proxy);
    let run = env.run(&["--redis-url", &redis, "seed"]);
    assert!(proxy.was_cut(), "the cut happened");
    drop(proxy);
    let run = run.expect(7);
    let stderr = run.stderr();
    assert!(stderr.starts_with("error: "), "{stderr}");
    for needle in ["committed", "stale", "fictures-seed invalidate", "Redis"] {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
    }
    env.run(&["verify", "--no-cache", "--quiet"]).expect(0);
    assert!(
        fixture_keys(&env) > 0,
        "the cut left some of the fixture's keys"
    );

    env.run(&["invalidate", "--quiet"]).expect(0);
    assert_eq!(
        fixture_keys(&env),
        0,
        "invalidate removed the fixture's keys"
    );
    assert_eq!(
        env.redis(&["EXISTS", "story:someoneElse0000001:x"]),
        "1",
        "other stories' keys stay"
    );
    env.run(&["verify", "--quiet"]).expect(0);
    assert_eq!(
        stderr.lines().count(),
        1,
        "the failure must be one line on stderr:\n{stderr}"
    );
}

#[test]
fn redis_cut_before_commit_writes_nothing() {
    let env = TestEnv::new();
    env.add_foreign_rows();
    fill_cache(&env);
    let before = env.checksums();
    let keys = env.redis_keys();
    // The cut lands in the handshake (PING) that precedes every database write.
    let proxy = Proxy::start(upstream(&env.redis_url), Cut::AfterServerBytes(2));
    let redis = through(&env.redis_url, &proxy);
    let run = env.run(&["--redis-url", &redis, "seed"]).expect(4);
    drop(proxy);
    let stderr = run.stderr();
    assert!(
        stderr.starts_with("error: ") && stderr.contains("Redis"),
        "{stderr}"
    );
    assert_eq!(env.checksums(), before);
    assert_eq!(env.redis_keys(), keys);
    assert_eq!(
        stderr.lines().count(),
        1,
        "the failure must be one line on stderr:\n{stderr}"
    );
}

/// Once the whole COMMIT batch has reached the server, a lost answer leaves
/// the outcome unknown to the client (here the server does commit, restoring
/// a drifted title whose old value the app has cached). The message must not
/// claim a rollback it cannot know about, and following its advice must
/// recover fully, cache included: a re-run finds nothing left to change, so
/// it drops no keys of its own accord.
#[test]
fn a_lost_commit_answer_is_reported_honestly_and_recoverable() {
    let env = TestEnv::new();
    env.add_foreign_rows();
    env.run(&["seed", "--quiet"]).expect(0);
    let drift = || {
        env.sql(&format!(
            "UPDATE stories SET title = 'Drifted' WHERE id = '{STORY_1}'"
        ));
        env.redis(&[
            "SET",
            &format!("story:{STORY_1}"),
            &format!(r#"{{"id":"{STORY_1}","title":"Drifted"}}"#),
        ]);
    };
    drift();
    let drifted = env.checksums();
    let traffic = measure(&env, &["seed", "--quiet"]);
    let seeded = env.checksums();
    assert_ne!(seeded, drifted);
    for cut in [
        Cut::AfterClientBytes(traffic.commit_end),
        Cut::AfterServerBytes(traffic.server_total - 1),
    ] {
        drift();
        assert_eq!(env.checksums(), drifted);
        let proxy = Proxy::start(upstream(&env.db_url), cut);
        let run = run_via(&env, &proxy, &["seed"]);
        drop(proxy);
        assert_eq!(run.code(), 4, "{cut:?}: {}", run.stderr());
        settle(&env);
        let after = env.checksums();
        assert!(after == drifted || after == seeded, "{cut:?}");
        let outcome = if after == seeded {
            "committed"
        } else {
            "untouched"
        };
        let stderr = run.stderr();
        assert!(
            !stderr.contains("rolled back"),
            "{cut:?}: the database is {outcome}, yet the tool says:\n{stderr}"
        );
        // Follow the advice: `invalidate` when the message names it, then the
        // same command again; the fixture and the cache must then be exact.
        if stderr.contains("fictures-seed invalidate") {
            env.run(&["invalidate", "--quiet"]).expect(0);
        }
        env.run(&["seed", "--quiet"]).expect(0);
        let verify = env.run(&["verify"]);
        assert_eq!(
            verify.code(),
            0,
            "{cut:?}: the database was {outcome} and the tool said:\n{stderr}\nafter following that, verify finds:\n{}",
            verify.stdout()
        );
    }
}
