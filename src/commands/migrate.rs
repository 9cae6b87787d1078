//! `migrate`: create the local copy of the app's tables from the embedded
//! migrations. Against the app's own database the app owns the schema and
//! this command is not used.

use std::time::Instant;

use crate::cli::MigrateArgs;
use crate::config::Config;
use crate::error::{ExitCode, Result};
use crate::io::db::{Db, Limits};
use crate::report::Report;
use crate::settings::Servers;

use super::Outcome;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub async fn run(g: &Config, args: &MigrateArgs) -> Result<Outcome> {
    let started = Instant::now();
    let targets = Servers::resolve(g, true)?;
    if !args.dry_run.dry_run {
        targets.guard(g, true)?;
    }
    let url = targets.database;
    let limits = Limits {
        connect: g.connect_timeout,
        attempts: g.connect_attempts,
    };
    let mut db = Db::connect(&url, limits).await?;
    let applied = db.applied_migrations().await?;
    let pending: Vec<String> = MIGRATOR
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .map(|m| format!("{} {}", m.version, m.description))
        .collect();
    let mut report = Report {
        command: "migrate",
        dry_run: args.dry_run.dry_run,
        ..Report::default()
    };
    if pending.is_empty() {
        report
            .notes
            .push("every migration is applied; nothing to do".into());
    } else {
        let verb = if args.dry_run.dry_run {
            "would apply"
        } else {
            "applied"
        };
        report
            .notes
            .extend(pending.iter().map(|m| format!("{verb} {m}")));
        report.notes.push(format!(
            "{verb} {}",
            crate::pure::wording::count(pending.len(), "migration")
        ));
        if !args.dry_run.dry_run {
            db.migrate(&MIGRATOR).await?;
        }
    }
    report.statements = db.statements;
    report.round_trips = db.round_trips;
    report.elapsed_ms = started.elapsed().as_millis();
    db.close().await;
    Ok((report, ExitCode::Ok))
}
