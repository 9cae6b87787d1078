//! Part 2: seed through a 50 ms round trip beside a per-row INSERT baseline.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};

use crate::ctx::*;
use crate::proxy::*;
use crate::stats::*;

pub(crate) const REMOTE_TARGET: Duration = Duration::from_millis(500);
pub(crate) const RATIO_TARGET: f64 = 10.0;

pub(crate) struct Remote {
    pub(crate) delay: Duration,
    pub(crate) seed: Stats,
    pub(crate) seed_counts: BTreeSet<(u64, u64)>,
    pub(crate) seed_turns: BTreeSet<(u64, u64)>,
    pub(crate) seed_redis_too: Stats,
    pub(crate) baseline: Stats,
    pub(crate) baseline_turns: BTreeSet<(u64, u64)>,
    pub(crate) baseline_statements: usize,
    pub(crate) baseline_rows: u64,
    pub(crate) baseline_verify: String,
}

impl Remote {
    pub(crate) fn ratio(&self) -> f64 {
        self.baseline.median.as_secs_f64() / self.seed.median.as_secs_f64()
    }

    pub(crate) fn table(&self) -> String {
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

pub(crate) fn remote_section(ctx: &Ctx) -> Result<Remote> {
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
        let out = psql_file(ctx, &dump, &ctx.proxied_url(&db, proxy.port)?)
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
pub(crate) fn per_row_script(dump: &str) -> Result<(String, usize)> {
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
