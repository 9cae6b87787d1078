//! `seed`: converge the database to the canonical fixture (and any load-test
//! stories) in one locked transaction, then drop the app's cache keys for
//! everything that changed.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::cli::{Global, SeedArgs};
use crate::closure::{self, Doomed, Mode};
use crate::engine::{self, Adoption, Target};
use crate::error::{ExitCode, Result};
use crate::fixture::{Kind, Tag};
use crate::plan;
use crate::progress;
use crate::report::{Report, ScaleLine};
use crate::scale::{self, Spool};
use crate::seedfile;
use crate::settings::Targets;

use super::Outcome;

pub async fn run(g: &Global, args: &SeedArgs) -> Result<Outcome> {
    let started = Instant::now();
    let file = seedfile::load(&g.seed_file)?;
    let scale = args.scale.unwrap_or(file.scale.stories);
    let dry_run = args.write.dry_run.dry_run;
    let targets = Targets::resolve(g, args.write.cache.no_cache)?;
    if !dry_run {
        targets.guard(g, true)?;
    }
    let mut cache = engine::connect_cache(g, &targets).await?;
    let mut target = engine::open(g, &targets, file, Adoption::Strict, scale).await?;
    // Generating load-test text is CPU work: done before taking the lock.
    let spool = scale::prepare(g, &target, scale)?;

    let state = target.begin(g, !dry_run).await?;
    let doomed = if args.prune {
        closure::walk(
            &mut target.db,
            &target.catalog,
            &target.fixture.canonical(&target.file.scale.account_id()),
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
    let statements = plan.statements(&target.fixture, &target.catalog);
    let mut tags = plan.touched(&target.fixture);
    if dry_run {
        if let Some(spool) = &spool {
            report.scale = Some(scale_plan(&mut target, spool).await?.0);
        }
        target.rollback().await?;
    } else {
        match &spool {
            // The writes and the COMMIT travel together: one round trip.
            None => {
                target.commit(statements).await?;
            }
            Some(spool) => {
                // The load-test account must exist before its stories are copied.
                target.execute(statements).await?;
                let (line, stories) = write_scale(g, &mut target, spool).await?;
                tags.extend(stories);
                report.scale = Some(line);
                target.commit(Vec::new()).await?;
            }
        }
    }
    engine::drop_keys(cache.as_mut(), &tags, dry_run, !dry_run, &mut report).await?;
    if let (Some(dir), false) = (&args.auth_out, dry_run) {
        report.auth = Some(super::auth::write_states(&mut target, dir, &args.auth).await?);
        report.show_secrets = args.auth.show_secrets;
    }
    if report.changes() == 0 && report.scale.as_ref().is_none_or(|s| !s.written) {
        report
            .notes
            .push("the fixture was already exact; nothing was written".into());
    }
    target.finish(&mut report, cache.as_ref(), started);
    target.db.close().await;
    Ok((report, ExitCode::Ok))
}

/// Compares the spooled scale data with what the database holds.
async fn scale_plan(target: &mut Target, spool: &Spool) -> Result<(ScaleLine, bool)> {
    let account = target.file.scale.account_id();
    let held = scale::read_state(&mut target.db, &account).await?;
    let exact = held == spool.expected;
    let line = ScaleLine {
        stories: spool.expected.rows.get("stories").copied().unwrap_or(0),
        rows: spool.expected.rows.clone(),
        bytes: spool.bytes,
        written: !exact,
    };
    Ok((line, exact))
}

/// Replaces the load-test data when it differs: deletes what hangs off the
/// load-test account, then COPYs the spool. Returns the stories' cache tags.
async fn write_scale(
    g: &Global,
    target: &mut Target,
    spool: &Spool,
) -> Result<(ScaleLine, BTreeSet<Tag>)> {
    let (line, exact) = scale_plan(target, spool).await?;
    let mut tags = BTreeSet::new();
    if exact {
        return Ok((line, tags));
    }
    let account = target.file.scale.account_id();
    let root = target.fixture.scale_root(&account);
    let old = closure::walk(&mut target.db, &target.catalog, &root, Mode::Extras).await?;
    for (table, found) in &old {
        if let Some(kind) = Kind::of_table(table).filter(|k| *k == Kind::Story) {
            tags.extend(found.rows.keys().map(|id| (kind, id.clone())));
        }
    }
    let deletes = closure::delete_order(&target.catalog, &old)
        .iter()
        .map(|t| closure::delete_statement(&target.catalog, t, &old[t]))
        .collect();
    target.execute(deletes).await?;
    let bar = progress::bar(g, "copy");
    spool.copy(&mut target.db, &bar).await?;
    bar.finish_and_clear();
    // The new stories have the same ids; their families (and the account's lists) go too.
    tags.insert((Kind::User, account));
    Ok((line, tags))
}
