//! Part 3: scale mode beside raw `psql \copy` of the same rows.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};

use crate::ctx::*;
use crate::stats::Stats;

/// Scenes per run, smallest first; `BENCH_SCALE_SCENES=45000,450000` for others.
fn scale_targets() -> Result<Vec<u64>> {
    let text = std::env::var("BENCH_SCALE_SCENES").unwrap_or_else(|_| "10000,100000".into());
    let mut targets = text
        .split(',')
        .map(|n| {
            n.trim()
                .parse::<u64>()
                .context("BENCH_SCALE_SCENES: scene counts")
        })
        .collect::<Result<Vec<u64>>>()?;
    targets.sort_unstable();
    ensure!(
        !targets.is_empty(),
        "BENCH_SCALE_SCENES names no scene count"
    );
    Ok(targets)
}

pub(crate) struct ScaleRun {
    pub(crate) scenes: u64,
    pub(crate) stories: u64,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    pub(crate) wall: Duration,
    pub(crate) peak_rss_kib: Option<u64>,
    /// `verify --scale N` right after the seed, and then `teardown`: wall and peak RSS.
    pub(crate) verify: (Duration, Option<u64>),
    pub(crate) teardown: (Duration, Option<u64>),
}

/// Runs the tool with `--json ARGS` against `db`, under `/usr/bin/time -v`
/// when there is one; wall time and peak RSS in KiB. A failed run is an error.
fn measured(ctx: &Ctx, db: &str, args: &[&str]) -> Result<(Duration, Option<u64>)> {
    let time_bin = Path::new("/usr/bin/time");
    let rss_file = ctx.work.path().join("time.txt");
    let (wall, code, output) = if time_bin.is_file() {
        let mut cmd = Command::new(time_bin);
        cmd.arg("-v").arg("-o").arg(&rss_file).arg(&ctx.bin);
        timed(cmd, ctx, &ctx.url(db), args)?
    } else {
        timed(Command::new(&ctx.bin), ctx, &ctx.url(db), args)?
    };
    ensure!(code == 0, "{args:?} exited with {code}: {output}");
    let peak = std::fs::read_to_string(&rss_file).ok().and_then(|s| {
        s.lines()
            .find(|l| l.contains("Maximum resident set size"))
            .and_then(|l| l.rsplit(':').next())
            .and_then(|v| v.trim().parse().ok())
    });
    let _ = std::fs::remove_file(&rss_file);
    Ok((wall, peak))
}

pub(crate) struct Scale {
    pub(crate) scenes_per_story: u64,
    pub(crate) runs: Vec<ScaleRun>,
    /// `psql \copy` of the largest run's rows.
    pub(crate) copy_wall: Duration,
    /// The largest run's seed and `psql \copy` again, alternating, each into
    /// a fresh database: (tool, psql) per pair, the first pair the runs above.
    pub(crate) pairs: Vec<(Duration, Duration)>,
}

/// Tool-and-psql pairs at the largest size (`BENCH_COPY_PAIRS`, default 5):
/// single runs on this machine vary by more than the margin goal 5 asks about.
fn copy_pairs() -> Result<usize> {
    let text = std::env::var("BENCH_COPY_PAIRS").unwrap_or_else(|_| "5".into());
    let n: usize = text.trim().parse().context("BENCH_COPY_PAIRS: a count")?;
    Ok(n.max(1))
}

