//! Rows that hang off fixture rows: everything that references them through a
//! foreign key whose ON DELETE would drag or block (NO ACTION, RESTRICT,
//! CASCADE), directly or transitively. Here: what a walk found, the SQL text
//! of its reads, the order and statements of the deletes. The walk itself,
//! one level per round trip, is `io::walk`. Each found row inherits the cache
//! tags of the rows it hangs off.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::error::Result;
use crate::pure::catalog::{Catalog, ForeignKey, Table};
use crate::pure::fixture::{Fixture, Row, Tag};
use crate::pure::sql;

/// Whether the fixture's own rows are part of what goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Fixture rows and everything hanging off them.
    Teardown,
    /// Only what hangs off fixture rows without being part of the fixture.
    Extras,
}

#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Columns that identify a row (primary key, or `ctid`).
    pub identity: Vec<String>,
    /// identity key → (fetched columns, cache tags).
    pub rows: BTreeMap<String, (Row, BTreeSet<Tag>)>,
}

/// Per table, the rows that go.
pub type Doomed = BTreeMap<String, Found>;

/// `tables` (those with doomed rows), children before parents, so NO ACTION holds.
pub fn delete_order<'a>(
    catalog: &Catalog,
    tables: impl IntoIterator<Item = &'a String>,
) -> Vec<String> {
    let mut remaining: BTreeSet<String> = tables.into_iter().cloned().collect();
    let mut order = Vec::new();
    while !remaining.is_empty() {
        // A table may go once no other remaining table references it.
        let ready: Vec<String> = remaining
            .iter()
            .filter(|t| {
                !catalog
                    .referencing(t)
                    .any(|fk| fk.table != **t && remaining.contains(&fk.table))
            })
            .cloned()
            .collect();
        // A cycle between tables: take them in name order and let the
        // constraints' own actions settle it.
        let take = if ready.is_empty() {
            vec![remaining.iter().next().cloned().unwrap()]
        } else {
            ready
        };
        for t in take {
            remaining.remove(&t);
            order.push(t);
        }
    }
    order
}

