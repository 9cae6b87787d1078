//! `teardown`: remove the fixture and every row that depends on it (found
//! from the catalog's foreign keys), in one locked transaction, then the
//! fixture's cache keys. Adopted accounts and unrelated rows stay.

use std::time::Instant;

use crate::cli::WriteArgs;
use crate::config::Config;
use crate::engine::{self, Access, Adoption, KeyDrop, Writes};
use crate::error::{ExitCode, Result};
use crate::io::sweep::Swept;
use crate::pure::dependents::Mode;
use crate::pure::fixture::Kind;
use crate::pure::plan::{self, Goal};
use crate::pure::wording::{agree, count};
use crate::report::{Report, TableLine};

use super::Outcome;

pub async fn run(g: &Config, args: &WriteArgs) -> Result<Outcome> {
    let started = Instant::now();
    let file = crate::settings::seed_file(g.seed_file.as_deref())?;
    let dry_run = args.dry_run.dry_run;
    let writes = if dry_run {
        Writes::Nothing
    } else {
        Writes::Everything
    };
    let (cache, mut target) =
        engine::start(g, file, args.cache.no_cache, writes, Adoption::Lenient, 0).await?;

    // Load-test stories hang off their own account. A real run sweeps them
    // inside the database (their number never reaches this process); a dry
    // run, whose transaction is read-only, walks from the account instead.
    let account = target.file.scale.account_id();
    let mut walk_from = target.fixture.canonical(&account);
    if dry_run {
        walk_from.add_scale_account(&account);
    }
    let (state, doomed) = target
        .read(
            g,
            Access::unless_dry_run(dry_run),
            &walk_from,
            Mode::Teardown,
        )
        .await?;
    // Redis connected while PostgreSQL was read; nothing is written yet.
    let mut cache = cache.ready().await?;
    let swept = if dry_run {
        Swept::default()
    } else {
        target.sweep_load_test(Mode::Teardown).await?
    };
    let plan = plan::diff(&walk_from, &state, doomed, Goal::Removal);
    let mut report = Report {
        command: "teardown",
        dry_run,
        notes: target.notes.clone(),
        ..Report::default()
    };
    report.tables_from(&plan);
    if dry_run {
        target.rollback().await?;
    } else {
        let statements = plan.statements_with(&target.catalog, &swept.deletes);
        let counts = target.commit(statements).await?;
        // Report what the deletes really removed, swept tables included.
        for (table, _) in &counts {
            if !report.tables.iter().any(|l| l.table == *table) {
                report.tables.push(TableLine {
                    table: table.clone(),
                    ..TableLine::default()
                });
            }
        }
        for line in &mut report.tables {
            line.delete = counts
                .iter()
                .filter(|(t, _)| *t == line.table)
                .map(|(_, n)| *n as usize)
                .sum();
        }
    }
    // Everything the fixture is goes from the cache, whether or not its rows
    // were there, and so do the load-test account's and stories' families.
    let mut tags = target.all_tags();
    tags.extend(plan.touched());
    if !account.is_empty() {
        tags.insert((Kind::User, account));
    }
    tags.extend(swept.tags.ids);
    if swept.tags.untagged > 0 {
        report.notes.push(untagged_note(swept.tags.untagged));
    }
    engine::drop_keys(cache.as_mut(), &tags, KeyDrop::after(dry_run), &mut report).await?;
    target.finish(&mut report, cache.as_ref(), started);
    target.db.close().await;
    Ok((report, ExitCode::Ok))
}

/// Says that some load-test entities' cache families were left to expire.
fn untagged_note(n: u64) -> String {
    let n = n as usize;
    format!(
        "{} of load-test data went without clearing {} cache families one by one (only the stories' were, to keep memory flat); those keys expire within the app's retention, at most an hour",
        count(n, "chapter, scene or other entity"),
        agree(n, "its", "their"),
    )
}
