//! Part 5 (issue 15): a seed that changes one scene, with the servers 50 ms
//! away and a Redis that holds a million unrelated keys (and, where the stack
//! has one, a Valkey that does), and the longest Redis command of ours as the
//! server's SLOWLOG saw it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};

use crate::ctx::*;
use crate::probe::Probe;
use crate::proxy::*;
use crate::stats::*;
use crate::tls_front;

/// One measured case: its name, the runs' wall times, round trips and Redis commands.
pub(crate) struct Case {
    name: String,
    goal: &'static str,
    limit: Option<Duration>,
    stats: Stats,
    round_trips: u64,
    redis_commands: u64,
    /// Bytes of the largest request to PostgreSQL through a delaying proxy.
    largest_request: u64,
    /// Bytes of the largest answer from PostgreSQL through a delaying proxy.
    largest_answer: u64,
}

/// Part 5's first case run by this build and by `BENCH_COMPARE_BIN` in
/// alternation, for changes smaller than the hour-to-hour drift.
pub(crate) struct Paired {
    other: String,
    this: Stats,
    that: Stats,
    /// The other build's wall minus this build's, over the pairs: the mean
    /// and its standard error, in ms.
    mean: f64,
    error: f64,
}

/// How one case runs the tool, and what it is held to.
struct Spec<'a> {
    name: &'a str,
    goal: &'static str,
    limit: Option<Duration>,
    pg: &'a str,
    redis: &'a str,
    verb: &'a str,
    extra: &'a [&'a str],
    vars: &'a [(&'a str, &'a str)],
    /// Keys of the fixture set in the plain Redis database before each run,
    /// as the app would have cached them.
    cached: &'a [String],
}

