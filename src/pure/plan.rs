//! The plan: what `seed` must change to reach the canonical fixture, derived
//! purely from the fixture, the state read back and the rows hanging off it.
//! `seed`, `--dry-run`, `verify` and `teardown` all read this one structure.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::auth::password;
use crate::pure::catalog::{Catalog, Table};
use crate::pure::dependents::{self, Doomed};
use crate::pure::fixture::{Fixture, FixtureRow, Row, TableRows, Tag};
use crate::pure::snapshot::Snapshot;
use crate::pure::sql;

/// A column whose stored value differs from the fixture's.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    pub column: String,
    pub expected: Value,
    pub actual: Value,
}

/// A fixture row the plan writes, owned: its key (for reports), the values
/// the upsert carries and the cache tags it shows under.
#[derive(Debug, Clone)]
pub struct Write {
    pub key: String,
    /// The desired values, plus the stored values of columns this run
    /// cannot compute, written back unchanged.
    pub values: Row,
    pub tags: Vec<Tag>,
}

/// A missing fixture row this run cannot create, and what creating it needs.
#[derive(Debug, Clone)]
pub struct Blocked {
    pub key: String,
    pub needs: String,
}

/// How a table's upsert names its columns: every column any fixture row
/// has, the key it conflicts on, and the columns it leaves alone.
#[derive(Debug, Clone, Default)]
struct Shape {
    columns: Vec<String>,
    key: Vec<String>,
    unowned: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TablePlan {
    pub table: String,
    /// Fixture rows missing from the database.
    pub insert: Vec<Write>,
    /// Fixture rows present with owned columns drifted.
    pub update: Vec<(Write, Vec<Drift>)>,
    pub unchanged: usize,
    /// Rows that go (extras for seed --prune, everything for teardown).
    pub delete: usize,
    /// Missing fixture rows this run cannot create (their secret is not set).
    pub blocked: Vec<Blocked>,
    shape: Shape,
}

impl TablePlan {
    /// The rows the upsert writes: inserts, then updates.
    fn writes(&self) -> impl Iterator<Item = &Write> {
        self.insert.iter().chain(self.update.iter().map(|(w, _)| w))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub tables: Vec<TablePlan>,
    pub doomed: Doomed,
}

impl Plan {
    /// Cache tags of every row the plan inserts, changes or deletes.
    pub fn touched(&self) -> BTreeSet<Tag> {
        let mut tags = BTreeSet::new();
        for tp in &self.tables {
            for w in tp.writes() {
                tags.extend(w.tags.iter().cloned());
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
    pub fn statements(&self, catalog: &Catalog) -> Vec<String> {
        self.statements_with(catalog, &BTreeMap::new())
    }

    /// The same, with `also` (table → a counted DELETE found elsewhere, such
    /// as a sweep's) in the one children-first order: a parent's delete
    /// may rewrite a child row through SET NULL, and a table identified by
    /// `ctid` must lose its rows before that moves them.
    pub fn statements_with(
        &self,
        catalog: &Catalog,
        also: &BTreeMap<String, String>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let tables: BTreeSet<&String> = self.doomed.keys().chain(also.keys()).collect();
        for table in dependents::delete_order(catalog, tables) {
            out.extend(also.get(&table).cloned());
            if let Some(found) = self.doomed.get(&table) {
                out.push(dependents::delete_statement(catalog, &table, found));
            }
        }
        for tp in &self.tables {
            let data: Vec<Value> = tp
                .writes()
                .map(|w| Value::Object(w.values.clone()))
                .collect();
            if !data.is_empty() {
                out.push(upsert(&tp.table, catalog.table(&tp.table), &tp.shape, data));
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
            shape: Shape {
                columns: rows.columns(),
                key: rows.key.clone(),
                unowned: rows.unowned.clone(),
            },
            ..TablePlan::default()
        };
        if goal == Goal::Fixture {
            let read = state.tables.get(&rows.table);
            for row in &rows.rows {
                let key = rows.key_of(&row.values);
                let mut write = Write {
                    key: key.clone(),
                    values: row.values.clone(),
                    tags: row.tags.clone(),
                };
                match read.and_then(|r| r.get(&key)) {
                    Some((desired, Some(actual))) => {
                        let drifts = drifted(rows, row, desired, actual);
                        if drifts.is_empty() {
                            tp.unchanged += 1;
                        } else {
                            for c in &row.kept {
                                let stored = actual.get(c).cloned().unwrap_or(Value::Null);
                                write.values.insert(c.clone(), stored);
                            }
                            tp.update.push((write, drifts));
                        }
                    }
                    _ => match &row.needs {
                        Some(needs) => tp.blocked.push(Blocked {
                            key,
                            needs: needs.clone(),
                        }),
                        None => tp.insert.push(write),
                    },
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
    if desired == actual {
        // How the snapshot hands over rows the server found stored as desired.
        return Vec::new();
    }
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

/// `INSERT … SELECT FROM json_to_recordset … ON CONFLICT DO UPDATE` of
/// `data` (rows of `table`): owned columns are restored, unowned ones left as
/// they are.
fn upsert(table: &str, types: Option<&Table>, shape: &Shape, data: Vec<Value>) -> String {
    let mut columns = shape.columns.clone();
    for row in data.iter().filter_map(Value::as_object) {
        for c in row.keys() {
            if !columns.contains(c) {
                columns.push(c.clone());
            }
        }
    }
    let owned: Vec<&String> = columns
        .iter()
        .filter(|c| !shape.key.contains(c) && !shape.unowned.contains(c))
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
        table,
        &format!(
            "INSERT INTO {t} ({cols}) SELECT {cols} FROM {rows} ON CONFLICT ({key}) {on_conflict}",
            t = sql::ident(table),
            cols = sql::columns(&columns, None),
            rows = sql::typed_rows(true, &sql::json(&Value::Array(data)), types, &columns),
            key = sql::columns(&shape.key, None),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::dependents::Found;
    use crate::pure::fixture::Kind;
    use crate::pure::redact::Secret;
    use crate::pure::testing::*;

    /// A snapshot in which every fixture row is stored exactly as desired.
    fn exact(f: &Fixture) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for t in &f.tables {
            let rows = t
                .rows
                .iter()
                .map(|r| {
                    (
                        t.key_of(&r.values),
                        (r.values.clone(), Some(r.values.clone())),
                    )
                })
                .collect();
            snapshot.tables.insert(t.table.clone(), rows);
        }
        snapshot
    }

    fn line<'a>(plan: &'a Plan, table: &str) -> &'a TablePlan {
        plan.tables.iter().find(|t| t.table == table).unwrap()
    }

    fn stored<'a>(s: &'a mut Snapshot, table: &str, n: usize) -> &'a mut Row {
        let (_, (_, actual)) = s.tables.get_mut(table).unwrap().iter_mut().nth(n).unwrap();
        actual.as_mut().unwrap()
    }

    #[test]
    fn an_empty_database_gets_every_row_inserted() {
        let f = fixture();
        let plan = diff(&f, &Snapshot::default(), Doomed::new(), Goal::Fixture);
        assert_eq!(line(&plan, "scenes").insert.len(), 45);
        assert_eq!(line(&plan, "chapters").insert.len(), 15);
        assert!(
            plan.tables
                .iter()
                .all(|t| t.update.is_empty() && t.unchanged == 0)
        );
    }

    #[test]
    fn exact_rows_are_unchanged_and_plan_no_statement() {
        let f = fixture();
        let plan = diff(&f, &exact(&f), Doomed::new(), Goal::Fixture);
        assert!(
            plan.tables
                .iter()
                .all(|t| t.insert.is_empty() && t.update.is_empty())
        );
        assert_eq!(line(&plan, "scenes").unchanged, 45);
        assert!(plan.statements(&catalog_for(&f)).is_empty());
    }

    #[test]
    fn a_drifted_owned_column_is_an_update_naming_it() {
        let f = fixture();
        let mut s = exact(&f);
        stored(&mut s, "scenes", 0).insert("title".into(), "PATCHED".into());
        let plan = diff(&f, &s, Doomed::new(), Goal::Fixture);
        let (_, drifts) = &line(&plan, "scenes").update[0];
        assert_eq!(drifts[0].column, "title");
        assert_eq!(drifts[0].actual, "PATCHED");
    }

    #[test]
    fn unowned_columns_never_drift() {
        let f = fixture();
        let mut s = exact(&f);
        stored(&mut s, "stories", 0).insert("updated_at".into(), "2030-01-01T00:00:00".into());
        let plan = diff(&f, &s, Doomed::new(), Goal::Fixture);
        assert!(line(&plan, "stories").update.is_empty());
    }

    #[test]
    fn a_stored_password_hash_that_verifies_is_exact_and_one_that_does_not_is_drift() {
        let mut f = fixture();
        let users = f.tables.iter_mut().find(|t| t.table == "users").unwrap();
        let hash = crate::auth::password::hash("pw", [7; 16]);
        users.rows[0]
            .values
            .insert("password".into(), hash.clone().into());
        users.rows[0]
            .passwords
            .insert("password".into(), Secret::new("pw"));
        let mut s = exact(&f);
        // Another salt, the same password: the app may re-hash it.
        let rehashed = crate::auth::password::hash("pw", [9; 16]);
        stored(&mut s, "users", 0).insert("password".into(), rehashed.into());
        assert!(
            line(&diff(&f, &s, Doomed::new(), Goal::Fixture), "users")
                .update
                .is_empty()
        );
        let wrong = crate::auth::password::hash("other", [7; 16]);
        stored(&mut s, "users", 0).insert("password".into(), wrong.into());
        let plan = diff(&f, &s, Doomed::new(), Goal::Fixture);
        assert_eq!(line(&plan, "users").update[0].1[0].column, "password");
    }

    #[test]
    fn a_row_that_needs_a_secret_is_blocked_not_inserted() {
        let f = fixture();
        let keys = f.table("api_keys").unwrap();
        assert!(
            keys.rows.iter().all(|r| r.needs.is_some()),
            "no secret in tests"
        );
        let plan = diff(&f, &Snapshot::default(), Doomed::new(), Goal::Fixture);
        assert_eq!(line(&plan, "api_keys").blocked.len(), keys.rows.len());
        assert!(line(&plan, "api_keys").insert.is_empty());
    }

    #[test]
    fn an_update_of_a_kept_row_writes_back_its_stored_secret_columns() {
        let f = fixture();
        let mut s = exact(&f);
        let row = stored(&mut s, "api_keys", 0);
        row.insert("key_hash".into(), "stored-hash".into());
        row.insert("scopes".into(), serde_json::json!(["stories:read"]));
        let plan = diff(&f, &s, Doomed::new(), Goal::Fixture);
        let keys = line(&plan, "api_keys");
        assert_eq!(keys.update.len(), 1);
        let (write, _) = &keys.update[0];
        assert_eq!(write.values["key_hash"], "stored-hash");
        let sql = plan.statements(&catalog_for(&f)).join("\n");
        assert!(
            sql.contains("stored-hash"),
            "the upsert carries the stored hash"
        );
    }

    #[test]
    fn removal_plans_only_deletes() {
        let f = fixture();
        let mut doomed = Doomed::new();
        doomed.insert(
            "stories".into(),
            Found {
                identity: vec!["id".into()],
                rows: [("s1".to_string(), (Row::new(), BTreeSet::new()))].into(),
            },
        );
        let plan = diff(&f, &Snapshot::default(), doomed, Goal::Removal);
        assert!(
            plan.tables
                .iter()
                .all(|t| t.insert.is_empty() && t.update.is_empty())
        );
        assert_eq!(line(&plan, "stories").delete, 1);
    }

    #[test]
    fn deletes_come_before_upserts_and_each_statement_is_counted() {
        let f = fixture();
        let mut doomed = Doomed::new();
        let mut row = Row::new();
        row.insert("id".into(), "c1".into());
        doomed.insert(
            "comments".into(),
            Found {
                identity: vec!["id".into()],
                rows: [("c1".to_string(), (row, BTreeSet::new()))].into(),
            },
        );
        let plan = diff(&f, &Snapshot::default(), doomed, Goal::Fixture);
        let statements = plan.statements(&catalog_for(&f));
        assert!(
            statements[0].contains("DELETE FROM \"comments\""),
            "{}",
            statements[0]
        );
        assert!(statements[1..].iter().all(|s| s.contains("INSERT INTO")));
        assert!(statements.iter().all(|s| s.starts_with("WITH w AS (")));
        // A table outside the fixture that loses rows gets its own line.
        assert_eq!(line(&plan, "comments").delete, 1);
    }

    #[test]
    fn touched_tags_cover_changed_and_doomed_rows() {
        let f = fixture();
        let mut doomed = Doomed::new();
        let tags: BTreeSet<Tag> = [(Kind::Story, "gone".to_string())].into();
        doomed.insert(
            "stories".into(),
            Found {
                identity: vec!["id".into()],
                rows: [("gone".to_string(), (Row::new(), tags))].into(),
            },
        );
        let mut s = exact(&f);
        stored(&mut s, "scenes", 0).insert("title".into(), "x".into());
        let plan = diff(&f, &s, doomed, Goal::Fixture);
        let touched = plan.touched();
        assert!(touched.contains(&(Kind::Story, "gone".to_string())));
        assert!(touched.iter().any(|(k, _)| *k == Kind::Scene));
        assert_eq!(touched.iter().filter(|(k, _)| *k == Kind::Scene).count(), 1);
    }
}
