//! `doctor`: reads the target's catalog (read-only) and says, per table, what
//! `seed` would write, which columns it would infer and how, what cannot fit,
//! and which dependent tables `teardown` would clear. Exit 0 when `seed`
//! would succeed, the schema code otherwise.

use std::collections::BTreeSet;
use std::time::Instant;

use serde::Serialize;

use crate::catalog::Catalog;
use crate::cli::Global;
use crate::compat::Fit;
use crate::engine::{self, Adoption};
use crate::error::{ExitCode, Result};
use crate::report::Report;
use crate::seedfile;
use crate::settings::Targets;

use super::Outcome;

/// The doctor's findings, carried in the report.
#[derive(Debug, Serialize)]
pub struct Diagnosis {
    #[serde(flatten)]
    pub fit: Fit,
    /// Tables outside the fixture whose rows teardown would clear when they
    /// reference fixture rows (through NO ACTION, RESTRICT or CASCADE keys).
    pub dependents: Vec<String>,
}

pub async fn run(g: &Global) -> Result<Outcome> {
    let started = Instant::now();
    let file = seedfile::load(&g.seed_file)?;
    let targets = Targets::resolve(g, true)?;
    let (target, fit) = engine::inspect(g, &targets, file, Adoption::Strict, 0).await?;
    let fixture_tables: BTreeSet<String> = target
        .fixture
        .tables
        .iter()
        .map(|t| t.table.clone())
        .collect();
    let dependents = dependents(&target.catalog, &fixture_tables);
    let code = if fit.problems.is_empty() {
        ExitCode::Ok
    } else {
        ExitCode::Schema
    };
    let mut report = Report {
        command: "doctor",
        dry_run: true,
        notes: target.notes.clone(),
        ..Report::default()
    };
    report.doctor = Some(Diagnosis { fit, dependents });
    target.finish(&mut report, None, started);
    target.db.close().await;
    Ok((report, code))
}

/// Tables reachable from the fixture's tables by following references backwards.
fn dependents(catalog: &Catalog, fixture: &BTreeSet<String>) -> Vec<String> {
    let mut seen: BTreeSet<String> = fixture.clone();
    let mut frontier: Vec<String> = fixture.iter().cloned().collect();
    while let Some(table) = frontier.pop() {
        for fk in catalog.referencing(&table).filter(|fk| fk.drags_rows()) {
            if seen.insert(fk.table.clone()) {
                frontier.push(fk.table.clone());
            }
        }
    }
    seen.difference(fixture).cloned().collect()
}

impl Diagnosis {
    pub fn human(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.fit.tables {
            out.push(format!(
                "{} ({} rows): writes {}",
                t.table,
                t.rows,
                t.writes.join(", ")
            ));
            for i in &t.inferred {
                out.push(format!("  infers {i}"));
            }
            for s in &t.skipped {
                out.push(format!("  skips {s} (not in this database)"));
            }
        }
        if !self.dependents.is_empty() {
            out.push(format!(
                "teardown would also clear dependent rows in: {}",
                self.dependents.join(", ")
            ));
        }
        for p in &self.fit.problems {
            out.push(format!("problem: {p}"));
        }
        out.push(if self.fit.problems.is_empty() {
            "seed would succeed".to_string()
        } else {
            format!(
                "{} problems: seed would stop before writing",
                self.fit.problems.len()
            )
        });
        out
    }
}
