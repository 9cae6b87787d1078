//! `seed`: converge the database to the canonical fixture in one locked
//! transaction, then drop the app's cache keys for everything that changed.

use std::time::Instant;

use crate::cli::{Global, SeedArgs};
use crate::closure::{self, Doomed, Mode};
use crate::engine::{self, Adoption};
use crate::error::{ExitCode, Result};
use crate::plan;
use crate::report::Report;
use crate::seedfile;
use crate::settings::Targets;

use super::Outcome;

pub async fn run(g: &Global, args: &SeedArgs) -> Result<Outcome> {
    let started = Instant::now();
    let file = seedfile::load(&g.seed_file)?;
    let dry_run = args.write.dry_run.dry_run;
    let targets = Targets::resolve(g, args.write.cache.no_cache)?;
    if !dry_run {
        targets.guard(g, true)?;
    }
    let mut cache = engine::connect_cache(g, &targets).await?;
    let mut target = engine::open(g, &targets, file, Adoption::Strict).await?;

    let state = target.begin(g, !dry_run).await?;
    let doomed = if args.prune {
        closure::walk(
            &mut target.db,
            &target.catalog,
            &target.fixture,
            Mode::Extras,
        )
        .await?
    } else {
        Doomed::new()
    };
    let plan = plan::diff(&target.fixture, &state, doomed, false);
    let mut report = Report {
        command: "seed",
        dry_run,
        notes: target.notes.clone(),
        ..Report::default()
    };
    report.tables_from(&plan);
    if dry_run {
        target.rollback().await?;
    } else {
        let statements = plan.statements(&target.fixture, &target.catalog);
        target.commit(statements).await?;
    }
    let tags = plan.touched(&target.fixture);
    engine::drop_keys(cache.as_mut(), &tags, dry_run, !dry_run, &mut report).await?;
    if report.changes() == 0 {
        report
            .notes
            .push("the fixture was already exact; nothing was written".into());
    }
    target.finish(&mut report, cache.as_ref(), started);
    target.db.close().await;
    Ok((report, ExitCode::Ok))
}
