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
//!    the small schema's figures, each median of `BENCH_STRESS_RUNS` (default 5);
//! 5. a seed that changes one scene with PostgreSQL and/or Redis behind the
//!    proxy, with TLS when the stack has it, and with `BENCH_BUSY_KEYS`
//!    (default 1,000,000) unrelated keys in Redis, with SLOWLOG's longest
//!    command of ours; with `BENCH_COMPARE_BIN` (another build of the tool),
//!    its first case is also run `BENCH_COMPARE_PAIRS` (default 50) times by
//!    each build in alternation, and the paired difference printed.
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
//! part 3, `BENCH_PARTS` (for example `3,5`: only those parts),
//! `BENCH_BUSY_KEYS`, `BENCH_COMPARE_BIN`, `BENCH_COMPARE_PAIRS`, `BENCH_SCALE_SCENES` (default `10000,100000`), `PG_BIN` (directory of psql and pg_dump).
//!
//! The tables go to stdout as Markdown (ready for BENCHMARKS.md), progress to
//! stderr. The exit status is 0 when everything could be measured, whether or
//! not the targets are met; the tables say which are.

use std::time::Instant;

use anyhow::Result;

// The generator the stress test uses; the bench needs only the schema and
// its foreign rows.
#[allow(dead_code)]
#[path = "../../tests/common/stress_schema.rs"]
mod stress_schema;

mod busy;
mod ctx;
mod local;
mod probe;
mod proxy;
mod remote;
mod scale;
mod stats;
mod stress;
mod tls_front;

use busy::*;
use ctx::*;
use local::*;
use remote::*;
use scale::*;
use stats::*;
use stress::*;

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

    // BENCH_PARTS=3,5 measures only those parts (the issue 6 targets table needs all).
    let parts = std::env::var("BENCH_PARTS").unwrap_or_default();
    let wanted = |n: &str| parts.is_empty() || parts.split(',').any(|p| p.trim() == n);
    let local = wanted("1").then(|| local_section(&ctx)).transpose()?;
    if let Some(local) = &local {
        println!("{}", local.table());
    }
    let remote = wanted("2").then(|| remote_section(&ctx)).transpose()?;
    if let Some(remote) = &remote {
        println!("{}", remote.table());
    }
    let scale = if wanted("3") {
        scale_section(&ctx)?
    } else {
        None
    };
    if let Some(scale) = &scale {
        println!("{}", scale.table());
    }
    if wanted("4") {
        let stress = stress_section(&ctx)?;
        println!("{}", stress.table());
        if let Some(local) = &local {
            println!("{}", stress.beside(local));
        }
    }
    if wanted("5") {
        println!("{}", busy_section(&ctx)?.table());
    }
    if let (Some(local), Some(remote)) = (&local, &remote) {
        println!("{}", targets_table(local, remote, scale.as_ref()));
    }
    println!(
        "Total bench time: {:.0} s.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

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
                "| scale: peak memory for {} scenes ≤ 1.5× that for {} | {} | {} |\n",
                scale.largest().scenes,
                scale.runs[0].scenes,
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