/// One DELETE per table, counted, for the rows in `found`.
pub fn delete_statement(catalog: &Catalog, table: &str, found: &Found) -> String {
    let keys: Vec<Value> = found
        .rows
        .values()
        .map(|(r, _)| Value::Object(r.clone()))
        .collect();
    let typed: Vec<(String, String)> = found
        .identity
        .iter()
        .map(|c| {
            (
                c.clone(),
                catalog.table(table).map_or("text".into(), |t| t.type_of(c)),
            )
        })
        .collect();
    let target = found
        .identity
        .iter()
        .map(|c| system_column(c).unwrap_or_else(|| sql::ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    sql::counted(
        table,
        &format!(
            "DELETE FROM {} WHERE ({target}) IN {}",
            catalog.sql_name(table),
            sql::key_tuples(&Value::Array(keys), &typed)
        ),
    )
}

/// The SQL text of the walk's reads, built from the catalog.
pub struct Walker<'a> {
    pub catalog: &'a Catalog,
}

impl Walker<'_> {
    /// Level 0 of the walk: the fixture's rows as they exist, each with the
    /// columns other tables reference, labelled by table. `None` when no
    /// fixture table exists in the catalog.
    pub fn roots_query(&self, fixture: &Fixture) -> Option<String> {
        let roots: Vec<(String, String)> = self
            .existing(fixture)
            .into_iter()
            .map(|(table, from)| {
                let query = format!("SELECT json_agg({}) {from}", self.fetch_object(&table, "t"));
                (table, query)
            })
            .collect();
        (!roots.is_empty()).then(|| format!("SELECT {}::text", sql::labelled(&roots)))
    }

    /// Levels 0 and 1 of the walk in one statement, read straight from the
    /// fixture's tables so it can ride in the snapshot's batch: its labels are
    /// indexes into [`Walker::first_level_edges`], and `r:` and a table name
    /// for level 0 ([`split_roots`] takes those apart). One statement reads
    /// both from one snapshot, so level 1 never leaves out as already held
    /// a row that level 0 did not see, and the fixture's keys are sent once.
    /// `None` when no edge leads off a fixture table.
    pub fn first_level_query(&self, fixture: &Fixture) -> Option<String> {
        let parents: Vec<(String, String)> = self
            .existing(fixture)
            .into_iter()
            .map(|(table, from)| {
                let source = format!("SELECT {} e {from}", self.fetch_object(&table, "t"));
                (table, source)
            })
            .collect();
        let edges = self.first_level_edges(fixture);
        (!edges.is_empty()).then(|| self.level_sql(&edges, &parents, true))
    }

    /// The edges [`Walker::first_level_query`] asks about, in its order.
    pub fn first_level_edges(&self, fixture: &Fixture) -> Vec<&ForeignKey> {
        fixture
            .tables
            .iter()
            .filter(|t| !t.rows.is_empty() && self.catalog.table(&t.table).is_some())
            .flat_map(|t| self.catalog.referencing(&t.table))
            .filter(|fk| fk.drags_rows())
            .collect()
    }

    /// Per fixture table in the catalog with rows, the `FROM … WHERE` that
    /// picks its fixture rows (as `t`); the same tables as
    /// [`Walker::first_level_edges`] starts from.
    fn existing(&self, fixture: &Fixture) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for t in &fixture.tables {
            let Some(table) = self.catalog.table(&t.table) else {
                continue;
            };
            // Only the key columns: the rest of a row would travel for nothing.
            let keys: Vec<Value> = t
                .rows
                .iter()
                .map(|r| {
                    let key = t
                        .key
                        .iter()
                        .filter_map(|k| Some((k.clone(), r.values.get(k)?.clone())));
                    Value::Object(key.collect())
                })
                .collect();
            if keys.is_empty() {
                continue;
            }
            let typed: Vec<(String, String)> = t
                .key
                .iter()
                .map(|k| (k.clone(), table.type_of(k)))
                .collect();
            out.push((
                t.table.clone(),
                format!(
                    "FROM {} t WHERE ({}) IN {}",
                    table.sql_name,
                    sql::columns(&t.key, Some("t")),
                    sql::key_tuples(&Value::Array(keys), &typed),
                ),
            ));
        }
        out
    }

    pub fn identity(&self, table: &str) -> Vec<String> {
        self.catalog
            .table(table)
            .map(|t| t.identity())
            .unwrap_or_default()
    }

    /// A row's identity and every column another table's foreign key
    /// references: what the walk fetches of it.
    fn fetched_columns(&self, table: &str) -> Vec<String> {
        let mut cols = self.identity(table);
        for fk in self.catalog.referencing(table) {
            for c in &fk.ref_columns {
                if !cols.contains(c) {
                    cols.push(c.clone());
                }
            }
        }
        cols
    }

    /// A `json` object of a row's identity and every column another table's
    /// foreign key references.
    pub fn fetch_object(&self, table: &str, alias: &str) -> String {
        let fields: Vec<(String, String)> = self
            .fetched_columns(table)
            .iter()
            .map(|c| {
                let value = match system_column(c) {
                    Some(name) => format!("{alias}.{name}::text"),
                    None => format!("{alias}.{}", sql::ident(c)),
                };
                (c.clone(), value)
            })
            .collect();
        sql::object(&fields)
    }

    /// One statement for a whole level of the walk, whatever its number of
    /// edges: each frontier table's rows are sent once, as a CTE, and every
    /// edge is a labelled subquery (its index) of the rows referencing them,
    /// each with `_via`: the referenced values, to inherit the parent's tags.
    pub fn level_query(
        &self,
        edges: &[&ForeignKey],
        frontier: &BTreeMap<String, Vec<(Row, BTreeSet<Tag>)>>,
    ) -> String {
        let parents: Vec<(String, String)> = frontier
            .iter()
            .map(|(table, rows)| {
                let rows: Vec<Value> = rows.iter().map(|(r, _)| Value::Object(r.clone())).collect();
                let source = format!(
                    "SELECT e FROM json_array_elements({}) e",
                    sql::json(&Value::Array(rows))
                );
                (table.clone(), source)
            })
            .collect();
        self.level_sql(edges, &parents, false)
    }

    /// A level's statement: each parent table's rows (`e`, from its source)
    /// once, as a CTE, and every edge a labelled subquery over them. A child
    /// table that several edges read (the app's four unindexed foreign keys
    /// from `scenes` to `users`, say) is scanned once, into a CTE of the rows
    /// any of them matches, and each edge reads that: one pass over a large
    /// table instead of one per edge. Tables identified by their ctid keep a
    /// scan per edge, as a CTE has no ctid. With `roots`, the parent rows
    /// themselves come back too, labelled `r:` and their table.
    fn level_sql(
        &self,
        edges: &[&ForeignKey],
        parents: &[(String, String)],
        roots: bool,
    ) -> String {
        // The CTE of this level's parent rows of `table`, if it has any.
        let cte_of = |table: &str| {
            parents
                .iter()
                .position(|(t, _)| t == table)
                .map(|p| format!("p{p}"))
        };
        let parent_of =
            |fk: &ForeignKey| cte_of(&fk.ref_table).expect("every edge points at a parent table");
        let mut ctes: Vec<String> = parents
            .iter()
            .enumerate()
            .map(|(i, (_, source))| format!("p{i} AS MATERIALIZED ({source})"))
            .collect();
        let mut by_child: BTreeMap<&str, Vec<&ForeignKey>> = BTreeMap::new();
        for fk in edges {
            by_child.entry(fk.table.as_str()).or_default().push(fk);
        }
        let mut scanned: BTreeMap<&str, String> = BTreeMap::new();
        for (child, fks) in &by_child {
            let Some(table) = self.catalog.table(child) else {
                continue;
            };
            if fks.len() < 2 || table.primary_key.is_none() {
                continue;
            }
            let mut cols = self.fetched_columns(child);
            for fk in fks {
                for c in &fk.columns {
                    if !cols.contains(c) {
                        cols.push(c.clone());
                    }
                }
            }
            let any = fks
                .iter()
                .map(|fk| self.matches(fk, &parent_of(fk)))
                .collect::<Vec<_>>()
                .join(" OR ");
            let name = format!("h{}", scanned.len());
            ctes.push(format!(
                "{name} AS MATERIALIZED (SELECT {} FROM {} c WHERE {any})",
                sql::columns(&cols, Some("c")),
                table.sql_name,
            ));
            scanned.insert(child, name);
        }
        let parts: Vec<(String, String)> = edges
            .iter()
            .enumerate()
            .map(|(i, fk)| {
                let source = scanned.get(fk.table.as_str()).map(String::as_str);
                let own = cte_of(&fk.table);
                (
                    i.to_string(),
                    self.edge_query(fk, &parent_of(fk), source, own.as_deref()),
                )
            })
            .chain(parents.iter().filter(|_| roots).map(|(table, _)| {
                let cte = cte_of(table).expect("a parent table has its CTE");
                (
                    format!("r:{table}"),
                    format!("SELECT json_agg(e) FROM {cte}"),
                )
            }))
            .collect();
        format!(
            "WITH {}\nSELECT {}::text",
            ctes.join(",\n"),
            sql::labelled(&parts)
        )
    }

    /// `(c.cols) IN (…)`: a row of `fk.table` (as `c`) references a row of
    /// the CTE `parents`.
    fn matches(&self, fk: &ForeignKey, parents: &str) -> String {
        let child = self
            .catalog
            .table(&fk.table)
            .expect("foreign keys come from the catalog");
        in_cte(child, &fk.columns, &fk.ref_columns, parents)
    }

    /// Rows of `fk.table` referencing any row of the CTE `parents`, read from
    /// the table itself or from `scanned`, a CTE of its candidate rows, less
    /// those in `own`, this level's CTE of that table's parent rows.
    fn edge_query(
        &self,
        fk: &ForeignKey,
        parents: &str,
        scanned: Option<&str>,
        own: Option<&str>,
    ) -> String {
        let child = self
            .catalog
            .table(&fk.table)
            .expect("foreign keys come from the catalog");
        let via = fk
            .columns
            .iter()
            .map(|c| format!("c.{}", sql::ident(c)))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "SELECT json_agg(({}::jsonb || jsonb_build_object('_via', json_build_array({via})))::json) FROM {} c WHERE {}",
            self.fetch_object(&fk.table, "c"),
            scanned.unwrap_or(&child.sql_name),
            self.matches(fk, parents),
        ) + &own
            .and_then(|own| self.not_among(&fk.table, own))
            .map(|not| format!(" AND {not}"))
            .unwrap_or_default()
    }

    /// `c`'s identity is not among those of the CTE `own` (rows of
    /// `table`; identities are never NULL, so `NOT … IN` is exact). The walk already holds every row of a level's parent
    /// CTEs (level 1's are the fixture's own rows: its scenes hang off its
    /// chapters) and skips them when they come back, so they need not: on the
    /// bundled fixture that was 9 KB of a no-op seed's 24 KB answer, and an
    /// answer over a connection's first window (~14 KB) costs a round trip.
    /// `None` for a table known by its ctid, which a CTE does not carry, or
    /// by a column whose JSON text is no input its type takes back (an
    /// array's `[1,2]`, say): those rows travel and are skipped as before.
    fn not_among(&self, table: &str, own: &str) -> Option<String> {
        let t = self.catalog.table(table)?;
        let identity = self.identity(table);
        let round_trips = |c: &String| {
            t.column(c)
                .and_then(|col| col.plain_type())
                .is_some_and(|ty| {
                    matches!(ty, "text" | "uuid" | "integer" | "bigint" | "smallint")
                        || ty.starts_with("character varying")
                })
        };
        if identity.is_empty() || !identity.iter().all(round_trips) {
            return None;
        }
        Some(format!("NOT ({})", in_cte(t, &identity, &identity, own)))
    }
}

