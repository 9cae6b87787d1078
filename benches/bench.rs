//! The benchmark of issue 6, run with `scripts/bench.sh` (which builds the
//! release binary, starts the local stack when needed and then runs
//! `cargo bench --bench bench`).
//!
//! It drives the real `fictures-seed` binary as a child process and measures
//! wall time from process start to exit:
//!
//! 1. locally: `seed` on an empty database, `seed` again (no-op), `verify`,
//!    `teardown`, each median of `BENCH_RUNS` (default 11) runs after one
//!    warm-up run;
//! 2. through a loopback proxy that delays every chunk by 25 ms each way
//!    (a 50 ms round trip): `seed` on an empty database, beside a per-row
//!    baseline that writes the very same rows with one `INSERT` per row
//!    (`pg_dump --inserts` of a database the tool seeded, replayed by psql in
//!    one transaction), through the same proxy;
//! 3. scale mode (`seed --scale N`) against `psql \copy` of the same rows;
//! 4. part 1's operations on the generated stress schema of `tests/stress.rs`
//!    (hundreds of dependent tables, wide tables, a second schema), beside
//!    the small schema's figures, each median of `BENCH_STRESS_RUNS` (default 5).
//!
//! Every database it uses is created from a template that `fictures-seed
//! migrate` made, is named `fsbench_<pid>_…`, and is dropped at the end. Redis
//! is one logical database of the stack's Redis (`BENCH_REDIS_DB`, default
//! 200), flushed once at the start.
//!
//! Knobs (environment): `STACK_PG_ADMIN_URL` and `REDIS_URL` (from
//! `scripts/stack.sh up`, required), `FICTURES_SEED_BIN`, `BENCH_RUNS`,
//! `BENCH_PROXY_RUNS` (default 7), `BENCH_BASELINE_RUNS` (default 3),
//! `BENCH_DELAY_MS` (default 25), `BENCH_REDIS_DB`, `BENCH_SCALE=0` to skip
//! part 3, `PG_BIN` (directory of psql and pg_dump).
//!
//! The tables go to stdout as Markdown (ready for BENCHMARKS.md), progress to
//! stderr. The exit status is 0 when everything could be measured, whether or
//! not the targets are met; the tables say which are.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use serde_json::Value;
use url::Url;

// The generator the stress test uses; the bench needs only the schema and
// its foreign rows.
#[allow(dead_code)]
#[path = "../tests/common/stress_schema.rs"]
mod stress_schema;

fn main() {
    // `cargo bench` passes `--bench`. `cargo test --all-targets` (scripts/test.sh) runs
    // bench targets too, without it: there this only checks that it builds.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("bench: not under `cargo bench`; run scripts/bench.sh to measure");
        return;
    }
    match run() {
        Ok(()) => {}
        Err(e) => {
            eprintln!("bench: error: {e:#}");
            std::process::exit(1);
        }
    }
}

