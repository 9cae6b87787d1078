//! The cache step on a busy Redis: among many keys of other stories and users
//! (same families, ids of the same length and alphabet), `seed`, `verify`
//! and `teardown` find exactly the fixture's keys, with the scan script and,
//! where an ACL refuses scripts, with plain SCAN MATCH, in one chain of steps
//! or in four side by side, on Redis and on Valkey; and a pass's steps end at
//! their time budget on both.

mod common;

use common::*;
use std::collections::BTreeSet;

/// Unrelated keys: the app's families for `n` other ids of the fixture's id
/// length, drawn from the nanoid alphabet with a fixed generator, so some
/// share characters with fixture ids at many positions.
fn crowd(env: &TestEnv, n: usize) {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut id = || -> String {
        (0..21)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ALPHABET[(state % 64) as usize] as char
            })
            .collect()
    };
    let mut script = String::new();
    for i in 0..n {
        let other = id();
        // One in three crowd ids differs from story 1's id in one position only.
        let near = if i % 3 == 0 {
            let mut s = STORY_1.to_string();
            s.replace_range(i % 21..i % 21 + 1, "#");
            s
        } else {
            other.clone()
        };
        for key in [
            format!("story:{other}"),
            format!("story:{near}:public"),
            format!("scene:{other}:panels:public"),
            format!("user:{other}:stories"),
            format!("session:{other}"),
        ] {
            script.push_str(&format!("SET {key} x EX 600\n"));
        }
    }
    for key in lookalikes() {
        script.push_str(&format!("SET {key} x EX 600\n"));
    }
    pipe(env, &script);
}

/// Sends `script`, one command per line, to the test's Redis.
fn pipe(env: &TestEnv, script: &str) {
    // One file per call: the tests of this binary run side by side.
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path();
    std::fs::write(path, script).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "redis-cli -u '{}' --pipe < '{}' > /dev/null",
            env.redis_url,
            path.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "filling Redis failed");
}

/// Keys of ids spliced from two fixture story ids, or of a family name
/// spliced from two: every byte is one a fixture prefix has at that position,
/// so they fit the scan's MATCH pattern, and only the check of the exact
/// prefix (in the script that drops keys, and in the client) keeps them.
fn lookalikes() -> Vec<String> {
    let spliced = format!("{}{}", &STORY_1[..10], &STORY_2[10..]);
    vec![
        format!("story:{spliced}:public"),
        format!("stene:{STORY_1}:public"),
        format!("story:{spliced}:chapters:public"),
        format!("fictures:studio:story:{spliced}:x"),
    ]
}

/// Keys of the fixture's families, prefixed ones among them.
fn fixture_keys(env: &TestEnv) -> Vec<String> {
    let scene = env.sql(&format!(
        "SELECT s.id FROM scenes s JOIN chapters c ON c.id = s.chapter_id \
         WHERE c.story_id = '{STORY_1}' ORDER BY c.order_index, s.order_index LIMIT 1"
    ));
    let chapter = env.sql(&format!(
        "SELECT id FROM chapters WHERE story_id = '{STORY_2}' ORDER BY order_index LIMIT 1"
    ));
    let keys = vec![
        format!("story:{STORY_1}"),
        format!("chapter:{chapter}:scenes:public"),
        format!("fictures:cache-test:story:{STORY_3}:x"),
        format!("story:{STORY_1}:structure:scenes:true:user:{READER}"),
        format!("story:{STORY_2}:chapters:public"),
        format!("community:story:{STORY_3}:posts:public"),
        format!("fictures:studio:story:{STORY_1}:anything:new"),
        format!("scene:{scene}:panels:limit:7:public"),
        format!("user:{WRITER}:stories:with-first-chapter"),
        "stories:published".to_string(),
    ];
    for k in &keys {
        env.redis(&["SET", k, "{}", "EX", "600"]);
    }
    keys
}

fn dbsize(env: &TestEnv) -> usize {
    env.redis(&["DBSIZE"]).trim().parse().unwrap()
}

