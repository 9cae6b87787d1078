//! `seed`: converge the database to the canonical fixture (and any load-test
//! stories) in one locked transaction, then drop the app's cache keys for
//! everything that changed.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::cli::SeedArgs;
use crate::config::Config;
use crate::engine::{self, Access, Adoption, KeyDrop, Session, Writes};
use crate::error::{ExitCode, Result};
use crate::io::scale::{self, Source};
use crate::progress;
use crate::pure::dependents::{Doomed, Mode};
use crate::pure::fixture::{Kind, Tag};
use crate::pure::plan::{self, Goal};
use crate::pure::wording::{agree, count};
use crate::report::{Report, ScaleLine};

use super::Outcome;

pub async fn run(g: &Config, args: &SeedArgs) -> Result<Outcome> {
    let started = Instant::now();
    let file = crate::settings::seed_file(g.seed_file.as_deref())?;
    let scale = args.scale.unwrap_or(file.scale.stories);
    let dry_run = args.write.dry_run.dry_run;
    // Every --auth-out input is checked before anything connects or is written.
    let auth = match (&args.auth_out, dry_run) {
        (Some(dir), false) => Some(super::auth::prepare(&file, dir, &args.auth)?),
        _ => None,
    };
    let writes = if dry_run {
        Writes::Nothing
    } else {
        Writes::Everything
    };
    let no_cache = args.write.cache.no_cache;
    let (cache, mut target) =
        engine::start(g, file, no_cache, writes, Adoption::Strict, scale).await?;
    // Extras are found on every run, so a seed without --prune can say they
    // are there instead of calling the fixture exact while verify would not.
    let canonical = target.fixture.canonical(&target.file.scale.account_id());
    let (state, extras) = target
        .read(g, Access::unless_dry_run(dry_run), &canonical, Mode::Extras)
        .await?;
    // Redis connected while PostgreSQL was read; nothing is written yet.
    let mut cache = cache.ready().await?;
    let left = if args.prune {
        Vec::new()
    } else {
        extras
            .iter()
            .map(|(t, f)| (t.clone(), f.rows.len()))
            .collect()
    };
    let doomed = if args.prune { extras } else { Doomed::new() };
    let plan = plan::diff(&target.fixture, &state, doomed, Goal::Fixture);
    let mut report = Report {
        command: "seed",
        dry_run,
        notes: target.notes_with_credentials(),
        ..Report::default()
    };
    report.tables_from(&plan);
    let statements = plan.statements(&target.catalog);
    let mut tags = plan.touched();
    if dry_run {
        if scale > 0 {
            let (source, expected) = scale::expected(g, &target, scale)?.expect("scale > 0");
            let held = scale::read_state(&mut target.db, &target.file.scale.account_id()).await?;
            report.scale = Some(ScaleLine {
                stories: u64::from(source.stories),
                written: !held.same_data(&expected),
                rows: expected.rows,
                bytes: 0,
            });
        }
        target.rollback().await?;
    } else {
        if scale == 0 {
            // The writes and the COMMIT travel together: one round trip.
            target.commit(statements).await?;
        } else {
            // The load-test account must exist before its stories are copied.
            target.execute(statements).await?;
            let (line, stories) = write_scale(g, &mut target, scale).await?;
            tags.extend(stories);
            report.scale = Some(line);
            target.commit(Vec::new()).await?;
        }
    }
    engine::drop_keys(cache.as_mut(), &tags, KeyDrop::after(dry_run), &mut report).await?;
    if let Some(plan) = &auth {
        report.auth = Some(super::auth::write_states(&mut target, plan).await?);
    }
    let blocked = blocked_note(&plan);
    let complete = blocked.is_none() && left.is_empty();
    report.notes.extend(blocked);
    if !left.is_empty() {
        let n: usize = left.iter().map(|(_, n)| n).sum();
        let tables: Vec<String> = left.iter().map(|(t, n)| format!("{t} {n}")).collect();
        report.notes.push(format!(
            "{} {} off the fixture without being part of it ({}); verify reports {} as extra, and `seed --prune` removes {}",
            count(n, "row"),
            agree(n, "hangs", "hang"),
            tables.join(", "),
            agree(n, "it", "them"),
            agree(n, "it", "them"),
        ));
    }
    if complete && report.changes() == 0 && report.scale.as_ref().is_none_or(|s| !s.written) {
        report
            .notes
            .push("the fixture was already exact; nothing was written".into());
    }
    target.finish(&mut report, cache.as_ref(), started);
    target.db.close().await;
    Ok((report, ExitCode::Ok))
}

/// Says which missing fixture rows could not be created, and what they need.
fn blocked_note(plan: &plan::Plan) -> Option<String> {
    let mut missing = Vec::new();
    let mut needs = BTreeSet::new();
    for tp in &plan.tables {
        for b in &tp.blocked {
            missing.push(format!("{}/{}", tp.table, b.key));
            needs.insert(b.needs.clone());
        }
    }
    (!missing.is_empty()).then(|| {
        format!(
            "{} {} missing and cannot be created without {} ({}): set it and run seed again; verify reports {} as missing",
            count(missing.len(), "fixture row"),
            agree(missing.len(), "is", "are"),
            needs.into_iter().collect::<Vec<_>>().join(", "),
            missing.join(", "),
            agree(missing.len(), "it", "them"),
        )
    })
}

/// Replaces the load-test data unless it is already exact: an empty start
/// streams at once; otherwise the expected checksum decides, and what hangs
/// off the load-test account is deleted before streaming anew. Returns the
/// stories' cache tags.
async fn write_scale(
    g: &Config,
    target: &mut Session,
    stories: u32,
) -> Result<(ScaleLine, BTreeSet<Tag>)> {
    let account = target.file.scale.account_id();
    let source = Source::new(
        &target.file,
        &target.fixture.accounts,
        &target.catalog,
        stories,
    );
    let held = scale::read_state(&mut target.db, &account).await?;
    let mut tags = BTreeSet::new();
    if !held.is_empty() {
        let bar = progress::bar(g, "check");
        let expected = source.expected(&bar)?;
        bar.finish_and_clear();
        if held.same_data(&expected) {
            let line = ScaleLine {
                stories: u64::from(stories),
                rows: expected.rows,
                bytes: 0,
                written: false,
            };
            return Ok((line, tags));
        }
        // Set-based, inside the database: only counts and story ids come back.
        let old = target.sweep_load_test(Mode::Extras).await?;
        let deletes = old.ordered(&target.catalog);
        tags.extend(old.tags.ids);
        target.execute(deletes).await?;
    }
    let bar = progress::bar(g, "copy");
    let written = source.stream(&mut target.db, &target.catalog, &bar).await?;
    bar.finish_and_clear();
    // The new stories have the same ids; their families (and the account's lists) go too.
    tags.insert((Kind::User, account));
    let line = ScaleLine {
        stories: u64::from(stories),
        rows: written.rows,
        bytes: written.bytes,
        written: true,
    };
    Ok((line, tags))
}