fn run() -> Result<()> {
    let ctx = Ctx::new()?;
    let started = Instant::now();
    println!("{}", ctx.header()?);

    ctx.prepare()?;

    let local = local_section(&ctx)?;
    println!("{}", local.table());

    let remote = remote_section(&ctx)?;
    println!("{}", remote.table());

    let scale = scale_section(&ctx)?;
    if let Some(scale) = &scale {
        println!("{}", scale.table());
    }

    let stress = stress_section(&ctx)?;
    println!("{}", stress.table());
    println!("{}", stress.beside(&local));

    println!("{}", targets_table(&local, &remote, scale.as_ref()));
    println!(
        "Total bench time: {:.0} s.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------- context

/// Paths, URLs and the databases this run created (dropped on drop).
struct Ctx {
    root: PathBuf,
    bin: PathBuf,
    admin: Url,
    redis: Url,
    psql: PathBuf,
    pg_dump: PathBuf,
    work: tempfile::TempDir,
    prefix: String,
    template: String,
    delay: Duration,
    runs: usize,
    proxy_runs: usize,
    baseline_runs: usize,
    created: RefCell<Vec<String>>,
}

fn env_usize(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .with_context(|| format!("{name}={v} is not a number")),
        Err(_) => Ok(default),
    }
}

fn pg_program(name: &str) -> PathBuf {
    let dirs = [
        std::env::var("PG_BIN").ok(),
        Some("/usr/lib/postgresql/15/bin".to_string()),
    ];
    dirs.into_iter()
        .flatten()
        .map(|d| Path::new(&d).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

impl Ctx {
    fn new() -> Result<Ctx> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let bin = match std::env::var_os("FICTURES_SEED_BIN") {
            Some(p) => PathBuf::from(p),
            None => std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("target"))
                .join("release/fictures-seed"),
        };
        ensure!(
            bin.is_file(),
            "{} does not exist; build it with `cargo build --release` (scripts/bench.sh does)",
            bin.display()
        );
        let var = |name: &str| {
            std::env::var(name).with_context(|| {
                format!("{name} is not set; run `eval \"$(scripts/stack.sh up)\"` first, or use scripts/bench.sh")
            })
        };
        let admin = Url::parse(&var("STACK_PG_ADMIN_URL")?).context("STACK_PG_ADMIN_URL")?;
        let mut redis = Url::parse(&var("REDIS_URL")?).context("REDIS_URL")?;
        redis.set_path(&format!("/{}", env_usize("BENCH_REDIS_DB", 200)?));
        let prefix = format!("fsbench_{}_", std::process::id());
        Ok(Ctx {
            root,
            bin,
            admin,
            redis,
            psql: pg_program("psql"),
            pg_dump: pg_program("pg_dump"),
            work: tempfile::Builder::new().prefix("fsbench").tempdir()?,
            template: format!("{prefix}tpl"),
            prefix,
            delay: Duration::from_millis(env_usize("BENCH_DELAY_MS", 25)? as u64),
            runs: env_usize("BENCH_RUNS", 11)?.max(1),
            proxy_runs: env_usize("BENCH_PROXY_RUNS", 7)?.max(1),
            baseline_runs: env_usize("BENCH_BASELINE_RUNS", 3)?.max(1),
            created: RefCell::new(Vec::new()),
        })
    }

    fn header(&self) -> Result<String> {
        let date = Command::new("date")
            .args(["-u", "+%Y-%m-%d %H:%M UTC"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let mem_gib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
            .map(|kb| kb / 1024.0 / 1024.0)
            .unwrap_or(0.0);
        let cores = thread::available_parallelism().map_or(0, |n| n.get());
        // Other work on the machine skews wall times; say how busy it was.
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next().map(str::to_string))
            .unwrap_or_else(|| "?".into());
        let pg = self.psql_at(
            "postgres",
            "SELECT current_setting('server_version') || ', ssl=' || current_setting('ssl')",
        )?;
        Ok(format!(
            "## fictures-seed benchmark, {date}\n\n\
             Machine: {cores} CPUs ({cpu}), {mem_gib:.1} GiB RAM, load average {load} at the \
             start. PostgreSQL {pg}, local stack \
             (`scripts/stack.sh`, fsync off). Binary: `{}`. Redis: `{}`.\n",
            self.bin
                .strip_prefix(&self.root)
                .unwrap_or(&self.bin)
                .display(),
            self.redis
        ))
    }

    /// Flushes the bench's Redis database and makes the migrated template.
    fn prepare(&self) -> Result<()> {
        let out = Command::new("redis-cli")
            .args(["-u", self.redis.as_str(), "FLUSHDB"])
            .output()
            .context("running redis-cli")?;
        ensure!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "OK",
            "redis-cli FLUSHDB on {} failed: {}{}",
            self.redis,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "bench: creating template {} (fictures-seed migrate)",
            self.template
        );
        self.create_db(&self.template, None)?;
        let run = self.tool(&self.url(&self.template), self.redis.as_str(), &["migrate"])?;
        ensure!(run.code == 0, "migrate failed: {}", run.stderr);
        Ok(())
    }

    fn url(&self, db: &str) -> String {
        let mut u = self.admin.clone();
        u.set_path(&format!("/{db}"));
        u.to_string()
    }

    /// The URL of `db` through a proxy on loopback `port`, without TLS (so the
    /// proxy sees the protocol and TLS handshakes do not add round trips).
    fn proxied_url(&self, db: &str, port: u16) -> Result<String> {
        let mut u = self.admin.clone();
        u.set_path(&format!("/{db}"));
        u.set_host(Some("127.0.0.1"))?;
        u.set_port(Some(port))
            .map_err(|()| anyhow!("cannot set port"))?;
        u.set_query(Some("sslmode=disable"));
        Ok(u.to_string())
    }

    fn pg_addr(&self) -> Result<SocketAddr> {
        let host = self
            .admin
            .host_str()
            .context("STACK_PG_ADMIN_URL has no host")?;
        let port = self.admin.port().unwrap_or(5432);
        (host, port)
            .to_socket_addrs()?
            .next()
            .context("PostgreSQL host does not resolve")
    }

    fn redis_addr(&self) -> Result<SocketAddr> {
        let host = self.redis.host_str().context("REDIS_URL has no host")?;
        let port = self.redis.port().unwrap_or(6379);
        (host, port)
            .to_socket_addrs()?
            .next()
            .context("Redis host does not resolve")
    }

    fn name(&self, label: &str) -> String {
        format!("{}{label}", self.prefix)
    }

    /// Runs `sql` with psql on database `db`, returning unaligned tuples-only output.
    fn psql_at(&self, db: &str, sql: &str) -> Result<String> {
        let out = Command::new(&self.psql)
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url(db))
            .args(["-c", sql])
            .output()
            .with_context(|| format!("running {}", self.psql.display()))?;
        ensure!(
            out.status.success(),
            "psql on {db} failed for `{sql}`: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn create_db(&self, name: &str, template: Option<&str>) -> Result<()> {
        self.drop_db(name)?;
        let tpl = template
            .map(|t| format!(" TEMPLATE \"{t}\""))
            .unwrap_or_default();
        self.psql_at("postgres", &format!("CREATE DATABASE \"{name}\"{tpl}"))?;
        self.created.borrow_mut().push(name.to_string());
        Ok(())
    }

    /// A fresh database with the migrated, empty tables.
    fn fresh_db(&self, label: &str) -> Result<String> {
        let name = self.name(label);
        self.create_db(&name, Some(&self.template))?;
        Ok(name)
    }

    fn drop_db(&self, name: &str) -> Result<()> {
        self.psql_at(
            "postgres",
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        )?;
        self.created.borrow_mut().retain(|n| n != name);
        Ok(())
    }

    /// Runs `fictures-seed --json ARGS` against `db_url` and `redis`, timing it
    /// from spawn to exit.
    fn tool(&self, db_url: &str, redis: &str, args: &[&str]) -> Result<ToolRun> {
        let mut cmd = Command::new(&self.bin);
        cmd.current_dir(&self.root)
            .env("DATABASE_URL", db_url)
            .env("REDIS_URL", redis)
            // The fixture's API keys need their secret to be created.
            .env("FIXTURE_API_KEY_SECRET", "bench-only-api-key-secret")
            .env_remove("POSTGRES_URL_POOLED")
            .env_remove("POSTGRES_URL")
            .env_remove("FICTURES_SEED_LOG")
            .arg("--json")
            .args(args)
            .stdin(Stdio::null());
        let start = Instant::now();
        let out = cmd
            .output()
            .with_context(|| format!("running {}", self.bin.display()))?;
        let wall = start.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let json = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
        Ok(ToolRun {
            wall,
            code: out.status.code().unwrap_or(-1),
            json,
            stderr: format!("{stdout}{stderr}"),
        })
    }

    /// Rows per table (every table in `public` except sqlx's own), exact counts.
    fn row_counts(&self, db: &str) -> Result<BTreeMap<String, u64>> {
        let out = self.psql_at(
            db,
            "SELECT c.relname, (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM public.%I', c.relname), false, true, '')))[1]::text \
             FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace \
             WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> '_sqlx_migrations' ORDER BY 1",
        )?;
        out.lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (t, n) = l.split_once('|').context("unexpected psql output")?;
                Ok((t.to_string(), n.parse()?))
            })
            .collect()
    }

    /// Tables of `public` ordered parents before children (self references ignored).
    fn tables_in_fk_order(&self, db: &str) -> Result<Vec<String>> {
        let tables: BTreeSet<String> = self.row_counts(db)?.into_keys().collect();
        let edges = self.psql_at(
            db,
            "SELECT cl.relname, pf.relname FROM pg_constraint c \
             JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_class pf ON pf.oid = c.confrelid \
             JOIN pg_namespace ns ON ns.oid = cl.relnamespace \
             WHERE c.contype = 'f' AND ns.nspname = 'public'",
        )?;
        let mut parents: BTreeMap<String, BTreeSet<String>> = tables
            .iter()
            .map(|t| (t.clone(), BTreeSet::new()))
            .collect();
        for line in edges.lines().filter(|l| !l.is_empty()) {
            let (child, parent) = line.split_once('|').context("unexpected psql output")?;
            if child != parent
                && tables.contains(parent)
                && let Some(p) = parents.get_mut(child)
            {
                p.insert(parent.to_string());
            }
        }
        let mut order = Vec::new();
        while !parents.is_empty() {
            let ready: Vec<String> = parents
                .iter()
                .filter(|(_, p)| p.is_empty())
                .map(|(t, _)| t.clone())
                .collect();
            ensure!(
                !ready.is_empty(),
                "foreign keys form a cycle among {parents:?}"
            );
            for t in ready {
                parents.remove(&t);
                for p in parents.values_mut() {
                    p.remove(&t);
                }
                order.push(t);
            }
        }
        Ok(order)
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        let names: Vec<String> = self.created.borrow().clone();
        for name in names.iter().rev() {
            if let Err(e) = self.drop_db(name) {
                eprintln!("bench: could not drop database {name}: {e:#}");
            }
        }
    }
}