pub(crate) fn scale_section(ctx: &Ctx) -> Result<Option<Scale>> {
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

    let mut runs = Vec::new();
    let mut copy_wall = Duration::ZERO;
    let mut pairs = Vec::new();
    let targets = scale_targets()?;
    for &target in &targets {
        let stories = target.div_ceil(scenes_per_story);
        eprintln!("bench: part 3: seed --scale {stories} ({target} scenes)");
        let db = ctx.fresh_db("scale")?;
        let n = stories.to_string();
        let (wall, peak_rss_kib) = measured(ctx, &db, &["seed", "--scale", &n])?;
        // Right after the seed, before autovacuum has looked at the new rows.
        eprintln!("bench: part 3: verify --scale {stories}, then teardown");
        let verify = measured(ctx, &db, &["verify", "--scale", &n])?;
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
        let teardown = measured(ctx, &db, &["teardown"])?;
        ctx.drop_db(&db)?;

        if Some(&target) == targets.last() {
            // The raw COPY speed of this machine: the same rows with psql \copy,
            // into a fresh database, in one transaction.
            eprintln!("bench: part 3: psql \\copy of the same {rows} rows");
            let copy = || -> Result<Duration> {
                let into = ctx.fresh_db("scale_copy")?;
                let start = Instant::now();
                psql_script(ctx, &into, &dir.join("load.psql"), &load)?;
                let wall = start.elapsed();
                ctx.drop_db(&into)?;
                Ok(wall)
            };
            copy_wall = copy()?;
            pairs.push((wall, copy_wall));
            let seed = || -> Result<Duration> {
                let into = ctx.fresh_db("scale_again")?;
                let (wall, _) = measured(ctx, &into, &["seed", "--scale", &n])?;
                ctx.drop_db(&into)?;
                Ok(wall)
            };
            for i in 1..copy_pairs()? {
                eprintln!(
                    "bench: part 3: pair {} of seed --scale {stories} and psql \\copy",
                    i + 1
                );
                // Alternating which goes first spreads any drift of the
                // machine over both.
                pairs.push(if i % 2 == 1 {
                    let psql = copy()?;
                    (seed()?, psql)
                } else {
                    let tool = seed()?;
                    (tool, copy()?)
                });
            }
        }
        std::fs::remove_dir_all(&dir)?;
        runs.push(ScaleRun {
            scenes,
            stories,
            rows,
            bytes,
            wall,
            peak_rss_kib,
            verify,
            teardown,
        });
    }
    Ok(Some(Scale {
        scenes_per_story,
        runs,
        copy_wall,
        pairs,
    }))
}

/// Runs `cmd` (the tool, maybe under /usr/bin/time) with `--json ARGS`.
pub(crate) fn timed(
    mut cmd: Command,
    ctx: &Ctx,
    db_url: &str,
    args: &[&str],
) -> Result<(Duration, i32, String)> {
    cmd.current_dir(&ctx.root)
        .env("DATABASE_URL", db_url)
        .env("REDIS_URL", ctx.redis.as_str())
        // As in Ctx::tool: the fixture's API keys need their secret.
        .env("FIXTURE_API_KEY_SECRET", "bench-only-api-key-secret")
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

impl Scale {
    pub(crate) fn largest(&self) -> &ScaleRun {
        &self.runs[self.runs.len() - 1]
    }

    /// Tool throughput over psql's: the ratio of their median walls over
    /// the pairs.
    pub(crate) fn copy_share(&self) -> f64 {
        let (tool, psql): (Vec<Duration>, Vec<Duration>) = self.pairs.iter().copied().unzip();
        Stats::of(&psql).median.as_secs_f64() / Stats::of(&tool).median.as_secs_f64()
    }

    pub(crate) fn memory_ratio(&self) -> Option<f64> {
        Some(self.largest().peak_rss_kib? as f64 / self.runs[0].peak_rss_kib? as f64)
    }

    pub(crate) fn table(&self) -> String {
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
            s += &line(
                &format!("then `verify --scale {}`", r.stories),
                r,
                r.verify.0,
                r.verify.1,
            );
            s += &line("then `teardown`", r, r.teardown.0, r.teardown.1);
        }
        s += &line(
            "`psql \\copy`, same rows as the largest run",
            self.largest(),
            self.copy_wall,
            None,
        );
        let walls = |pick: fn(&(Duration, Duration)) -> Duration| {
            self.pairs
                .iter()
                .map(|p| format!("{:.2}", pick(p).as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        s += &format!(
            "\nTool throughput / raw COPY throughput: **{:.0}%**, the ratio of the median walls of \
             {} alternating pairs, each into a fresh database (tool: {} s; `psql \\copy`: {} s). \
             Peak memory, largest / smallest: {}.\n",
            self.copy_share() * 100.0,
            self.pairs.len(),
            walls(|p| p.0),
            walls(|p| p.1),
            self.memory_ratio()
                .map_or("n/a (no /usr/bin/time)".to_string(), |r| format!(
                    "**{r:.2}×**"
                ))
        );
        s
    }
}