fn finds_exactly_the_fixture_keys(env: &TestEnv, crowd_ids: usize, extra: usize) {
    env.run(&["seed", "--quiet", "--no-cache"]).expect(0);
    crowd(env, crowd_ids);
    let crowd = dbsize(env);
    assert!(crowd > 4 * crowd_ids, "{crowd} unrelated keys");
    let mut ours = fixture_keys(env);
    // Spread over the whole keyspace, so a stretch of buckets a scan missed
    // would hold some.
    for i in 0..extra {
        let key = format!("fictures:studio:story:{STORY_1}:spread:{i}");
        ours.push(key);
    }
    let mut script = String::new();
    for key in &ours[ours.len() - extra..] {
        script.push_str(&format!("SET {key} x EX 600\n"));
    }
    pipe(env, &script);
    assert_eq!(dbsize(env), crowd + ours.len());

    // verify reports every fixture key present, and only those.
    let report = env.run(&["verify", "--json"]).expect(0).json();
    let present: BTreeSet<String> = report["cache"]["present"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap().to_string())
        .collect();
    let expected: BTreeSet<String> = ours.iter().cloned().collect();
    // The lookalikes test the exact check only if the scan's pattern lets
    // them through.
    let log = env.run(&["verify", "-vv"]).expect(0).stderr();
    let pattern = log
        .lines()
        .find_map(|l| l.split_once("scanning with MATCH ").map(|(_, p)| p.trim()))
        .unwrap_or_else(|| panic!("no pattern in the log: {log}"));
    let fitting = env.redis(&["SCAN", "0", "MATCH", pattern, "COUNT", "100000000"]);
    for k in lookalikes() {
        assert!(
            fitting.lines().any(|l| l == k),
            "{k} does not fit {pattern}"
        );
    }
    let missed: Vec<_> = expected.difference(&present).collect();
    let extra: Vec<_> = present.difference(&expected).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "missed {missed:?}, extra {extra:?}"
    );

    // A dry-run teardown lists them; a real one removes them and nothing else.
    let listed = env
        .run(&["teardown", "--dry-run", "--json"])
        .expect(0)
        .json();
    assert_eq!(listed["cache"]["removed"].as_u64(), Some(ours.len() as u64));
    assert_eq!(dbsize(env), crowd + ours.len(), "a dry run removes nothing");
    let report = env.run(&["teardown", "--json"]).expect(0).json();
    assert_eq!(report["cache"]["removed"].as_u64(), Some(ours.len() as u64));
    assert_eq!(dbsize(env), crowd);
    for k in lookalikes() {
        assert_eq!(env.redis(&["EXISTS", &k]).trim(), "1", "{k} must stay");
    }
    for k in &ours {
        assert_eq!(env.redis(&["EXISTS", k]).trim(), "0", "{k} must go");
    }
}

#[test]
fn a_busy_keyspace_gives_up_exactly_the_fixture_keys() {
    finds_exactly_the_fixture_keys(&TestEnv::new(), 4000, 0);
}

/// Past 100,000 keys a pass runs as four chains of steps side by side, each
/// over its own share of the buckets; together they miss nothing.
fn four_chains_find_exactly_the_fixture_keys(env: &TestEnv) {
    finds_exactly_the_fixture_keys(env, 25_000, 400);
    let log = env.run(&["verify", "-vv"]).stderr();
    assert!(log.contains("in 4 chains"), "{log}");
}

#[test]
fn a_keyspace_walked_by_four_chains_gives_up_exactly_the_fixture_keys() {
    four_chains_find_exactly_the_fixture_keys(&TestEnv::new());
}

/// Valkey names its mode `server_mode`, not `redis_mode`, and is split too.
#[test]
fn a_valkey_keyspace_walked_by_four_chains_gives_up_exactly_the_fixture_keys() {
    four_chains_find_exactly_the_fixture_keys(&TestEnv::on_valkey());
}

#[test]
fn without_scripts_plain_scans_find_the_same_keys() {
    let mut env = TestEnv::new();
    // An ACL user that may do anything but run scripts, as some hosted Redis plans do.
    let user = unique("noscript");
    env.redis(&[
        "ACL",
        "SETUSER",
        &user,
        "reset",
        "on",
        ">pw",
        "~*",
        "&*",
        "+@all",
        "-@scripting",
    ]);
    let mut url = url::Url::parse(&env.redis_url).unwrap();
    url.set_username(&user).unwrap();
    url.set_password(Some("pw")).unwrap();
    let admin = std::mem::replace(&mut env.redis_url, url.to_string());
    let refused = env.redis(&["EVAL", "return 1", "0"]);
    assert!(refused.contains("NOPERM"), "scripts are refused: {refused}");
    // Large enough for four chains, each scanning on its own.
    finds_exactly_the_fixture_keys(&env, 25_000, 400);
    let log = env.run(&["verify", "-vv"]).stderr();
    assert!(log.contains("scanning with SCAN MATCH"), "{log}");
    assert!(log.contains("in 4 chains"), "{log}");
    env.redis_url = admin;
    env.redis(&["ACL", "DELUSER", &user]);
}