struct ToolRun {
    wall: Duration,
    code: i32,
    json: Value,
    /// stdout and stderr, for error messages.
    stderr: String,
}

impl ToolRun {
    fn ok(self, what: &str) -> Result<ToolRun> {
        ensure!(
            self.code == 0,
            "{what} exited with {}: {}",
            self.code,
            self.stderr.trim()
        );
        Ok(self)
    }

    fn counter(&self, key: &str) -> u64 {
        self.json[key].as_u64().unwrap_or(0)
    }

    /// Sum of `key` (insert, update, delete) over the report's tables.
    fn table_sum(&self, key: &str) -> u64 {
        self.json["tables"]
            .as_array()
            .map(|ts| ts.iter().map(|t| t[key].as_u64().unwrap_or(0)).sum())
            .unwrap_or(0)
    }
}

// ---------------------------------------------------------------- statistics

#[derive(Debug, Clone, Copy)]
struct Stats {
    n: usize,
    median: Duration,
    min: Duration,
    max: Duration,
}

impl Stats {
    fn of(samples: &[Duration]) -> Stats {
        let mut s = samples.to_vec();
        s.sort();
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2
        };
        Stats {
            n,
            median,
            min: s[0],
            max: s[n - 1],
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn yes_no(met: bool) -> &'static str {
    if met { "**met**" } else { "**missed**" }
}

// ---------------------------------------------------------------- part 1: local

const LOCAL_OPS: [&str; 4] = [
    "seed (empty database)",
    "seed (no-op)",
    "verify",
    "teardown",
];
const LOCAL_TARGET: Duration = Duration::from_millis(100);

struct Local {
    stats: Vec<Stats>,
    /// The tool's own `elapsed_ms`, per op.
    inner: Vec<Stats>,
    /// (statements, round trips) per op; `None` when runs disagreed.
    counts: Vec<BTreeSet<(u64, u64)>>,
    rows: u64,
}

fn local_section(ctx: &Ctx) -> Result<Local> {
    eprintln!(
        "bench: part 1, local: 1 warm-up + {} runs of seed / no-op / verify / teardown",
        ctx.runs
    );
    cycles(ctx, ctx.runs, || ctx.fresh_db("local"))
}

/// One warm-up and `runs` measured rounds of seed / no-op seed / verify /
/// teardown, each round on a database made by `fresh`.
fn cycles(ctx: &Ctx, runs: usize, fresh: impl Fn() -> Result<String>) -> Result<Local> {
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); LOCAL_OPS.len()];
    let mut inner: Vec<Vec<Duration>> = vec![Vec::new(); LOCAL_OPS.len()];
    let mut counts: Vec<BTreeSet<(u64, u64)>> = vec![BTreeSet::new(); LOCAL_OPS.len()];
    let mut rows = 0;
    for i in 0..=runs {
        let db = fresh()?;
        let url = ctx.url(&db);
        let redis = ctx.redis.as_str();
        let seed = ctx.tool(&url, redis, &["seed"])?.ok("seed")?;
        ensure!(
            seed.table_sum("insert") > 0,
            "seed on an empty database inserted nothing: {}",
            seed.json
        );
        rows = seed.table_sum("insert");
        let noop = ctx.tool(&url, redis, &["seed"])?.ok("seed (no-op)")?;
        let changed =
            noop.table_sum("insert") + noop.table_sum("update") + noop.table_sum("delete");
        ensure!(
            changed == 0,
            "the second seed changed {changed} rows: {}",
            noop.json
        );
        let verify = ctx.tool(&url, redis, &["verify"])?.ok("verify")?;
        let teardown = ctx.tool(&url, redis, &["teardown"])?.ok("teardown")?;
        ensure!(
            teardown.table_sum("delete") > 0,
            "teardown deleted nothing: {}",
            teardown.json
        );
        ctx.drop_db(&db)?;
        if i == 0 {
            continue; // warm-up
        }
        for (k, run) in [seed, noop, verify, teardown].iter().enumerate() {
            samples[k].push(run.wall);
            inner[k].push(Duration::from_millis(run.counter("elapsed_ms")));
            counts[k].insert((run.counter("statements"), run.counter("round_trips")));
        }
    }
    Ok(Local {
        stats: samples.iter().map(|s| Stats::of(s)).collect(),
        inner: inner.iter().map(|s| Stats::of(s)).collect(),
        counts,
        rows,
    })
}

