//! `teardown`: remove the fixture and every row that depends on it (found
//! from the catalog's foreign keys), in one locked transaction, then the
//! fixture's cache keys. Adopted accounts and unrelated rows stay.

use std::time::Instant;

use crate::cli::WriteArgs;
use crate::config::Config;
use crate::engine::{self, Access, Adoption, KeyDrop, Writes};
use crate::error::{ExitCode, Result};
use crate::pure::dependents::Mode;
use crate::pure::plan::{self, Goal};
use crate::report::Report;

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
    let (mut cache, mut target) =
        engine::start(g, file, args.cache.no_cache, writes, Adoption::Lenient, 0).await?;

    // Load-test stories hang off their own account: walking from it removes them too.
    let account = target.file.scale.account_id();
    target.fixture.add_scale_account(&account);
    let removal = target.fixture.clone();
    let (state, roots) = target
        .begin(g, Access::unless_dry_run(dry_run), &removal)
        .await?;
    let doomed = crate::io::walk::walk(
        &mut target.db,
        &target.catalog,
        &removal,
        Mode::Teardown,
        roots,
    )
    .await?;
    let plan = plan::diff(&target.fixture, &state, doomed, Goal::Removal);
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
        let statements = plan.statements(&target.catalog);
        let counts = target.commit(statements).await?;
        // Report what the deletes really removed.
        for line in &mut report.tables {
            line.delete = counts
                .iter()
                .filter(|(t, _)| *t == line.table)
                .map(|(_, n)| *n as usize)
                .sum();
        }
    }
    // Everything the fixture is goes from the cache, whether or not its rows were there.
    let mut tags = target.all_tags();
    tags.extend(plan.touched());
    engine::drop_keys(cache.as_mut(), &tags, KeyDrop::after(dry_run), &mut report).await?;
    target.finish(&mut report, cache.as_ref(), started);
    target.db.close().await;
    Ok((report, ExitCode::Ok))
}