impl<'a> Spec<'a> {
    /// A seed with nothing extra, for information.
    fn seed(name: &'a str, pg: &'a str, redis: &'a str) -> Spec<'a> {
        Spec {
            name,
            goal: "(for information)",
            limit: None,
            pg,
            redis,
            verb: "seed",
            extra: &[],
            vars: &[],
            cached: &[],
        }
    }
}

pub(crate) struct Busy {
    keys: u64,
    cases: Vec<Case>,
    paired: Option<Paired>,
    /// What our commands held each busy server for: Redis', then Valkey's
    /// where it ran.
    held: Vec<Held>,
}

/// A busy server's time spent on goal 1's cases, from its SLOWLOG, beside
/// the least any pass over its keyspace costs.
struct Held {
    server: String,
    /// One pass with a pattern that no key fits, in one script: median µs.
    floor: u64,
    /// Our script steps' µs per run of the far seed case, and of the far verify.
    seed: u64,
    verify: u64,
    /// The longest EVAL/SCAN/EXISTS/UNLINK of ours in any case, µs.
    longest: u64,
    /// What a PING of another client waited while the far seed case ran:
    /// the longest, and the 99th percentile.
    app_longest: Duration,
    app_p99: Duration,
}

const BUSY_DB: &str = "201";

pub(crate) fn busy_section(ctx: &Ctx) -> Result<Busy> {
    let keys = env_usize("BENCH_BUSY_KEYS", 1_000_000)? as u64;
    let runs = ctx.proxy_runs;
    let pg_proxy = DelayProxy::start(ctx.pg_addr()?, ctx.delay)?;
    let pg_slow_start = DelayProxy::over(
        ctx.pg_addr()?,
        Link {
            delay: ctx.delay,
            window: Some(INITIAL_WINDOW),
        },
    )?;
    let redis_proxy = DelayProxy::start(ctx.redis_addr()?, ctx.delay)?;
    let db = ctx.fresh_db("busy")?;
    let plain_redis = ctx.redis.to_string();
    let mut busy = ctx.redis.clone();
    busy.set_path(&format!("/{BUSY_DB}"));
    let mut busy_far = busy.clone();
    busy_far.set_host(Some("127.0.0.1"))?;
    busy_far.set_port(Some(redis_proxy.port)).ok();
    let mut plain_far = ctx.redis.clone();
    plain_far.set_host(Some("127.0.0.1"))?;
    plain_far.set_port(Some(redis_proxy.port)).ok();

    eprintln!("bench: part 5: {keys} unrelated keys into Redis db {BUSY_DB}");
    fill(&ctx.redis, BUSY_DB, keys)?;
    ctx.tool(&ctx.url(&db), &plain_redis, &["seed"])?
        .ok("seed before part 5")?;
    let scene = ctx.psql_at(&db, "SELECT id FROM scenes ORDER BY id LIMIT 1")?;
    let change = format!("UPDATE scenes SET title = title || '!' WHERE id = '{scene}'");

    let plain_db = ctx.redis.path().trim_start_matches('/');
    let story = ctx.psql_at(&db, "SELECT id FROM stories ORDER BY id LIMIT 1")?;
    let cached = [format!("story:{story}"), format!("story:{story}:public")];
    let near = ctx.proxied_url(&db, pg_proxy.port)?;
    let near_slow_start = ctx.proxied_url(&db, pg_slow_start.port)?;
    let mut cases = Vec::new();
    let mut case = |spec: Spec| {
        let Spec {
            name,
            goal,
            limit,
            pg,
            redis,
            verb,
            extra,
            vars,
            cached,
        } = spec;
        eprintln!("bench: part 5: {name}");
        let mut walls = Vec::new();
        let (mut trips, mut commands, mut largest, mut answer) = (0, 0, 0, 0);
        for _ in 0..runs {
            ctx.psql_at(&db, &change)?;
            // Keys of the fixture the app would have cached, in the plain database.
            for key in cached {
                redis_cli(&ctx.redis, &["-n", plain_db, "SET", key, "{}"])?;
            }
            let mut args = vec![verb];
            args.extend_from_slice(extra);
            let run = ctx.tool_with(pg, redis, &args, vars)?;
            // verify finds the changed scene (exit 1); seed restores it.
            ensure!(run.code <= 1, "{name}: {}", run.stderr);
            walls.push(run.wall);
            trips = run.counter("round_trips");
            commands = run.counter("redis_commands");
            largest = pg_proxy
                .take_largest_turn()
                .max(pg_slow_start.take_largest_turn());
            answer = pg_proxy
                .take_largest_answer()
                .max(pg_slow_start.take_largest_answer());
            if verb == "verify" {
                ctx.tool(&ctx.url(&db), &plain_redis, &["seed", "--no-cache"])?
                    .ok("restore after verify")?;
            }
        }
        cases.push(Case {
            name: name.to_string(),
            goal,
            limit,
            stats: Stats::of(&walls),
            round_trips: trips,
            redis_commands: commands,
            largest_request: largest,
            largest_answer: answer,
        });
        Ok::<_, anyhow::Error>(())
    };
    case(Spec {
        goal: "≤ 0.22 s",
        limit: Some(Duration::from_millis(220)),
        ..Spec::seed(
            "seed, PostgreSQL 50 ms away, Redis local",
            &near,
            &plain_redis,
        )
    })?;
    let paired = match std::env::var_os("BENCH_COMPARE_BIN") {
        Some(other) => {
            let pairs = env_usize("BENCH_COMPARE_PAIRS", 50)?;
            let found = paired(
                ctx,
                &db,
                &change,
                Path::new(&other),
                &near,
                &plain_redis,
                pairs,
            )?;
            // Its turns are not the next case's.
            pg_proxy.take_largest_turn();
            pg_proxy.take_largest_answer();
            Some(found)
        }
        None => None,
    };
    case(Spec::seed(
        "seed, PostgreSQL 50 ms away with TCP slow start, Redis local",
        &near_slow_start,
        &plain_redis,
    ))?;
    case(Spec {
        vars: &[("FICTURES_SEED_CACHE_DIR", "")],
        ..Spec::seed(
            "seed, PostgreSQL 50 ms away, Redis local, no remembered catalog",
            &near,
            &plain_redis,
        )
    })?;
    case(Spec {
        vars: &[("FICTURES_SEED_CACHE_DIR", "")],
        ..Spec::seed(
            "seed, PostgreSQL 50 ms away with TCP slow start, Redis local, no remembered catalog",
            &near_slow_start,
            &plain_redis,
        )
    })?;
    case(Spec {
        verb: "verify",
        cached: &cached,
        ..Spec::seed(
            "verify, Redis 50 ms away with two fixture keys cached, PostgreSQL local",
            &ctx.url(&db),
            plain_far.as_str(),
        )
    })?;
    case(Spec::seed(
        "seed, PostgreSQL and Redis 50 ms away",
        &near,
        plain_far.as_str(),
    ))?;
    let redis_log = Slowlog::start(&ctx.redis)?;
    let redis_name = named(&ctx.redis)?;
    // Goal 1's million reads "1M"; `BENCH_BUSY_KEYS` may set another.
    let size = match keys {
        k if k % 1_000_000 == 0 => format!("{}M", k / 1_000_000),
        k if k % 1_000 == 0 => format!("{}k", k / 1_000),
        k => k.to_string(),
    };
    case(Spec::seed(
        &format!("seed, {size}-key {redis_name} local, PostgreSQL local"),
        &ctx.url(&db),
        busy.as_str(),
    ))?;
    let (_, local_longest) = read_slowlog(&ctx.redis)?;
    let local = ctx.url(&db);
    // Goal 1's seed and verify's stale check, with the busy `server` 50 ms
    // away, and what they held `at` for; the SLOWLOG is on.
    let mut far_cases = |server: String, far: &str, at: &url::Url| {
        let probe = Probe::start(addr_of(at, 6379, &server)?)?;
        case(Spec {
            goal: "≤ 1.0 s",
            limit: Some(Duration::from_secs(1)),
            ..Spec::seed(
                &format!("seed, {size}-key {server} 50 ms away, PostgreSQL local"),
                &local,
                far,
            )
        })?;
        let (app_longest, app_p99) = probe.finish()?;
        let (seed, seed_longest) = read_slowlog(at)?;
        case(Spec {
            verb: "verify",
            ..Spec::seed(
                &format!("verify, {size}-key {server} 50 ms away, PostgreSQL local"),
                &local,
                far,
            )
        })?;
        let (verify, verify_longest) = read_slowlog(at)?;
        let floor = floor_pass(at)?;
        Ok::<_, anyhow::Error>(Held {
            server,
            floor,
            seed: seed / runs as u64,
            verify: verify / runs as u64,
            longest: seed_longest.max(verify_longest),
            app_longest,
            app_p99,
        })
    };
    let mut on_redis = far_cases(redis_name, busy_far.as_str(), &ctx.redis)?;
    on_redis.longest = on_redis.longest.max(local_longest);
    drop(redis_log);
    let mut held = vec![on_redis];
    // The same on the stack's Valkey (`stack.sh up --valkey`), a current
    // server: TIME stands still in its scripts and `os.clock` sets the budget.
    if let Ok(valkey) = std::env::var("VALKEY_URL") {
        let valkey = url::Url::parse(&valkey).context("VALKEY_URL")?;
        eprintln!("bench: part 5: {keys} unrelated keys into Valkey db {BUSY_DB}");
        fill(&valkey, BUSY_DB, keys)?;
        let proxy = DelayProxy::start(addr_of(&valkey, 6379, "VALKEY_URL")?, ctx.delay)?;
        let mut far = valkey.clone();
        far.set_host(Some("127.0.0.1"))?;
        far.set_port(Some(proxy.port)).ok();
        far.set_path(&format!("/{BUSY_DB}"));
        let _log = Slowlog::start(&valkey)?;
        held.push(far_cases(named(&valkey)?, far.as_str(), &valkey)?);
        redis_cli(&valkey, &["-n", BUSY_DB, "FLUSHDB"])?;
    }
    if let (Ok(pg_tls), Ok(redis_tls), Ok(ca)) = (
        std::env::var("DATABASE_URL_TLS"),
        std::env::var("REDIS_URL_TLS"),
        std::env::var("STACK_TLS_CA"),
    ) {
        let pg_tls = url::Url::parse(&pg_tls).context("DATABASE_URL_TLS")?;
        let pg_tls_proxy =
            DelayProxy::start(addr_of(&pg_tls, 5432, "DATABASE_URL_TLS")?, ctx.delay)?;
        let mut redis = url::Url::parse(&redis_tls).context("REDIS_URL_TLS")?;
        let redis_tls_proxy =
            DelayProxy::start(addr_of(&redis, 6379, "REDIS_URL_TLS")?, ctx.delay)?;
        let mut pg = url::Url::parse(&near)?;
        pg.set_port(Some(pg_tls_proxy.port)).ok();
        pg.set_query(Some("sslmode=require"));
        redis.set_host(Some("127.0.0.1"))?;
        redis.set_port(Some(redis_tls_proxy.port)).ok();
        redis.set_path(&format!("/{}", ctx.redis.path().trim_start_matches('/')));
        case(Spec {
            goal: "≤ 0.35 s",
            limit: Some(Duration::from_millis(350)),
            extra: &["--redis-ca-cert", &ca],
            ..Spec::seed(
                "seed, TLS to both, both 50 ms away",
                pg.as_str(),
                redis.as_str(),
            )
        })?;
        // The same through a TLS front that takes X25519, as a hosted
        // provider's proxy does: what this stack's PostgreSQL 15 costs extra.
        let front = tls_front::start(ctx.pg_addr()?, Path::new(&ca).parent().context("CA path")?)?;
        let front_proxy = DelayProxy::start(([127, 0, 0, 1], front.port).into(), ctx.delay)?;
        pg.set_port(Some(front_proxy.port)).ok();
        case(Spec {
            extra: &["--redis-ca-cert", &ca],
            ..Spec::seed(
                "seed, TLS to both, both 50 ms away, PostgreSQL's TLS ended by a proxy that takes X25519",
                pg.as_str(),
                redis.as_str(),
            )
        })?;
    } else {
        eprintln!("bench: part 5: no TLS endpoints in the environment; TLS case skipped");
    }
    redis_cli(&ctx.redis, &["-n", BUSY_DB, "FLUSHDB"])?;
    ctx.drop_db(&db)?;
    Ok(Busy {
        keys,
        cases,
        paired,
        held,
    })
}

/// Seeds after the same change, alternating this build and `other` (and
/// which of the two goes first), so drift in the machine's speed falls on
/// both alike.
fn paired(
    ctx: &Ctx,
    db: &str,
    change: &str,
    other: &Path,
    pg: &str,
    redis: &str,
    pairs: usize,
) -> Result<Paired> {
    eprintln!(
        "bench: part 5: {pairs} pairs of seeds, this build and {}",
        other.display()
    );
    ensure!(
        pairs >= 2,
        "BENCH_COMPARE_PAIRS={pairs}: a comparison needs 2 pairs or more"
    );
    // The other build remembers its catalogs apart (its hint format may
    // differ), and each build's first run, which reads the catalog afresh
    // and loads the binary, is not counted.
    let hints = ctx.work.path().join("hints-compared");
    let hints = hints.to_string_lossy();
    let seed = |ours: bool| {
        ctx.psql_at(db, change)?;
        let run = if ours {
            ctx.tool_with(pg, redis, &["seed"], &[])?
        } else {
            ctx.tool_as(
                other,
                pg,
                redis,
                &["seed"],
                &[("FICTURES_SEED_CACHE_DIR", &hints)],
            )?
        };
        ensure!(run.code == 0, "seed (this build: {ours}): {}", run.stderr);
        Ok(run.wall)
    };
    seed(true)?;
    seed(false)?;
    let (mut this, mut that) = (Vec::new(), Vec::new());
    for i in 0..pairs {
        for ours in [i % 2 == 0, i % 2 == 1] {
            let wall = seed(ours)?;
            if ours { &mut this } else { &mut that }.push(wall);
        }
    }
    let gaps: Vec<f64> = that
        .iter()
        .zip(&this)
        .map(|(a, b)| (a.as_secs_f64() - b.as_secs_f64()) * 1e3)
        .collect();
    let n = gaps.len() as f64;
    let mean = gaps.iter().sum::<f64>() / n;
    let variance = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Ok(Paired {
        other: other.display().to_string(),
        this: Stats::of(&this),
        that: Stats::of(&that),
        mean,
        error: (variance / n).sqrt(),
    })
}

/// redis-cli at the host and port of `server` (its database is not used).
fn redis_cli_at(server: &url::Url) -> Command {
    let mut cmd = Command::new("redis-cli");
    cmd.arg("-h")
        .arg(server.host_str().unwrap_or("127.0.0.1"))
        .arg("-p")
        .arg(server.port().unwrap_or(6379).to_string());
    cmd
}

/// What `server` is, as the tables name it: "Redis 7.0.15", "Valkey 8.0.1".
fn named(server: &url::Url) -> Result<String> {
    let info = redis_cli(server, &["INFO", "server"])?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    match (field("valkey_version"), field("redis_version")) {
        (Some(v), _) => Ok(format!("Valkey {v}")),
        (None, Some(v)) => Ok(format!("Redis {v}")),
        (None, None) => bail!("INFO server names no version: {info}"),
    }
}

/// Runs redis-cli `args` against `server` and returns what it printed.
fn redis_cli(server: &url::Url, args: &[&str]) -> Result<String> {
    let out = redis_cli_at(server)
        .args(args)
        .output()
        .context("running redis-cli")?;
    ensure!(out.status.success(), "redis-cli {args:?} failed");
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// `keys` keys shaped like the app's, of ids that are not the fixture's.
fn fill(server: &url::Url, db: &str, keys: u64) -> Result<()> {
    redis_cli(server, &["-n", db, "FLUSHDB"])?;
    let mut child = redis_cli_at(server)
        .args(["-n", db, "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("running redis-cli --pipe")?;
    let mut stdin = std::io::BufWriter::new(child.stdin.take().context("stdin")?);
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    const SHAPES: [&str; 8] = [
        "story:{}",
        "story:{}:public",
        "chapter:{}:scenes:public",
        "scene:{}:public",
        "session:{}",
        "ratelimit:{}",
        "user:{}:stories",
        "community:story:{}:posts:public",
    ];
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    for i in 0..keys {
        let id: String = (0..21)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ALPHABET[(state % 64) as usize] as char
            })
            .collect();
        let key = SHAPES[(i % 8) as usize].replace("{}", &id);
        write!(
            stdin,
            "*5\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$2\r\n{{}}\r\n$2\r\nEX\r\n$4\r\n3600\r\n",
            key.len()
        )?;
    }
    drop(stdin);
    ensure!(child.wait()?.success(), "redis-cli --pipe failed");
    Ok(())
}

/// Entries SLOWLOG keeps while part 5 measures: the default, 128, holds only
/// the last few runs' steps of a million-key pass.
const SLOWLOG_ENTRIES: &str = "100000";

/// A server's SLOWLOG logging every command over 1 ms, from empty, until
/// dropped; then Redis' defaults come back, whatever ended the measuring.
struct Slowlog<'a>(&'a url::Url);

impl<'a> Slowlog<'a> {
    fn start(server: &'a url::Url) -> Result<Slowlog<'a>> {
        let log = Slowlog(server);
        redis_cli(
            server,
            &["CONFIG", "SET", "slowlog-log-slower-than", "1000"],
        )?;
        redis_cli(
            server,
            &["CONFIG", "SET", "slowlog-max-len", SLOWLOG_ENTRIES],
        )?;
        redis_cli(server, &["SLOWLOG", "RESET"])?;
        Ok(log)
    }
}

impl Drop for Slowlog<'_> {
    fn drop(&mut self) {
        // Both are tried even when the first fails: the bench may be
        // stopping for that very server.
        let threshold = redis_cli(
            self.0,
            &["CONFIG", "SET", "slowlog-log-slower-than", "10000"],
        );
        let length = redis_cli(self.0, &["CONFIG", "SET", "slowlog-max-len", "128"]);
        if threshold.and(length).is_err() {
            eprintln!("bench: could not put SLOWLOG's defaults back on {}", self.0);
        }
    }
}

/// Our steps in `server`'s SLOWLOG since it was last emptied, µs in all, and
/// the longest command of ours; empties it again. Only EVALs are summed:
/// Redis and Valkey also log the SCANs and UNLINKs a script runs, inside
/// its EVAL's time.
fn read_slowlog(server: &url::Url) -> Result<(u64, u64)> {
    let (mut total, mut longest) = (0, 0);
    for (command, us) in slowlog(server)? {
        if command == "EVAL" {
            total += us;
        }
        if matches!(command.as_str(), "EVAL" | "SCAN" | "EXISTS" | "UNLINK") {
            longest = longest.max(us);
        }
    }
    Ok((total, longest))
}

/// Each SLOWLOG entry's command and µs, after which the log is emptied.
fn slowlog(server: &url::Url) -> Result<Vec<(String, u64)>> {
    let log = redis_cli(server, &["--json", "SLOWLOG", "GET", SLOWLOG_ENTRIES])?;
    let kept: usize = redis_cli(server, &["SLOWLOG", "LEN"])?.trim().parse()?;
    ensure!(
        kept < SLOWLOG_ENTRIES.parse()?,
        "SLOWLOG filled up ({kept} entries): the longest command may be missing"
    );
    redis_cli(server, &["SLOWLOG", "RESET"])?;
    // Each entry: id, time, µs, the arguments, the client's address and name.
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&log).context("parsing SLOWLOG GET --json")?;
    entries
        .iter()
        .map(|e| {
            let us = e[2].as_u64().context("a SLOWLOG entry's duration")?;
            let command = e[3][0].as_str().context("a SLOWLOG entry's command")?;
            Ok((command.to_ascii_uppercase(), us))
        })
        .collect()
}