fn show_counts(c: &BTreeSet<(u64, u64)>) -> (String, String) {
    let st: BTreeSet<u64> = c.iter().map(|x| x.0).collect();
    let rt: BTreeSet<u64> = c.iter().map(|x| x.1).collect();
    let join = |s: BTreeSet<u64>| s.iter().map(u64::to_string).collect::<Vec<_>>().join(" / ");
    (join(st), join(rt))
}

// ---------------------------------------------------------------- part 4: stress schema

/// Part 1's operations on the stress schema, and the schema's size.
struct Stress {
    ops: Local,
    tables: usize,
    foreign_keys: usize,
}

fn stress_section(ctx: &Ctx) -> Result<Stress> {
    let runs = env_usize("BENCH_STRESS_RUNS", 5)?;
    let schema = stress_schema::Schema::generate();
    let stats = schema.stats();
    let template = ctx.name("stress_tpl");
    eprintln!(
        "bench: part 4, stress schema: template {template} ({} generated tables), 1 warm-up + {runs} runs",
        stats.tables
    );
    ctx.create_db(&template, Some(&ctx.template))?;
    let script = ctx.work.path().join("stress.sql");
    let foreign = std::fs::read_to_string(ctx.root.join("tests/data/foreign.sql"))?;
    psql_script(
        ctx,
        &template,
        &script,
        &format!("{}\n{foreign}\n{}", schema.ddl(), schema.foreign().sql),
    )?;
    let ops = cycles(ctx, runs, || {
        let db = ctx.name("stress");
        ctx.create_db(&db, Some(&template))?;
        // Database settings do not travel with a template clone.
        ctx.psql_at(
            "postgres",
            &format!("ALTER DATABASE \"{db}\" SET search_path = public, audit"),
        )?;
        Ok(db)
    })?;
    let foreign_keys: usize = ctx
        .psql_at(
            &template,
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conparentid = 0",
        )?
        .parse()?;
    ctx.drop_db(&template)?;
    Ok(Stress {
        ops,
        tables: stats.tables,
        foreign_keys,
    })
}

impl Stress {
    fn table(&self) -> String {
        self.ops.table_titled(&format!(
            "### 4. The stress schema (tests/stress.rs)\n\nThe same operations on the migrated \
             schema plus {} generated tables ({} foreign keys in all, tables of 80 to 150 \
             columns, a second schema on the search_path, a partitioned table, a trigger), \
             with the foreign rows of the stress test in place.",
            self.tables, self.foreign_keys
        ))
    }

    /// Medians and round trips of both schemas side by side.
    fn beside(&self, small: &Local) -> String {
        let mut s = String::from(
            "#### Small schema beside the stress schema (medians)\n\n\
             | operation | small: median | small: round trips | stress: median | stress: round trips |\n\
             |---|---:|---:|---:|---:|\n",
        );
        for (k, op) in LOCAL_OPS.iter().enumerate() {
            s += &format!(
                "| `{op}` | {} | {} | {} | {} |\n",
                ms(small.stats[k].median),
                show_counts(&small.counts[k]).1,
                ms(self.ops.stats[k].median),
                show_counts(&self.ops.counts[k]).1,
            );
        }
        s
    }
}

impl Local {
    fn table(&self) -> String {
        self.table_titled(
            "### 1. Local (loopback, no added latency)\n\nWall time from process start to exit; \
             each run on a fresh database cloned from the migrated template.",
        )
    }

