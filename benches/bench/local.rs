//! Part 1: seed, no-op seed, verify and teardown on loopback.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Result, ensure};

use crate::ctx::*;
use crate::stats::*;

pub(crate) const LOCAL_OPS: [&str; 4] = [
    "seed (empty database)",
    "seed (no-op)",
    "verify",
    "teardown",
];
pub(crate) const LOCAL_TARGET: Duration = Duration::from_millis(100);

pub(crate) struct Local {
    pub(crate) stats: Vec<Stats>,
    /// The tool's own `elapsed_ms`, per op.
    pub(crate) inner: Vec<Stats>,
    /// (statements, round trips) per op; `None` when runs disagreed.
    pub(crate) counts: Vec<BTreeSet<(u64, u64)>>,
    pub(crate) rows: u64,
}

pub(crate) fn local_section(ctx: &Ctx) -> Result<Local> {
    eprintln!(
        "bench: part 1, local: 1 warm-up + {} runs of seed / no-op / verify / teardown",
        ctx.runs
    );
    cycles(ctx, ctx.runs, || ctx.fresh_db("local"))
}

/// One warm-up and `runs` measured rounds of seed / no-op seed / verify /
/// teardown, each round on a database made by `fresh`.
pub(crate) fn cycles(ctx: &Ctx, runs: usize, fresh: impl Fn() -> Result<String>) -> Result<Local> {
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

impl Local {
    pub(crate) fn table(&self) -> String {
        self.table_titled(
            "### 1. Local (loopback, no added latency)\n\nWall time from process start to exit; \
             each run on a fresh database cloned from the migrated template.",
        )
    }

    pub(crate) fn table_titled(&self, title: &str) -> String {
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
