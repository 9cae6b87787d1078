//! `invalidate`: drop only the app's cache keys of the whole fixture, the way
//! to finish a run whose database commit succeeded but whose Redis step failed.

use std::time::Instant;

use crate::cli::DryRun;
use crate::config::Config;
use crate::engine::{self, Adoption, KeyDrop, Writes};
use crate::error::{ExitCode, Result};
use crate::report::Report;

use super::Outcome;

pub async fn run(g: &Config, args: &DryRun) -> Result<Outcome> {
    let started = Instant::now();
    let file = crate::settings::seed_file(g.seed_file.as_deref())?;
    // The database is read only to learn adopted accounts' ids.
    let writes = if args.dry_run {
        Writes::Nothing
    } else {
        Writes::Cache
    };
    let (cache, target) = engine::start(g, file, false, writes, Adoption::Lenient, 0).await?;
    let mut cache = cache.ready().await?;
    let mut report = Report {
        command: "invalidate",
        dry_run: args.dry_run,
        notes: target.notes.clone(),
        ..Report::default()
    };
    let tags = target.all_tags();
    engine::drop_keys(
        cache.as_mut(),
        &tags,
        if args.dry_run {
            KeyDrop::List
        } else {
            KeyDrop::Only
        },
        &mut report,
    )
    .await?;
    target.finish(&mut report, cache.as_ref(), started);
    target.db.close().await;
    Ok((report, ExitCode::Ok))
}
