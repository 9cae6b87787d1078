//! `verify`: compare the database and the cache with the canonical fixture
//! through the same plan `seed` would carry out, writing nothing. Every
//! difference becomes a finding; any finding means exit 1.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::Value;

use crate::cli::VerifyArgs;
use crate::config::Config;
use crate::engine::{self, Access, Adoption, Writes};
use crate::error::{ExitCode, Failure, Result};
use crate::io::cache::CachedKey;
use crate::pure::clock;
use crate::pure::dependents::Mode;
use crate::pure::families::Families;
use crate::pure::fixture::Row;
use crate::pure::plan::{self, Goal, Plan};
use crate::pure::snapshot::Snapshot;
use crate::report::{CacheLine, Finding, FindingKind, Report};

use super::Outcome;

pub async fn run(g: &Config, args: &VerifyArgs) -> Result<Outcome> {
    let started = Instant::now();
    let file = crate::settings::seed_file(g.seed_file.as_deref())?;
    let scale = args.scale.unwrap_or(file.scale.stories);
    let (cache, mut target) = engine::start(
        g,
        file,
        args.cache.no_cache,
        Writes::Nothing,
        Adoption::Lenient,
        scale,
    )
    .await?;

    // Built on the catalog before the first batch confirms it.
    let expected = crate::io::scale::expected(g, &target, scale)
        .map_err(|f| f.unconfirmed(target.catalog_unconfirmed()))?;
    let canonical = target.fixture.canonical(&target.file.scale.account_id());
    let (state, doomed) = target
        .read(g, Access::Read, &canonical, Mode::Extras)
        .await?;
    let mut cache = cache.ready().await?;
    let held = match &expected {
        Some(_) => Some(
            crate::io::scale::read_state(&mut target.db, &target.file.scale.account_id()).await?,
        ),
        None => None,
    };
    target.rollback().await?;
    let plan = plan::diff(&target.fixture, &state, doomed, Goal::Fixture);
    let mut findings = rows(&plan);
    findings.extend(counters(&state));
    if let (Some((_, expected)), Some(held)) = (&expected, &held) {
        findings.extend(scale_findings(expected, held));
    }

    let mut report = Report {
        command: "verify",
        notes: target.notes.clone(),
        ..Report::default()
    };
    report.tables_from(&plan);
    // Rows seed could not create are as missing as any other.
    for (line, tp) in report.tables.iter_mut().zip(&plan.tables) {
        line.insert += tp.blocked.len();
    }
    match cache.as_mut() {
        Some(cache) => {
            let families = Families::of(&target.all_tags());
            let present = async {
                let keys = cache.find(&families).await?;
                cache.inspect(&keys).await
            }
            .await
            .map_err(|e| {
                Failure::new(
                    ExitCode::Connect,
                    format!(
                        "Redis at {} failed while reading the fixture's keys: {}; check Redis, or pass --no-cache",
                        cache.shown,
                        e
                    ),
                )
            })?;
            findings.extend(stale(&present, &state));
            report.cache = Some(CacheLine {
                present,
                ..CacheLine::default()
            });
        }
        None => {
            report.cache = Some(CacheLine {
                skipped: true,
                ..CacheLine::default()
            })
        }
    }
    let code = if findings.is_empty() {
        ExitCode::Ok
    } else {
        ExitCode::Drift
    };
    report.findings = Some(findings);
    target.finish(&mut report, cache.as_ref(), started);
    target.db.close().await;
    Ok((report, code))
}

/// Missing rows, drifted columns and extra rows, from the plan.
fn rows(plan: &Plan) -> Vec<Finding> {
    let mut out = Vec::new();
    for tp in &plan.tables {
        let missing = tp.insert.iter().map(|w| &w.key);
        for key in missing.chain(tp.blocked.iter().map(|b| &b.key)) {
            out.push(finding(FindingKind::Missing, &tp.table, key.clone()));
        }
        for (write, drifts) in &tp.update {
            for d in drifts {
                out.push(Finding {
                    column: Some(d.column.clone()),
                    expected: Some(d.expected.clone()),
                    actual: Some(d.actual.clone()),
                    ..finding(FindingKind::Drift, &tp.table, write.key.clone())
                });
            }
        }
    }
    for (table, found) in &plan.doomed {
        for key in found.rows.keys() {
            out.push(finding(FindingKind::Extra, table, key.clone()));
        }
    }
    out
}