/// The server time of one pass over the busy database with a pattern no key
/// fits (keys of the app's shapes fail at the first byte), SCAN COUNT 1000
/// in one script as the tool's steps do: the floor of any pass. Median of
/// three, µs, as SLOWLOG records them; leaves SLOWLOG logging everything
/// (until its [`Slowlog`] is dropped).
fn floor_pass(server: &url::Url) -> Result<u64> {
    const PASS: &str = "local c = '0' repeat c = redis.call('SCAN', c, 'MATCH', ARGV[1], \
                        'COUNT', 1000)[1] until c == '0' return 0";
    // Every pass is logged, however small the keyspace.
    redis_cli(server, &["CONFIG", "SET", "slowlog-log-slower-than", "0"])?;
    let mut passes = Vec::new();
    for _ in 0..3 {
        redis_cli(server, &["-n", BUSY_DB, "EVAL", PASS, "0", "#*"])?;
        passes.extend(
            slowlog(server)?
                .into_iter()
                .filter(|(command, _)| command == "EVAL")
                .map(|(_, us)| us),
        );
    }
    ensure!(
        passes.len() == 3,
        "SLOWLOG kept {} of 3 passes",
        passes.len()
    );
    passes.sort_unstable();
    Ok(passes[1])
}

impl Busy {
    pub(crate) fn table(&self) -> String {
        let mut s = format!(
            "### 5. Latency and a busy Redis (issue 15)\n\n\
             Each run first changes one scene's title, so the seed writes one row and drops \
             its story's, chapter's and scene's families. \"50 ms away\" is the part 2 proxy in \
             front of that server. The busy Redis holds {} unrelated keys of the app's shapes \
             (other ids, same length and alphabet). Round trips are PostgreSQL's after \
             connecting; Redis commands are the cache step's; the largest request is the \
             most the tool sent PostgreSQL in one turn, the largest answer the most \
             PostgreSQL sent back in one. \"with TCP slow start\" adds what the \
             loopback proxy leaves out of a real link: each direction sends its first 14,480 \
             bytes (Linux's ten segments) at once and each further window a round trip later, \
             the window growing by what was acknowledged. Runs use the catalog the \
             previous run remembered (README, \"The remembered catalog\"), except in the case \
             that turns it off; the first run of each address reads it afresh, which is \
             usually the max.\n\n\
             | case | runs | median | min | max | PG round trips | largest PG request | largest PG answer | Redis commands | goal | met |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n",
            self.keys
        );
        for c in &self.cases {
            s += &format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                c.name,
                c.stats.n,
                ms(c.stats.median),
                ms(c.stats.min),
                ms(c.stats.max),
                c.round_trips,
                kilobytes(c.largest_request),
                kilobytes(c.largest_answer),
                c.redis_commands,
                c.goal,
                c.limit.map_or("", |l| yes_no(c.stats.median <= l))
            );
        }
        s += "\n";
        for h in &self.held {
            let longest = if h.longest == 0 {
                "none over 1 ms".to_string()
            } else {
                format!("**{:.1} ms**", h.longest as f64 / 1000.0)
            };
            s += &format!(
                "The busy {} for goal 1's cases (SLOWLOG, commands over 1 ms): the seed's \
                 script steps held it {} per run and verify's {}; one pass with a pattern no key \
                 fits, in one script, takes {} (the floor of any pass). Longest command of \
                 ours: {longest} (goal ≤ 50 ms: {}). Another client's PING, sent 5 ms after \
                 the last one's answer throughout the seed case, waited up to {} (99th \
                 percentile {}).\n",
                h.server,
                ms(Duration::from_micros(h.seed)),
                ms(Duration::from_micros(h.verify)),
                ms(Duration::from_micros(h.floor)),
                yes_no(h.longest <= 50_000),
                ms(h.app_longest),
                ms(h.app_p99)
            );
        }
        if let Some(p) = &self.paired {
            s += &format!(
                "\nThe first case, {} pairs of this build and `{}` in alternation: \
                 medians {} and {}; the other build's wall minus this build's, \
                 mean over the pairs ± its standard error: {:+.1} ± {:.1} ms.\n",
                p.this.n,
                p.other,
                ms(p.this.median),
                ms(p.that.median),
                p.mean,
                p.error
            );
        }
        s
    }
}

/// Bytes as the table shows them: "–" where no proxy was in the way.
fn kilobytes(bytes: u64) -> String {
    if bytes == 0 {
        "–".to_string()
    } else {
        format!("{:.1} KB", bytes as f64 / 1000.0)
    }
}
