//! The plan: what `seed` must change to reach the canonical fixture, derived
//! purely from the fixture, the state read back and the rows hanging off it.
//! `seed`, `--dry-run`, `verify` and `teardown` all read this one structure.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::auth::password;
use crate::catalog::Catalog;
use crate::dependents::{self, Doomed};
use crate::fixture::{Fixture, FixtureRow, Row, TableRows, Tag};
use crate::snapshot::Snapshot;
use crate::sql;

/// A column whose stored value differs from the fixture's.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    pub column: String,
    pub expected: Value,
    pub actual: Value,
}

#[derive(Debug, Clone, Default)]
pub struct TablePlan {
    pub table: String,
    /// Fixture rows (indexes into the table's rows) missing from the database.
    pub insert: Vec<usize>,
    /// Fixture rows present with owned columns drifted.
    pub update: Vec<(usize, Vec<Drift>)>,
    pub unchanged: usize,
    /// Rows that go (extras for seed --prune, everything for teardown).
    pub delete: usize,
    /// Missing fixture rows this run cannot create (their secret is not set).
    pub blocked: Vec<usize>,
    /// For updated rows with columns this run cannot compute: the stored
    /// values of those columns, written back unchanged.
    pub kept: BTreeMap<usize, Row>,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub tables: Vec<TablePlan>,
    pub doomed: Doomed,
}

impl Plan {
    /// Cache tags of every row the plan inserts, changes or deletes.
    pub fn touched(&self, fixture: &Fixture) -> BTreeSet<Tag> {
        let mut tags = BTreeSet::new();
        for (tp, rows) in self.tables.iter().zip(&fixture.tables) {
            let changed = tp.insert.iter().chain(tp.update.iter().map(|(i, _)| i));
            for &i in changed {
                tags.extend(rows.rows[i].tags.iter().cloned());
            }
        }
        for found in self.doomed.values() {
            for (_, t) in found.rows.values() {
                tags.extend(t.iter().cloned());
            }
        }
        tags
    }

    /// The statements that carry the plan out: deletes children-first, then
    /// one upsert per table parents-first. Each reports its row count.
    pub fn statements(&self, fixture: &Fixture, catalog: &Catalog) -> Vec<String> {
        let mut out = Vec::new();
        for table in dependents::delete_order(catalog, &self.doomed) {
            out.push(dependents::delete_statement(
                catalog,
                &table,
                &self.doomed[&table],
            ));
        }
        for (tp, rows) in self.tables.iter().zip(&fixture.tables) {
            let changed: Vec<usize> = tp
                .insert
                .iter()
                .copied()
                .chain(tp.update.iter().map(|(i, _)| *i))
                .collect();
            if !changed.is_empty() {
                let data = changed
                    .iter()
                    .map(|i| {
                        let mut row = rows.rows[*i].values.clone();
                        if let Some(kept) = tp.kept.get(i) {
                            row.extend(kept.clone());
                        }
                        row
                    })
                    .collect();
                out.push(upsert(rows, data));
            }
        }
        out
    }
}

/// Where a plan leads the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// To exactly the fixture (seed, verify): missing rows are inserted,
    /// drifted ones restored.
    Fixture,
    /// To no fixture at all (teardown): only deletes.
    Removal,
}

/// Compares the fixture with the snapshot; `doomed` are the rows that go.
pub fn diff(fixture: &Fixture, state: &Snapshot, doomed: Doomed, goal: Goal) -> Plan {
    let mut tables = Vec::new();
    for rows in &fixture.tables {
        let mut tp = TablePlan {
            table: rows.table.clone(),
            delete: doomed.get(&rows.table).map_or(0, |f| f.rows.len()),
            ..TablePlan::default()
        };
        if goal == Goal::Fixture {
            let read = state.tables.get(&rows.table);
            for (i, row) in rows.rows.iter().enumerate() {
                let key = rows.key_of(&row.values);
                match read.and_then(|r| r.get(&key)) {
                    Some((desired, Some(actual))) => {
                        let drifts = drifted(rows, row, desired, actual);
                        if drifts.is_empty() {
                            tp.unchanged += 1;
                        } else {
                            if !row.kept.is_empty() {
                                let kept = row
                                    .kept
                                    .iter()
                                    .map(|c| {
                                        (c.clone(), actual.get(c).cloned().unwrap_or(Value::Null))
                                    })
                                    .collect();
                                tp.kept.insert(i, kept);
                            }
                            tp.update.push((i, drifts));
                        }
                    }
                    _ if row.needs.is_some() => tp.blocked.push(i),
                    _ => tp.insert.push(i),
                }
            }
        }
        tables.push(tp);
    }
    // Tables outside the fixture that lose rows (views, comments, ...).
    for (table, found) in &doomed {
        if fixture.table(table).is_none() {
            tables.push(TablePlan {
                table: table.clone(),
                delete: found.rows.len(),
                ..TablePlan::default()
            });
        }
    }
    Plan { tables, doomed }
}

/// Owned columns of `row` whose stored value differs from the desired one.
/// A password column is exact when its stored hash verifies, whatever salt
/// made it (the app may have re-hashed it), so re-seeding never churns it.
fn drifted(rows: &TableRows, row: &FixtureRow, desired: &Row, actual: &Row) -> Vec<Drift> {
    row.values
        .keys()
        .filter(|c| !rows.unowned.contains(c))
        .filter_map(|c| {
            let expected = desired.get(c).cloned().unwrap_or(Value::Null);
            let have = actual.get(c).cloned().unwrap_or(Value::Null);
            let same = match (row.passwords.get(c), &have) {
                (Some(plain), Value::String(stored)) => password::verify(plain.expose(), stored),
                _ => expected == have,
            };
            (!same).then(|| Drift {
                column: c.clone(),
                expected,
                actual: have,
            })
        })
        .collect()
}

/// `INSERT … SELECT FROM json_populate_recordset … ON CONFLICT DO UPDATE` of
/// `data` (rows of `rows.table`): owned columns are restored, unowned ones
/// left as they are.
fn upsert(rows: &TableRows, data: Vec<Row>) -> String {
    let mut columns = rows.columns();
    for row in &data {
        for c in row.keys() {
            if !columns.contains(c) {
                columns.push(c.clone());
            }
        }
    }
    let data: Vec<Value> = data.into_iter().map(Value::Object).collect();
    let owned: Vec<&String> = columns
        .iter()
        .filter(|c| !rows.key.contains(c) && !rows.unowned.contains(c))
        .collect();
    let on_conflict = if owned.is_empty() {
        "DO NOTHING".to_string()
    } else {
        let sets = owned
            .iter()
            .map(|c| format!("{0} = EXCLUDED.{0}", sql::ident(c)))
            .collect::<Vec<_>>()
            .join(", ");
        format!("DO UPDATE SET {sets}")
    };
    sql::counted(
        &rows.table,
        &format!(
            "INSERT INTO {table} ({cols}) SELECT {cols} FROM json_populate_recordset(NULL::{table}, {data}) ON CONFLICT ({key}) {on_conflict}",
            table = sql::ident(&rows.table),
            cols = sql::columns(&columns, None),
            data = sql::json(&Value::Array(data)),
            key = sql::columns(&rows.key, None),
        ),
    )
}