/// `(c.columns) IN (SELECT … FROM cte)`: a row of `table` (as `c`) whose
/// `columns` equal the `fields` of a row of the CTE (its rows' JSON `e`),
/// each field cast to its column's type.
fn in_cte(table: &Table, columns: &[String], fields: &[String], cte: &str) -> String {
    let wanted = fields
        .iter()
        .zip(columns)
        .map(|(f, c)| format!("(e->>{})::{}", sql::literal(f), table.type_of(c)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "({}) IN (SELECT {wanted} FROM {cte})",
        sql::columns(columns, Some("c"))
    )
}

/// The answer to [`Walker::first_level_query`] as (level 0 by table, level 1
/// by edge index), the forms [`Walker::roots_query`] and a level's statement
/// give; `Err` when it is no object (the walk would find nothing in it).
pub fn split_roots(answer: Value) -> std::result::Result<(Value, Value), String> {
    let Value::Object(all) = answer else {
        return Err("a walk's first level that is not an object".to_string());
    };
    let (mut roots, mut first) = (serde_json::Map::new(), serde_json::Map::new());
    for (label, rows) in all {
        match label.strip_prefix("r:") {
            Some(table) => roots.insert(table.to_string(), rows),
            None => first.insert(label, rows),
        };
    }
    Ok((Value::Object(roots), Value::Object(first)))
}

/// The system columns a row is identified by when its table has no primary key.
fn system_column(name: &str) -> Option<String> {
    matches!(name, "ctid" | "tableoid").then(|| name.to_string())
}

/// Parent rows' tags keyed by the JSON array of their referenced values,
/// the same form as a child's `_via`.
pub fn tags_by_referenced(
    parents: &[(Row, BTreeSet<Tag>)],
    columns: &[String],
) -> HashMap<String, BTreeSet<Tag>> {
    let mut map: HashMap<String, BTreeSet<Tag>> = HashMap::new();
    for (row, tags) in parents {
        let values: Vec<Value> = columns
            .iter()
            .map(|c| row.get(c).cloned().unwrap_or(Value::Null))
            .collect();
        map.entry(Value::Array(values).to_string())
            .or_default()
            .extend(tags.iter().cloned());
    }
    map
}

/// The rows of one labelled part: a list of row objects, or nothing (null)
/// when no row matched; any other shape is an error naming `shown`.
pub fn rows_of(shown: &str, value: Option<&Value>) -> Result<Vec<Row>> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(rows)) => rows
            .iter()
            .map(|v| match v {
                Value::Object(row) => Ok(row.clone()),
                _ => Err(crate::error::unexpected(
                    shown,
                    "a dependent row that is not an object",
                )),
            })
            .collect(),
        Some(_) => Err(crate::error::unexpected(
            shown,
            "dependent rows that are not a list",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::catalog::Table;
    use crate::pure::fixture::Kind;
    use crate::pure::testing::*;

    fn catalog(tables: &[&str], fks: &[(&str, &str, &str)]) -> Catalog {
        Catalog {
            tables: tables
                .iter()
                .map(|t| (t.to_string(), table(t, vec![column("id", "text")], &["id"])))
                .collect(),
            foreign_keys: fks
                .iter()
                .map(|(t, c, r)| foreign_key(t, &[c], r, "a"))
                .collect(),
        }
    }

    fn doomed(tables: &[&str]) -> Doomed {
        tables
            .iter()
            .map(|t| {
                let mut row = Row::new();
                row.insert("id".into(), Value::from(format!("{t}-1")));
                let found = Found {
                    identity: vec!["id".into()],
                    rows: [(format!("{t}-1"), (row, BTreeSet::new()))].into(),
                };
                (t.to_string(), found)
            })
            .collect()
    }

    #[test]
    fn children_are_deleted_before_their_parents() {
        let c = catalog(
            &["stories", "chapters", "scenes"],
            &[
                ("chapters", "story_id", "stories"),
                ("scenes", "chapter_id", "chapters"),
            ],
        );
        let order = delete_order(&c, doomed(&["stories", "chapters", "scenes"]).keys());
        assert_eq!(order, ["scenes", "chapters", "stories"]);
    }

    #[test]
    fn a_cycle_between_tables_still_orders_every_table_once() {
        let c = catalog(
            &["a", "b", "c"],
            &[("a", "b_id", "b"), ("b", "a_id", "a"), ("c", "a_id", "a")],
        );
        let order = delete_order(&c, doomed(&["a", "b", "c"]).keys());
        assert_eq!(order.len(), 3);
        assert_eq!(
            order[0], "c",
            "c references the cycle and goes first: {order:?}"
        );
        // A self reference is no obstacle at all.
        let c = catalog(&["loop"], &[("loop", "next_id", "loop")]);
        assert_eq!(delete_order(&c, doomed(&["loop"]).keys()), ["loop"]);
    }

    #[test]
    fn a_delete_names_rows_by_primary_key_and_is_counted() {
        let c = catalog(&["stories"], &[]);
        let d = doomed(&["stories"]);
        let sql = delete_statement(&c, "stories", &d["stories"]);
        assert!(
            sql.starts_with("WITH w AS (DELETE FROM \"stories\" WHERE (\"id\") IN"),
            "{sql}"
        );
        assert!(sql.contains("stories-1"), "{sql}");
        assert!(sql.contains("count(*)"), "{sql}");
    }

    #[test]
    fn rows_of_a_table_without_a_key_are_named_by_ctid_and_partition() {
        let mut plain = table("log", vec![column("note", "text")], &[]);
        assert_eq!(plain.identity(), ["ctid"]);
        plain.partitioned = true;
        assert_eq!(plain.identity(), ["tableoid", "ctid"]);
        assert_eq!(plain.type_of("tableoid"), "oid");
        assert_eq!(plain.type_of("ctid"), "tid");
        let c = Catalog {
            tables: [("log".to_string(), plain.clone())].into(),
            foreign_keys: vec![],
        };
        let mut row = Row::new();
        row.insert("tableoid".into(), "16384".into());
        row.insert("ctid".into(), "(0,1)".into());
        let found = Found {
            identity: plain.identity(),
            rows: [("16384/(0,1)".to_string(), (row, BTreeSet::new()))].into(),
        };
        let sql = delete_statement(&c, "log", &found);
        assert!(sql.contains("WHERE (tableoid, ctid) IN"), "{sql}");
        assert!(sql.contains("::oid") && sql.contains("::tid"), "{sql}");
    }

    #[test]
    fn a_table_of_another_schema_is_deleted_by_its_qualified_name() {
        let mut t: Table = table("audit.story_events", vec![column("id", "text")], &["id"]);
        t.sql_name = "\"audit\".\"story_events\"".into();
        let c = Catalog {
            tables: [(t.name.clone(), t)].into(),
            foreign_keys: vec![],
        };
        let sql = delete_statement(
            &c,
            "audit.story_events",
            &doomed(&["audit.story_events"])["audit.story_events"],
        );
        assert!(
            sql.contains("DELETE FROM \"audit\".\"story_events\""),
            "{sql}"
        );
    }

    /// The walk's level over every edge into `parent`, from one row of it.
    fn level_from_one_row(c: &Catalog, parent: &str) -> String {
        let edges: Vec<&ForeignKey> = c.referencing(parent).collect();
        let mut row = Row::new();
        row.insert("id".into(), "r1".into());
        let frontier: BTreeMap<String, Vec<(Row, BTreeSet<Tag>)>> =
            [(parent.to_string(), vec![(row, BTreeSet::new())])].into();
        Walker { catalog: c }.level_query(&edges, &frontier)
    }

    /// Four foreign keys from `scenes` to `users` (none indexed in the app)
    /// cost one scan of `scenes`, not four; a table without a primary key
    /// (identified by ctid, which a CTE lacks) keeps a scan per edge.
    #[test]
    fn a_child_table_several_edges_read_is_scanned_once() {
        let text = |names: &[&str]| names.iter().map(|n| column(n, "text")).collect::<Vec<_>>();
        let by = ["published_by", "unpublished_by", "comic_published_by"];
        let mut scene_cols = text(&["id", "chapter_id"]);
        scene_cols.extend(text(&by));
        let c = Catalog {
            tables: [
                ("users".to_string(), table("users", text(&["id"]), &["id"])),
                ("scenes".to_string(), table("scenes", scene_cols, &["id"])),
                ("marks".to_string(), table("marks", text(&["a", "b"]), &[])),
            ]
            .into(),
            foreign_keys: by
                .iter()
                .map(|col| foreign_key("scenes", &[col], "users", "a"))
                .chain(
                    ["a", "b"]
                        .iter()
                        .map(|col| foreign_key("marks", &[col], "users", "a")),
                )
                .collect(),
        };
        let sql = level_from_one_row(&c, "users");
        assert_eq!(sql.matches("FROM \"scenes\" c").count(), 1, "{sql}");
        assert!(sql.contains(
            "h0 AS MATERIALIZED (SELECT c.\"id\", c.\"published_by\", c.\"unpublished_by\", c.\"comic_published_by\" FROM \"scenes\" c WHERE (c.\"published_by\") IN"
        ), "{sql}");
        assert_eq!(sql.matches("FROM h0 c WHERE").count(), 3, "{sql}");
        assert_eq!(sql.matches("FROM \"marks\" c WHERE").count(), 2, "{sql}");
    }

    #[test]
    fn one_level_of_many_edges_is_one_statement_without_long_argument_lists() {
        let tables: Vec<String> = (0..300).map(|i| format!("dep_{i}")).collect();
        let mut names: Vec<&str> = tables.iter().map(String::as_str).collect();
        names.push("stories");
        let fks: Vec<(&str, &str, &str)> = tables
            .iter()
            .map(|t| (t.as_str(), "story_id", "stories"))
            .collect();
        let c = catalog(&names, &fks);
        let sql = level_from_one_row(&c, "stories");
        assert_eq!(
            sql.matches("AS MATERIALIZED").count(),
            1,
            "the parents' rows are sent once"
        );
        assert_eq!(sql.matches("FROM p0)").count(), 300);
        assert!(
            !sql.contains("json_build_object(E'0'"),
            "no argument per edge"
        );
    }

    #[test]
    fn the_first_level_reads_its_parents_from_the_fixture_tables_themselves() {
        let f = fixture();
        let mut c = catalog_for(&f);
        c.tables.insert(
            "notes".into(),
            table("notes", vec![column("id", "text")], &["id"]),
        );
        c.foreign_keys = vec![
            foreign_key("notes", &["story_id"], "stories", "a"),
            foreign_key("notes", &["scene_id"], "scenes", "r"),
            // SET NULL drags no rows, so it is no edge.
            foreign_key("notes", &["user_id"], "users", "n"),
            foreign_key("chapters", &["story_id"], "stories", "c"),
        ];
        let walker = Walker { catalog: &c };
        let edges = walker.first_level_edges(&f);
        let names: Vec<(&str, &str)> = edges
            .iter()
            .map(|fk| (fk.table.as_str(), fk.ref_table.as_str()))
            .collect();
        let sql = walker.first_level_query(&f).unwrap();
        for (i, fk) in edges.iter().enumerate() {
            assert!(
                sql.contains(&format!("E'{i}'")),
                "edge {i} ({fk:?}) is labelled: {sql}"
            );
        }
        assert!(names.contains(&("chapters", "stories")), "{names:?}");
        assert!(names.contains(&("notes", "scenes")), "{names:?}");
        assert!(
            !sql.contains("SELECT e FROM json_array_elements"),
            "no parent rows travel: {sql}"
        );
        assert!(sql.contains("FROM \"stories\" t WHERE"), "{sql}");
        // Without edges off the fixture there is nothing to ask.
        c.foreign_keys.clear();
        assert!(Walker { catalog: &c }.first_level_query(&f).is_none());
    }

    #[test]
    fn a_level_leaves_out_rows_its_parents_hold_when_their_identity_casts_back() {
        let f = fixture();
        let mut c = catalog_for(&f);
        c.foreign_keys = vec![foreign_key("chapters", &["story_id"], "stories", "c")];
        let edge = |c: &Catalog| {
            let sql = Walker { catalog: c }.first_level_query(&f).unwrap();
            sql[sql.find("E'0'").expect("the edge's part")..].to_string()
        };
        // The fixture's chapters are parents at level 1 as well.
        assert!(
            edge(&c).contains("NOT ((c.\"id\") IN (SELECT (e->>E'id')::text FROM p"),
            "{}",
            edge(&c)
        );
        // An identity whose JSON text its type does not take back: no filter.
        let chapters = c.tables.get_mut("chapters").unwrap();
        chapters.columns.retain(|col| col.name != "id");
        chapters.columns.push(column("id", "integer[]"));
        assert!(!edge(&c).contains("NOT ("), "{}", edge(&c));
    }

    #[test]
    fn the_first_level_carries_level_0_too_and_the_answer_splits_back() {
        let f = fixture();
        let mut c = catalog_for(&f);
        c.foreign_keys = vec![foreign_key("chapters", &["story_id"], "stories", "c")];
        let walker = Walker { catalog: &c };
        let sql = walker.first_level_query(&f).unwrap();
        for t in &f.tables {
            assert!(
                sql.contains(&format!("E'r:{}'", t.table)),
                "{}: {sql}",
                t.table
            );
        }
        let (roots, first) = split_roots(serde_json::json!({
            "0": [{"id": "c1", "_via": ["s1"]}],
            "r:stories": [{"id": "s1"}],
            "r:users": null,
        }))
        .unwrap();
        assert!(split_roots(Value::Null).is_err());
        assert_eq!(
            roots,
            serde_json::json!({"stories": [{"id": "s1"}], "users": null})
        );
        assert_eq!(
            first,
            serde_json::json!({"0": [{"id": "c1", "_via": ["s1"]}]})
        );
    }

    #[test]
    fn found_rows_inherit_the_tags_of_the_rows_they_reference() {
        let mut parent = Row::new();
        parent.insert("id".into(), "s1".into());
        let tags: BTreeSet<Tag> = [(Kind::Story, "s1".to_string())].into();
        let map = tags_by_referenced(&[(parent, tags.clone())], &["id".to_string()]);
        assert_eq!(map[&serde_json::json!(["s1"]).to_string()], tags);
    }

    #[test]
    fn answers_of_another_shape_are_errors() {
        assert!(rows_of("db", None).unwrap().is_empty());
        assert!(rows_of("db", Some(&Value::Null)).unwrap().is_empty());
        assert!(rows_of("db", Some(&serde_json::json!({"a": 1}))).is_err());
        assert!(rows_of("db", Some(&serde_json::json!([1]))).is_err());
        assert_eq!(
            rows_of("db", Some(&serde_json::json!([{"id": "x"}])))
                .unwrap()
                .len(),
            1
        );
    }
}