/// Stored counters that disagree with the rows they count.
fn counters(state: &Snapshot) -> Vec<Finding> {
    let mut out = Vec::new();
    for (name, rows) in &state.counters {
        let (table, column) = name.split_once('.').unwrap_or((name, ""));
        for (id, (stored, counted)) in rows {
            if stored.as_i64() != Some(*counted) {
                out.push(Finding {
                    column: Some(column.to_string()),
                    expected: Some(Value::from(*counted)),
                    actual: Some(stored.clone()),
                    ..finding(FindingKind::Counter, table, id.clone())
                });
            }
        }
    }
    out
}

/// Cached objects of fixture stories, chapters and scenes whose `title` or
/// `updatedAt` disagree with the database row (or whose row is gone).
fn stale(present: &[CachedKey], state: &Snapshot) -> Vec<Finding> {
    let mut rows: HashMap<&str, Option<&Row>> = HashMap::new();
    for table in ["stories", "chapters", "scenes"] {
        for (id, (_, actual)) in state.tables.get(table).into_iter().flatten() {
            rows.insert(id.as_str(), actual.as_ref());
        }
    }
    let mut out = Vec::new();
    for key in present {
        let Some(value) = key
            .value
            .as_deref()
            .and_then(|v| serde_json::from_str(v).ok())
        else {
            continue;
        };
        let mut objects = Vec::new();
        collect_objects(&value, &mut objects);
        for object in objects {
            let Some(id) = object.get("id").and_then(Value::as_str) else {
                continue;
            };
            let Some(row) = rows.get(id) else { continue };
            for (field, column) in [("title", "title"), ("updatedAt", "updated_at")] {
                let Some(cached) = object.get(field) else {
                    continue;
                };
                let db = row
                    .and_then(|r| r.get(column))
                    .cloned()
                    .unwrap_or(Value::Null);
                let same = match (cached, &db) {
                    (Value::String(a), Value::String(b)) if field == "updatedAt" => {
                        clock::same_instant(a, b)
                    }
                    (a, b) => a == b,
                };
                if !same {
                    out.push(Finding {
                        column: Some(format!("{id}.{field}")),
                        expected: Some(db),
                        actual: Some(cached.clone()),
                        ..finding(FindingKind::Stale, "cache", key.key.clone())
                    });
                }
            }
        }
    }
    out
}

fn collect_objects<'a>(value: &'a Value, out: &mut Vec<&'a serde_json::Map<String, Value>>) {
    match value {
        Value::Object(m) => {
            out.push(m);
            m.values().for_each(|v| collect_objects(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_objects(v, out)),
        _ => {}
    }
}

/// Load-test data: row counts per table and the scenes' content checksum.
fn scale_findings(
    expected: &crate::pure::load::Summary,
    held: &crate::pure::load::Summary,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let tables: std::collections::BTreeSet<&String> =
        expected.rows.keys().chain(held.rows.keys()).collect();
    for table in tables {
        let (e, a) = (
            expected.rows.get(table).copied().unwrap_or(0),
            held.rows.get(table).copied().unwrap_or(0),
        );
        if e != a {
            out.push(Finding {
                column: Some("rows".into()),
                expected: Some(Value::from(e)),
                actual: Some(Value::from(a)),
                ..finding(FindingKind::Scale, table, "load-test data".into())
            });
        }
    }
    if out.is_empty() && expected.checksum != held.checksum {
        out.push(Finding {
            column: Some("content checksum".into()),
            expected: Some(Value::from(expected.checksum.clone())),
            actual: Some(Value::from(held.checksum.clone())),
            ..finding(FindingKind::Scale, "scenes", "load-test data".into())
        });
    }
    out
}

fn finding(kind: FindingKind, table: &str, id: String) -> Finding {
    Finding {
        kind,
        table: table.to_string(),
        id,
        column: None,
        expected: None,
        actual: None,
    }
}
