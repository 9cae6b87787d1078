//! The walk to dependent rows done inside the database, for load-test data:
//! the rows that hang off one root row are collected level by level into
//! temporary tables and deleted from there, so their number never reaches
//! the client. Here: the statements; `io::sweep` sends them.

use std::collections::{BTreeMap, BTreeSet};

use crate::pure::catalog::{Catalog, ForeignKey};
use crate::pure::dependents::Mode;
use crate::pure::sql;

/// The tables reachable from a root table through foreign keys that drag or
/// block deletes, each with a temporary table of its doomed rows.
pub struct Sweep<'a> {
    catalog: &'a Catalog,
    /// Reachable table → its temporary table's name.
    temps: BTreeMap<String, String>,
    /// Whether the root row goes too (teardown) or stays (extras).
    mode: Mode,
    /// Users never swept, whatever leads to them: adopted accounts.
    kept_users: Vec<String>,
}

/// The level column of every temporary table.
const LEVEL: &str = "fs_level";

impl<'a> Sweep<'a> {
    pub fn new(catalog: &'a Catalog, root: &str, mode: Mode) -> Sweep<'a> {
        let mut reached: BTreeSet<String> = [root.to_string()].into();
        let mut frontier = vec![root.to_string()];
        while let Some(table) = frontier.pop() {
            for fk in catalog.referencing(&table).filter(|fk| fk.drags_rows()) {
                if reached.insert(fk.table.clone()) {
                    frontier.push(fk.table.clone());
                }
            }
        }
        let temps = reached
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, format!("pg_temp.fs_sweep_{i}")))
            .collect();
        Sweep {
            catalog,
            temps,
            mode,
            kept_users: Vec::new(),
        }
    }

    /// The same sweep, never taking the users with these ids.
    pub fn keeping_users(mut self, ids: Vec<String>) -> Self {
        self.kept_users = ids;
        self
    }

    /// The columns kept per doomed row: its identity, then every column
    /// another table's foreign key references, as (source, kept as).
    /// Kept columns are renamed, since `ctid` cannot name a column.
    fn kept(&self, table: &str) -> Vec<(String, String)> {
        let mut cols = self
            .catalog
            .table(table)
            .map(|t| t.identity())
            .unwrap_or_default();
        for fk in self.catalog.referencing(table) {
            for c in &fk.ref_columns {
                if !cols.contains(c) {
                    cols.push(c.clone());
                }
            }
        }
        cols.into_iter()
            .enumerate()
            .map(|(i, c)| {
                let source = match c.as_str() {
                    "ctid" | "tableoid" => c.clone(),
                    _ => sql::ident(&c),
                };
                (source, format!("k{i}"))
            })
            .collect()
    }

    fn identity_len(&self, table: &str) -> usize {
        self.catalog.table(table).map_or(0, |t| t.identity().len())
    }

    /// A kept column's name in the temporary table of `table`.
    fn kept_as(&self, table: &str, column: &str) -> Option<String> {
        let source = match column {
            "ctid" | "tableoid" => column.to_string(),
            _ => sql::ident(column),
        };
        self.kept(table)
            .into_iter()
            .find(|(s, _)| *s == source)
            .map(|(_, k)| k)
    }

    fn select_kept(&self, table: &str, alias: &str, level: u32) -> String {
        let cols: Vec<String> = self
            .kept(table)
            .iter()
            .map(|(s, k)| format!("{alias}.{s} AS {k}"))
            .collect();
        format!("{}, {level} AS {LEVEL}", cols.join(", "))
    }

    /// Creates the temporary table of `table` (dropped at commit or
    /// rollback) unless an earlier level did.
    fn create(&self, table: &str) -> String {
        format!(
            "CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DROP AS SELECT {} FROM {} t WITH NO DATA",
            self.temps[table],
            self.select_kept(table, "t", 0),
            self.catalog.sql_name(table)
        )
    }

    /// Whether the root row, `root_table.key_column = value`, exists, as
    /// JSON `true` or `false`. Asked first, so that without load-test data
    /// nothing is created (and a role without TEMPORARY still works).
    pub fn root_exists(&self, root_table: &str, key_column: &str, value: &str) -> String {
        format!(
            "SELECT to_json(EXISTS (SELECT 1 FROM {} t WHERE t.{} = {}))::text",
            self.catalog.sql_name(root_table),
            sql::ident(key_column),
            sql::literal(value)
        )
    }

    /// Puts the root row in at level 0, then counts it. Temporary tables are
    /// made only as levels reach them.
    pub fn start(&self, root_table: &str, key_column: &str, value: &str) -> Vec<String> {
        vec![
            self.create(root_table),
            format!(
                "INSERT INTO {} SELECT {} FROM {} t WHERE t.{} = {}",
                self.temps[root_table],
                self.select_kept(root_table, "t", 0),
                self.catalog.sql_name(root_table),
                sql::ident(key_column),
                sql::literal(value)
            ),
            self.counts(&[root_table.to_string()], 0),
        ]
    }

    /// The tables whose temporary table the next level fills: every table
    /// an edge out of `gained` leads to.
    pub fn reached_from(&self, gained: &[String]) -> BTreeSet<String> {
        gained
            .iter()
            .flat_map(|p| self.catalog.referencing(p))
            .filter(|fk| fk.drags_rows())
            .map(|fk| fk.table.clone())
            .collect()
    }

    /// The rows one level further from the root than `level - 1`'s, for
    /// every edge out of the tables that gained rows there, each added once;
    /// then what each of `tables` (every table swept so far) gained.
    pub fn level(&self, gained: &[String], level: u32, tables: &[String]) -> Vec<String> {
        let mut out: Vec<String> = self
            .reached_from(gained)
            .iter()
            .map(|t| self.create(t))
            .collect();
        for parent in gained {
            // The edges from `parent` into one child table make one INSERT:
            // a table several unindexed keys lead into (scenes' four to users
            // in the app) is then scanned once, not once per key.
            let mut by_child: BTreeMap<&str, Vec<&ForeignKey>> = BTreeMap::new();
            for fk in self
                .catalog
                .referencing(parent)
                .filter(|fk| fk.drags_rows())
            {
                by_child.entry(fk.table.as_str()).or_default().push(fk);
            }
            for (child, fks) in by_child {
                let temp = &self.temps[child];
                let any = fks
                    .iter()
                    .map(|fk| {
                        let wanted: Vec<String> = fk
                            .ref_columns
                            .iter()
                            .map(|c| {
                                self.kept_as(parent, c)
                                    .expect("referenced columns are kept")
                            })
                            .collect();
                        format!(
                            "({}) IN (SELECT {} FROM {} WHERE {LEVEL} = {})",
                            sql::columns(&fk.columns, Some("c")),
                            wanted.join(", "),
                            self.temps[parent],
                            level - 1,
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" OR ");
                let identity: Vec<(String, String)> = self
                    .kept(child)
                    .into_iter()
                    .take(self.identity_len(child))
                    .collect();
                let same = identity
                    .iter()
                    .map(|(s, k)| format!("d.{k} = c.{s}"))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let kept = match (child, self.kept_users.is_empty()) {
                    ("users", false) => format!(
                        " AND c.\"id\"::text NOT IN (SELECT json_array_elements_text({}))",
                        sql::json(&serde_json::Value::from(self.kept_users.clone()))
                    ),
                    _ => String::new(),
                };
                out.push(format!(
                    "INSERT INTO {temp} SELECT {} FROM {} c WHERE ({any}) AND NOT EXISTS (SELECT 1 FROM {temp} d WHERE {same}){kept}",
                    self.select_kept(child, "c", level),
                    self.catalog.sql_name(child),
                ));
            }
        }
        out.push(self.counts(tables, level));
        out
    }

    /// Rows each of `tables` gained at `level`, as one JSON object.
    pub fn counts(&self, tables: &[String], level: u32) -> String {
        let filter = format!(" WHERE {LEVEL} = {level}");
        let parts: Vec<(String, String)> = tables
            .iter()
            .map(|table| {
                let temp = &self.temps[table];
                (
                    table.clone(),
                    format!("SELECT to_json(count(*)) FROM {temp}{filter}"),
                )
            })
            .collect();
        format!("SELECT {}::text", sql::labelled(&parts))
    }

    /// The values of `column` of the doomed rows of `table`, as a JSON list.
    pub fn values(&self, table: &str, column: &str) -> Option<String> {
        let temp = self.temps.get(table)?;
        let kept = self.kept_as(table, column)?;
        Some(format!(
            "SELECT coalesce(json_agg({kept}), '[]')::text FROM {temp}"
        ))
    }

    /// One counted DELETE for the doomed rows of `table` (the root row
    /// only in [`Mode::Teardown`]).
    pub fn delete(&self, table: &str) -> String {
        let keep_root = match self.mode {
            Mode::Teardown => "",
            Mode::Extras => " WHERE fs_level > 0",
        };
        let identity: Vec<(String, String)> = self
            .kept(table)
            .into_iter()
            .take(self.identity_len(table))
            .collect();
        let sources: Vec<&str> = identity.iter().map(|(s, _)| s.as_str()).collect();
        let kept: Vec<&str> = identity.iter().map(|(_, k)| k.as_str()).collect();
        sql::counted(
            table,
            &format!(
                "DELETE FROM {} WHERE ({}) IN (SELECT {} FROM {}{keep_root})",
                self.catalog.sql_name(table),
                sources.join(", "),
                kept.join(", "),
                self.temps[table]
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::catalog::{ForeignKey, Table};
    use crate::pure::testing::*;

    fn catalog() -> Catalog {
        let t = |name: &str| -> (String, Table) {
            let cols = vec![column("id", "text"), column("parent_id", "text")];
            (name.to_string(), table(name, cols, &["id"]))
        };
        let fk = |child: &str, parent: &str, on_delete: &str| ForeignKey {
            table: child.into(),
            columns: vec!["parent_id".into()],
            ref_table: parent.into(),
            ref_columns: vec!["id".into()],
            on_delete: on_delete.into(),
        };
        Catalog {
            tables: ["users", "stories", "scenes", "notes", "elsewhere"]
                .map(t)
                .into_iter()
                .collect(),
            foreign_keys: vec![
                fk("stories", "users", "a"),
                fk("scenes", "stories", "c"),
                // SET NULL drags nothing: notes stay.
                fk("notes", "stories", "n"),
            ],
        }
    }

    #[test]
    fn only_tables_reachable_through_dragging_keys_get_a_temporary_table() {
        let c = catalog();
        let sweep = Sweep::new(&c, "users", Mode::Teardown);
        let tables: Vec<&String> = sweep.temps.keys().collect();
        assert_eq!(tables, ["scenes", "stories", "users"]);
        let start = sweep.start("users", "id", "u'1");
        assert_eq!(start.len(), 3, "the root's table, its row, its count");
        assert!(start[0].starts_with("CREATE TEMP TABLE IF NOT EXISTS pg_temp.fs_sweep_2 "));
        assert!(
            start[1].ends_with("WHERE t.\"id\" = E'u''1'"),
            "{}",
            start[1]
        );
        assert!(start.iter().all(|s| !s.contains("notes")));
        assert_eq!(
            sweep.root_exists("users", "id", "u1"),
            "SELECT to_json(EXISTS (SELECT 1 FROM \"users\" t WHERE t.\"id\" = E'u1'))::text"
        );
        let reached: Vec<String> = sweep
            .reached_from(&["stories".into()])
            .into_iter()
            .collect();
        assert_eq!(reached, ["scenes"], "SET NULL leads nowhere");
    }

    #[test]
    fn a_level_follows_every_edge_out_of_what_the_last_level_gained() {
        let c = catalog();
        let sweep = Sweep::new(&c, "users", Mode::Teardown);
        let swept = ["stories".to_string(), "users".to_string()];
        let level = sweep.level(&["users".into()], 1, &swept);
        assert_eq!(
            level.len(),
            3,
            "the child's table, one edge, then the counts"
        );
        assert!(level[0].starts_with("CREATE TEMP TABLE IF NOT EXISTS pg_temp.fs_sweep_1 "));
        assert!(level[1].starts_with("INSERT INTO pg_temp.fs_sweep_1 "));
        assert!(level[1].contains("WHERE fs_level = 0"));
        assert!(level[1].contains("NOT EXISTS"));
        assert!(level[2].contains("fs_level = 1"));
        let delete = sweep.delete("stories");
        assert!(
            delete.contains(
                "DELETE FROM \"stories\" WHERE (\"id\") IN (SELECT k0 FROM pg_temp.fs_sweep_1)"
            ),
            "{delete}"
        );
        assert_eq!(
            sweep.values("stories", "id").unwrap(),
            "SELECT coalesce(json_agg(k0), '[]')::text FROM pg_temp.fs_sweep_1"
        );
        let extras = Sweep::new(&c, "users", Mode::Extras);
        assert!(extras.delete("users").contains("WHERE fs_level > 0)"));
        // Adopted accounts are never swept, whatever leads to them.
        let mut c = catalog();
        c.foreign_keys.push(ForeignKey {
            table: "users".into(),
            columns: vec!["parent_id".into()],
            ref_table: "stories".into(),
            ref_columns: vec!["id".into()],
            on_delete: "a".into(),
        });
        let keeping =
            Sweep::new(&c, "users", Mode::Teardown).keeping_users(vec!["adopted1".into()]);
        let level = keeping.level(&["stories".into()], 2, &swept);
        let into_users = level
            .iter()
            .find(|s| s.contains("FROM \"users\" c"))
            .unwrap();
        assert!(
            into_users
                .ends_with("NOT IN (SELECT json_array_elements_text(E'[\"adopted1\"]'::json))"),
            "{into_users}"
        );
    }
}