    fn table_titled(&self, title: &str) -> String {
        let mut s = format!(
            "{title} {} runs each after one warm-up. The fixture is {} rows. \
             Statements, round trips and the tool's own elapsed time (median) come from its \
             `--json` report; the rest of the wall time is process start, connecting and exit.\n\n\
             | operation | runs | median | min | max | tool's elapsed_ms | statements | round trips | target < 100 ms |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---|\n",
            self.stats[0].n, self.rows
        );
        for (k, op) in LOCAL_OPS.iter().enumerate() {
            let st = &self.stats[k];
            let (statements, trips) = show_counts(&self.counts[k]);
            s += &format!(
                "| `{op}` | {} | {} | {} | {} | {} ms | {statements} | {trips} | {} |\n",
                st.n,
                ms(st.median),
                ms(st.min),
                ms(st.max),
                self.inner[k].median.as_millis(),
                yes_no(st.median < LOCAL_TARGET)
            );
        }
        s
    }
}

// ---------------------------------------------------------------- part 2: 50 ms round trip

const REMOTE_TARGET: Duration = Duration::from_millis(500);
const RATIO_TARGET: f64 = 10.0;

struct Remote {
    delay: Duration,
    seed: Stats,
    seed_counts: BTreeSet<(u64, u64)>,
    seed_turns: BTreeSet<(u64, u64)>,
    seed_redis_too: Stats,
    baseline: Stats,
    baseline_turns: BTreeSet<(u64, u64)>,
    baseline_statements: usize,
    baseline_rows: u64,
    baseline_verify: String,
}

impl Remote {
    fn ratio(&self) -> f64 {
        self.baseline.median.as_secs_f64() / self.seed.median.as_secs_f64()
    }

    fn table(&self) -> String {
        let turns = |t: &BTreeSet<(u64, u64)>| {
            t.iter()
                .map(|(conns, turns)| format!("{turns} ({conns} conn.)"))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        let (statements, trips) = show_counts(&self.seed_counts);
        let rtt = self.delay * 2;
        let mut s = format!(
            "### 2. Through a loopback proxy adding {d} ms each way ({rtt} ms round trip)\n\n\
             Each run writes the fixture into a fresh empty database through the proxy \
             (`sslmode=disable`). The per-row baseline is the same {rows} rows as \
             `pg_dump --data-only --inserts` prints them from a database the tool seeded: \
             {stmts} `INSERT` statements, one row each, replayed by `psql --single-transaction -f` \
             (BEGIN, one statement per round trip, COMMIT). \"Turns\" are the times the client \
             spoke again after the server had answered, as counted by the proxy; they include \
             the startup packet and the final Terminate.\n\n\
             | what | runs | median | min | max | turns seen by the proxy |\n\
             |---|---:|---:|---:|---:|---:|\n",
            d = self.delay.as_millis(),
            rtt = rtt.as_millis(),
            rows = self.baseline_rows,
            stmts = self.baseline_statements,
        );
        let row = |name: &str, st: &Stats, turns: &str| {
            format!(
                "| {name} | {} | {} | {} | {} | {turns} |\n",
                st.n,
                ms(st.median),
                ms(st.min),
                ms(st.max)
            )
        };
        s += &row(
            "`fictures-seed seed`, PostgreSQL through the proxy",
            &self.seed,
            &turns(&self.seed_turns),
        );
        s += &row(
            "per-row baseline: psql, one INSERT per row, in one transaction",
            &self.baseline,
            &turns(&self.baseline_turns),
        );
        s += &row(
            "(for information) `fictures-seed seed`, PostgreSQL and Redis both through the proxy",
            &self.seed_redis_too,
            "",
        );
        s += &format!(
            "\nThe tool reported {statements} statements in {trips} round trips (`--json`, after \
             connecting). Baseline / tool (medians): **{:.1}×**. The baseline database passed \
             `fictures-seed verify`: {}.\n",
            self.ratio(),
            self.baseline_verify
        );
        s
    }
}

fn remote_section(ctx: &Ctx) -> Result<Remote> {
    let proxy = DelayProxy::start(ctx.pg_addr()?, ctx.delay)?;
    let redis_proxy = DelayProxy::start(ctx.redis_addr()?, ctx.delay)?;
    let redis = ctx.redis.as_str();

    eprintln!(
        "bench: part 2, {} ms each way: {} runs of seed through the proxy",
        ctx.delay.as_millis(),
        ctx.proxy_runs
    );
    let mut seed = Vec::new();
    let mut seed_counts = BTreeSet::new();
    let mut seed_turns = BTreeSet::new();
    for _ in 0..ctx.proxy_runs {
        let db = ctx.fresh_db("proxy")?;
        proxy.take();
        let run = ctx
            .tool(&ctx.proxied_url(&db, proxy.port)?, redis, &["seed"])?
            .ok("seed through the proxy")?;
        ensure!(
            run.table_sum("insert") > 0,
            "seed through the proxy inserted nothing"
        );
        seed.push(run.wall);
        seed_counts.insert((run.counter("statements"), run.counter("round_trips")));
        seed_turns.insert(proxy.take());
        ctx.drop_db(&db)?;
    }

    eprintln!(
        "bench: part 2: {} runs of seed with Redis through a proxy too",
        ctx.proxy_runs
    );
    let mut redis_url = ctx.redis.clone();
    redis_url.set_host(Some("127.0.0.1"))?;
    redis_url
        .set_port(Some(redis_proxy.port))
        .map_err(|()| anyhow!("cannot set port"))?;
    let mut seed_redis_too = Vec::new();
    for _ in 0..ctx.proxy_runs {
        let db = ctx.fresh_db("proxy_redis")?;
        let run = ctx
            .tool(
                &ctx.proxied_url(&db, proxy.port)?,
                redis_url.as_str(),
                &["seed"],
            )?
            .ok("seed with PostgreSQL and Redis through the proxy")?;
        seed_redis_too.push(run.wall);
        ctx.drop_db(&db)?;
    }

    // The baseline's rows: exactly what the tool writes, dumped as one INSERT per row.
    let scratch = ctx.fresh_db("scratch")?;
    ctx.tool(&ctx.url(&scratch), redis, &["seed"])?
        .ok("seed of the scratch database")?;
    let counts = ctx.row_counts(&scratch)?;
    let rows: u64 = counts.values().sum();
    let dump = ctx.work.path().join("per-row.sql");
    let mut cmd = Command::new(&ctx.pg_dump);
    cmd.args(["--data-only", "--inserts", "--no-owner", "-f"])
        .arg(&dump)
        .arg("-d")
        .arg(ctx.url(&scratch));
    for (table, n) in &counts {
        if *n > 0 {
            cmd.arg(format!("--table=public.{table}"));
        }
    }
    let out = cmd
        .output()
        .with_context(|| format!("running {}", ctx.pg_dump.display()))?;
    ensure!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (script, statements) = per_row_script(&std::fs::read_to_string(&dump)?)?;
    ensure!(
        statements as u64 == rows,
        "pg_dump printed {statements} INSERT statements for {rows} rows"
    );
    std::fs::write(&dump, script)?;
    ctx.drop_db(&scratch)?;

    eprintln!(
        "bench: part 2: {} runs of the per-row baseline ({statements} INSERTs through the proxy)",
        ctx.baseline_runs
    );
    let mut baseline = Vec::new();
    let mut baseline_turns = BTreeSet::new();
    let mut baseline_verify = String::new();
    for i in 0..ctx.baseline_runs {
        let db = ctx.fresh_db("baseline")?;
        proxy.take();
        let start = Instant::now();
        let out = Command::new(&ctx.psql)
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "--single-transaction",
                "-f",
            ])
            .arg(&dump)
            .arg("-d")
            .arg(ctx.proxied_url(&db, proxy.port)?)
            .stdin(Stdio::null())
            .output()
            .context("running psql")?;
        let wall = start.elapsed();
        ensure!(
            out.status.success(),
            "the per-row baseline failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        baseline.push(wall);
        baseline_turns.insert(proxy.take());
        if i == 0 {
            // Same rows as the tool's? `verify` on the baseline's database says.
            let v = ctx.tool(&ctx.url(&db), redis, &["verify"])?;
            baseline_verify = match v.code {
                0 => "yes (fixture OK)".to_string(),
                code => format!(
                    "**no** (exit {code}, {} findings)",
                    v.json["findings"].as_array().map_or(0, Vec::len)
                ),
            };
        }
        ctx.drop_db(&db)?;
    }