/// The scan step's own text (`src/io/scan_step.lua`) with a header that
/// keeps every key, as `FIND_SCRIPT`'s does; `clock` replaces its clock line.
fn step_script(clock: Option<&str>) -> String {
    const CLOCK: &str = "local clock = rawget(_G, 'os') and os.clock";
    let body = include_str!("../src/io/scan_step.lua");
    assert!(
        body.contains(CLOCK),
        "the step's clock moved: update this test"
    );
    let body = clock.map_or(body.to_string(), |c| body.replace(CLOCK, c));
    format!("local function take(k) return true end\n{body}")
}

/// Runs one step of `script` from cursor 0 over the whole keyspace (MATCH *,
/// 1000 buckets a SCAN, one chain) with budgets of `wall` µs on TIME and
/// `cpu` µs on `os.clock`, and at most `scans` SCANs where its clock stands
/// still; returns the next cursor and how many keys it found.
fn one_step(env: &TestEnv, script: &str, scans: &str, wall: &str, cpu: &str) -> (String, usize) {
    let args = [
        "EVAL", script, "0", "0", "*", wall, "1000", "0", "0", scans, cpu,
    ];
    let out = env.redis(&args);
    let mut lines = out.lines();
    (lines.next().unwrap_or_default().to_string(), lines.count())
}

/// A budget or a count of SCANs no step reaches.
const ENDLESS: &str = "1000000000000";

/// Adds `keys` keys `crowd:N` (a multiple of 100,000), 100,000 a script (about
/// 0.1 s), so the server is never held long.
fn numbered_crowd(env: &TestEnv, keys: usize) {
    let fill = "local n = redis.call('DBSIZE') \
                for i = n + 1, n + 100000 do redis.call('SET', 'crowd:' .. i, 'x') end";
    for _ in 0..keys / 100_000 {
        env.redis(&["EVAL", fill, "0"]);
    }
}

/// Each scan step ends when its time budget is spent. Redis 7.2 and later
/// answer TIME with the script's start for its whole run, so the step reads
/// `os.clock` where the server has it: a step with no limit on its SCANs
/// still ends early on a million keys, and the tool's pass takes more steps
/// than chains.
fn steps_end_at_their_budget(env: &TestEnv) {
    env.run(&["seed", "--quiet", "--no-cache"]).expect(0);
    numbered_crowd(env, 1_000_000);
    assert_eq!(dbsize(env), 1_000_000);
    // Only a clock that moves ends this step before the keyspace does, and
    // only the budget of the clock the server has: the other one is endless.
    let cpu_clock = env.redis(&["EVAL", "return rawget(_G, 'os') and 1 or 0", "0"]);
    let (wall, cpu) = match cpu_clock.trim() {
        "1" => (ENDLESS, "25000"),
        _ => ("40000", ENDLESS),
    };
    let (cursor, _) = one_step(env, &step_script(None), ENDLESS, wall, cpu);
    assert_ne!(
        cursor, "0",
        "the step's clock stood still, or it kept the other clock's budget"
    );
    let log = env.run(&["invalidate", "-vv"]).expect(0).stderr();
    // Plain SCANs, where the server refuses the script, would pass below too.
    assert!(!log.contains("scan script refused"), "{log}");
    let pass = log
        .lines()
        .find_map(|l| l.split_once("a pass took ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no pass in the log: {log}"));
    let numbers: Vec<u64> = pass.split(' ').filter_map(|w| w.parse().ok()).collect();
    let [steps, chains] = numbers[..] else {
        panic!("{pass}")
    };
    assert_eq!(chains, 4, "{pass}");
    assert!(
        steps > chains,
        "each chain ran its share in one step: {pass}"
    );
}

#[test]
fn steps_end_at_their_budget_on_redis() {
    steps_end_at_their_budget(&TestEnv::new());
}

#[test]
fn steps_end_at_their_budget_on_valkey() {
    steps_end_at_their_budget(&TestEnv::on_valkey());
}

/// Where a script's clock stands still (Redis 7.2 and 7.3 and Valkey 7.2
/// answer TIME with the script's start and have no `os.clock`), a step ends
/// after its count of SCANs. Neither server here has such a clock, so the
/// step's own text runs with its clock pinned.
#[test]
fn a_step_whose_clock_stands_still_ends_after_its_count_of_scans() {
    let env = TestEnv::new();
    numbered_crowd(&env, 100_000);
    let pinned = step_script(Some("local clock = function() return 0 end"));
    // With no limit on its SCANs, the pinned clock lets a step run to the end.
    let (cursor, found) = one_step(&env, &pinned, "1000000", "40000", "25000");
    assert_eq!(cursor, "0");
    assert!(found >= 100_000, "{found}");
    let (cursor, found) = one_step(&env, &pinned, "15", "40000", "25000");
    assert_ne!(
        cursor, "0",
        "15 SCANs of 1000 buckets cannot cover 100,000 keys"
    );
    assert!(found > 0 && found < 100_000, "{found}");
}
