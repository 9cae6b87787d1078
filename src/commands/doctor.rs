//! `doctor`: reads the target's catalog (read-only) and says, per table, what
//! `seed` would write, which columns it would infer and how, what cannot fit,
//! and which dependent tables `teardown` would clear. It then makes the reads
//! `verify`, `seed --prune` and `teardown` make and has PostgreSQL plan (not
//! run) every statement `seed` and `teardown` would send, so it cannot pass
//! where they would fail. Exit 0 when all of that succeeds.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::config::Config;
use crate::engine::{self, Access, Adoption, Session};
use crate::error::{ExitCode, Result};
use crate::pure::catalog::Catalog;
use crate::pure::dependents::{self, Mode};
use crate::pure::plan::{self, Goal};
use crate::report::Report;
use crate::report::doctor::{Diagnosis, Rehearsal};
use crate::settings::Servers;

use super::Outcome;

pub async fn run(g: &Config) -> Result<Outcome> {
    let started = Instant::now();
    let file = crate::settings::seed_file(g.seed_file.as_deref())?;
    let targets = Servers::resolve(g, true)?;
    let (mut target, mut fit) = engine::inspect(g, &targets, file, Adoption::Strict, 0).await?;
    let fixture_tables: BTreeSet<String> = target
        .fixture
        .tables
        .iter()
        .map(|t| t.table.clone())
        .collect();
    let dependents = dependents(&target.catalog, &fixture_tables);
    let mut code = ExitCode::Ok;
    let mut rehearsal = None;
    if fit.problems.is_empty() {
        match rehearse(g, &mut target).await {
            Ok(r) => rehearsal = Some(r),
            Err(failure) => {
                fit.problems.push(format!(
                    "the reads and statements of verify, seed and teardown fail here: {}",
                    failure.message
                ));
                code = failure.code;
            }
        }
    } else {
        code = ExitCode::Schema;
    }
    let mut report = Report {
        command: "doctor",
        notes: target.notes.clone(),
        ..Report::default()
    };
    report.doctor = Some(Diagnosis {
        fit,
        dependents,
        rehearsal,
    });
    target.finish(&mut report, None, started);
    target.db.close().await;
    Ok((report, code))
}

/// In one read-only transaction: the state `seed` and `verify` read, the
/// walks of `seed --prune` / `verify` and of `teardown`, and an EXPLAIN of
/// every statement `seed` and `teardown` would then send.
async fn rehearse(g: &Config, target: &mut Session) -> Result<Rehearsal> {
    let canonical = target.fixture.canonical(&target.file.scale.account_id());
    let (state, extras) = target
        .read(g, Access::Read, &canonical, Mode::Extras)
        .await?;
    let mut removal = target.fixture.clone();
    removal.add_scale_account(&target.file.scale.account_id());
    let doomed = crate::io::walk::walk(
        &mut target.db,
        &target.catalog,
        &removal,
        Mode::Teardown,
        crate::io::walk::Ahead::default(),
    )
    .await?;
    let count = |d: &dependents::Doomed| d.values().map(|f| f.rows.len()).sum::<usize>();
    let mut rehearsal = Rehearsal {
        extra_rows: count(&extras),
        teardown_rows: count(&doomed),
        statements_planned: 0,
    };
    let seed = plan::diff(&target.fixture, &state, extras, Goal::Fixture);
    let teardown = plan::diff(&removal, &state, doomed, Goal::Removal);
    let mut statements = seed.statements(&target.catalog);
    statements.extend(teardown.statements(&target.catalog));
    rehearsal.statements_planned = statements.len();
    if !statements.is_empty() {
        // EXPLAIN without ANALYZE plans a write without running it, which a
        // read-only transaction allows.
        let explained: Vec<String> = statements
            .iter()
            .map(|s| format!("EXPLAIN (COSTS OFF) {s}"))
            .collect();
        let n = explained.len() as u64;
        target.db.batch(explained.join(";\n"), n).await?;
    }
    target.rollback().await?;
    Ok(rehearsal)
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