    Ok(Remote {
        delay: ctx.delay,
        seed: Stats::of(&seed),
        seed_counts,
        seed_turns,
        seed_redis_too: Stats::of(&seed_redis_too),
        baseline: Stats::of(&baseline),
        baseline_turns,
        baseline_statements: statements,
        baseline_rows: rows,
        baseline_verify,
    })
}

/// The INSERT statements of a `pg_dump --inserts` file, without its session
/// settings or sequence calls: what a hand-written seed script sends. Returns
/// the script and its number of INSERT statements.
fn per_row_script(dump: &str) -> Result<(String, usize)> {
    let start = dump
        .find("\nINSERT INTO ")
        .context("the dump holds no INSERT statements")?
        + 1;
    let mut script = String::new();
    let mut statements = 0;
    for line in dump[start..].split_inclusive('\n') {
        // Sequence positions, and psql's `\restrict` guard (pg_dump 15.14+).
        if line.starts_with("SELECT pg_catalog.setval(")
            || line.starts_with("\\restrict")
            || line.starts_with("\\unrestrict")
        {
            continue;
        }
        if line.starts_with("INSERT INTO ") {
            statements += 1;
        }
        script.push_str(line);
    }
    Ok((script, statements))
}

// ---------------------------------------------------------------- the delay proxy

/// A loopback TCP proxy that forwards every chunk it reads, in order, `delay`
/// after it was read. Each direction of each connection has a reader thread
/// that timestamps chunks into a queue and a writer thread that sends each one
/// when it is due, so throughput is not limited to one chunk per delay.
struct DelayProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    stats: Arc<ProxyStats>,
}

#[derive(Default)]
struct ProxyStats {
    connections: AtomicU64,
    /// Client chunks that followed a server chunk (the client's turns).
    turns: AtomicU64,
}

impl DelayProxy {
    fn start(upstream: SocketAddr, delay: Duration) -> Result<DelayProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").context("the proxy binds")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(ProxyStats::default());
        {
            let stop = stop.clone();
            let stats = stats.clone();
            thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(client) = client {
                        let stats = stats.clone();
                        thread::spawn(move || connect(client, upstream, delay, stats));
                    }
                }
            });
        }
        Ok(DelayProxy { port, stop, stats })
    }

    /// (connections, client turns) since the last call.
    fn take(&self) -> (u64, u64) {
        (
            self.stats.connections.swap(0, Ordering::SeqCst),
            self.stats.turns.swap(0, Ordering::SeqCst),
        )
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn connect(client: TcpStream, upstream: SocketAddr, delay: Duration, stats: Arc<ProxyStats>) {
    let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(5)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    stats.connections.fetch_add(1, Ordering::SeqCst);
    // The client's first chunk is a turn too.
    let server_spoke = Arc::new(AtomicBool::new(true));
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    {
        let spoke = server_spoke.clone();
        pump(client, s2, delay, move || {
            if spoke.swap(false, Ordering::SeqCst) {
                stats.turns.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    pump(server, c2, delay, move || {
        server_spoke.store(true, Ordering::SeqCst)
    });
}

/// Forwards `from` to `to`, each chunk `delay` after it was read.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    delay: Duration,
    on_chunk: impl Fn() + Send + 'static,
) {
    let (tx, rx) = mpsc::channel::<(Instant, Option<Vec<u8>>)>();
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send((Instant::now() + delay, None));
                    break;
                }
                Ok(n) => {
                    on_chunk();
                    if tx
                        .send((Instant::now() + delay, Some(buf[..n].to_vec())))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    thread::spawn(move || {
        for (due, chunk) in rx {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            match chunk {
                Some(bytes) => {
                    if to.write_all(&bytes).is_err() {
                        let _ = to.shutdown(Shutdown::Both);
                        break;
                    }
                }
                None => {
                    let _ = to.shutdown(Shutdown::Write);
                    break;
                }
            }
        }
    });
}

// ---------------------------------------------------------------- part 3: scale mode

const SCALE_TARGETS_SCENES: [u64; 2] = [10_000, 100_000];

struct ScaleRun {
    scenes: u64,
    stories: u64,
    rows: u64,
    bytes: u64,
    wall: Duration,
    peak_rss_kib: Option<u64>,
}

struct Scale {
    scenes_per_story: u64,
    runs: Vec<ScaleRun>,
    copy_wall: Duration,
}

fn scale_section(ctx: &Ctx) -> Result<Option<Scale>> {
    if std::env::var("BENCH_SCALE").is_ok_and(|v| v == "0") {
        eprintln!("bench: part 3 skipped (BENCH_SCALE=0)");
        return Ok(None);
    }
    let redis = ctx.redis.as_str();

    // Every scale story has as many scenes as a fixture story
    // (chapters × scenes_per_chapter of the seed file). Measured, not assumed:
    // scenes after `seed --scale 1` minus scenes after a plain `seed`.
    let probe = ctx.fresh_db("scale_probe")?;
    ctx.tool(&ctx.url(&probe), redis, &["seed"])?
        .ok("seed (scale probe)")?;
    let plain = ctx.row_counts(&probe)?.get("scenes").copied().unwrap_or(0);
    ctx.tool(&ctx.url(&probe), redis, &["seed", "--scale", "1"])?
        .ok("seed --scale 1")?;
    let one = ctx.row_counts(&probe)?.get("scenes").copied().unwrap_or(0);
    ctx.drop_db(&probe)?;
    let scenes_per_story = one.saturating_sub(plain);
    ensure!(
        scenes_per_story > 0,
        "seed --scale 1 added no scenes ({plain} before, {one} after)"
    );

    let time_bin = Path::new("/usr/bin/time");
    let mut runs = Vec::new();
    let mut copy_wall = Duration::ZERO;
    for target in SCALE_TARGETS_SCENES {
        let stories = target.div_ceil(scenes_per_story);
        eprintln!("bench: part 3: seed --scale {stories} ({target} scenes)");
        let db = ctx.fresh_db("scale")?;
        let rss_file = ctx.work.path().join("time.txt");
        let n = stories.to_string();
        let (wall, code, output) = if time_bin.is_file() {
            let mut cmd = Command::new(time_bin);
            cmd.arg("-v").arg("-o").arg(&rss_file).arg(&ctx.bin);
            timed(cmd, ctx, &ctx.url(&db), &["seed", "--scale", &n])?
        } else {
            timed(
                Command::new(&ctx.bin),
                ctx,
                &ctx.url(&db),
                &["seed", "--scale", &n],
            )?
        };
        ensure!(code == 0, "seed --scale {n} exited with {code}: {output}");
        let peak_rss_kib = std::fs::read_to_string(&rss_file).ok().and_then(|s| {
            s.lines()
                .find(|l| l.contains("Maximum resident set size"))
                .and_then(|l| l.rsplit(':').next())
                .and_then(|v| v.trim().parse().ok())
        });
        let _ = std::fs::remove_file(&rss_file);
        let counts = ctx.row_counts(&db)?;
        let rows: u64 = counts.values().sum();
        let scenes = counts.get("scenes").copied().unwrap_or(0);

        // Every row the tool wrote, as COPY text files, in foreign-key order.
        let dir = ctx.work.path().join(format!("copy{target}"));
        std::fs::create_dir_all(&dir)?;
        let order: Vec<String> = ctx
            .tables_in_fk_order(&db)?
            .into_iter()
            .filter(|t| counts.get(t).copied().unwrap_or(0) > 0)
            .collect();
        let mut dump = String::new();
        let mut load = String::new();
        for t in &order {
            let file = dir.join(format!("{t}.copy"));
            dump += &format!("\\copy public.\"{t}\" TO '{}'\n", file.display());
            load += &format!("\\copy public.\"{t}\" FROM '{}'\n", file.display());
        }
        psql_script(ctx, &db, &dir.join("dump.psql"), &dump)?;
        let bytes: u64 = order
            .iter()
            .map(|t| std::fs::metadata(dir.join(format!("{t}.copy"))).map_or(0, |m| m.len()))
            .sum();
        ctx.drop_db(&db)?;

        if target == SCALE_TARGETS_SCENES[SCALE_TARGETS_SCENES.len() - 1] {
            // The raw COPY speed of this machine: the same rows with psql \copy,
            // into a fresh database, in one transaction.
            eprintln!("bench: part 3: psql \\copy of the same {rows} rows");
            let into = ctx.fresh_db("scale_copy")?;
            let start = Instant::now();
            psql_script(ctx, &into, &dir.join("load.psql"), &load)?;
            copy_wall = start.elapsed();
            ctx.drop_db(&into)?;
        }
        std::fs::remove_dir_all(&dir)?;
        runs.push(ScaleRun {
            scenes,
            stories,
            rows,
            bytes,
            wall,
            peak_rss_kib,
        });
    }
    Ok(Some(Scale {
        scenes_per_story,
        runs,
        copy_wall,
    }))
}

/// Runs `cmd` (the tool, maybe under /usr/bin/time) with `--json ARGS`.
fn timed(
    mut cmd: Command,
    ctx: &Ctx,
    db_url: &str,
    args: &[&str],
) -> Result<(Duration, i32, String)> {
    cmd.current_dir(&ctx.root)
        .env("DATABASE_URL", db_url)
        .env("REDIS_URL", ctx.redis.as_str())
        .arg("--json")
        .args(args)
        .stdin(Stdio::null());
    let start = Instant::now();
    let out = cmd.output().context("running the tool")?;
    let wall = start.elapsed();
    Ok((
        wall,
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

fn psql_script(ctx: &Ctx, db: &str, path: &Path, script: &str) -> Result<()> {
    std::fs::write(path, script)?;
    let out = Command::new(&ctx.psql)
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "--single-transaction",
            "-f",
        ])
        .arg(path)
        .arg("-d")
        .arg(ctx.url(db))
        .output()
        .context("running psql")?;
    ensure!(
        out.status.success(),
        "psql -f {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

impl Scale {
    fn largest(&self) -> &ScaleRun {
        &self.runs[self.runs.len() - 1]
    }

    fn copy_share(&self) -> f64 {
        self.copy_wall.as_secs_f64() / self.largest().wall.as_secs_f64()
    }

    fn memory_ratio(&self) -> Option<f64> {
        Some(self.largest().peak_rss_kib? as f64 / self.runs[0].peak_rss_kib? as f64)
    }

    fn table(&self) -> String {
        let mut s = format!(
            "### 3. Scale mode\n\n\
             `seed --scale N` on an empty database, one run each, process start to exit \
             ({} scenes per scale story; rows and MB include the canonical fixture and count \
             every table). MB is the size of the same rows as COPY text. The `psql \\copy` row \
             loads the rows of the largest run from those files into a fresh database in one \
             transaction, in foreign-key order.\n\n\
             | what | stories | scenes | rows | MB | wall | rows/s | MB/s | peak RSS |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            self.scenes_per_story
        );
        let line = |name: &str, r: &ScaleRun, wall: Duration, rss: Option<u64>| {
            let secs = wall.as_secs_f64();
            format!(
                "| {name} | {} | {} | {} | {:.1} | {:.2} s | {:.0} | {:.1} | {} |\n",
                r.stories,
                r.scenes,
                r.rows,
                r.bytes as f64 / 1e6,
                secs,
                r.rows as f64 / secs,
                r.bytes as f64 / 1e6 / secs,
                rss.map_or("n/a".to_string(), |k| format!(
                    "{:.1} MiB",
                    k as f64 / 1024.0
                ))
            )
        };
        for r in &self.runs {
            s += &line(
                &format!("`seed --scale {}`", r.stories),
                r,
                r.wall,
                r.peak_rss_kib,
            );
        }
        s += &line(
            "`psql \\copy`, same rows as the largest run",
            self.largest(),
            self.copy_wall,
            None,
        );
        s += &format!(
            "\nTool throughput / raw COPY throughput: **{:.0}%**. Peak memory, largest / smallest: {}.\n",
            self.copy_share() * 100.0,
            self.memory_ratio()
                .map_or("n/a (no /usr/bin/time)".to_string(), |r| format!(
                    "**{r:.2}×**"
                ))
        );
        s
    }
}

// ---------------------------------------------------------------- summary

fn targets_table(local: &Local, remote: &Remote, scale: Option<&Scale>) -> String {
    let mut s = String::from("### Targets (issue 6)\n\n| target | measured | |\n|---|---|---|\n");
    s += &format!(
        "| through the {} ms round-trip proxy, `seed` on an empty database < 500 ms | {} median | {} |\n",
        (remote.delay * 2).as_millis(),
        ms(remote.seed.median),
        yes_no(remote.seed.median < REMOTE_TARGET)
    );
    s += &format!(
        "| ... and ≥ 10× faster than the per-row baseline | {:.1}× | {} |\n",
        remote.ratio(),
        yes_no(remote.ratio() >= RATIO_TARGET)
    );
    for (k, op) in LOCAL_OPS.iter().enumerate() {
        s += &format!(
            "| locally, `{op}` < 100 ms median | {} | {} |\n",
            ms(local.stats[k].median),
            yes_no(local.stats[k].median < LOCAL_TARGET)
        );
    }
    match scale {
        Some(scale) => {
            s += &format!(
                "| scale: ≥ 80% of raw COPY throughput for the same rows | {:.0}% | {} |\n",
                scale.copy_share() * 100.0,
                yes_no(scale.copy_share() >= 0.8)
            );
            let ratio = scale.memory_ratio();
            s += &format!(
                "| scale: peak memory for 100,000 scenes ≤ 1.5× that for 10,000 | {} | {} |\n",
                ratio.map_or("n/a".to_string(), |r| format!("{r:.2}×")),
                ratio.map_or("not measured", |r| yes_no(r <= 1.5))
            );
        }
        None => {
            s += "| scale: ≥ 80% of raw COPY throughput | skipped (BENCH_SCALE=0) | not measured |\n";
            s += "| scale: peak memory for 100,000 scenes ≤ 1.5× that for 10,000 | skipped (BENCH_SCALE=0) | not measured |\n";
        }
    }
    s
}
