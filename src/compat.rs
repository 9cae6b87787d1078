//! Fits the canonical fixture to the target's catalog before anything is
//! written: orders tables by their live foreign keys, maps renamed enum
//! labels, skips optional columns the table lacks, infers deterministic values
//! for required columns nobody set, and lists whatever it cannot fit. `seed`
//! stops on any problem; `doctor` prints them all.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::catalog::{Catalog, Column, Table};
use crate::clock;
use crate::error::Failure;
use crate::fixture::{Fixture, TableRows};
use crate::text::Text;

/// What fitting found, per table, for `doctor` and for notes.
#[derive(Debug, Default, Serialize)]
pub struct Fit {
    pub tables: Vec<TableFit>,
    /// Everything that stops a seed, each one sentence naming table and column.
    pub problems: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct TableFit {
    pub table: String,
    pub rows: usize,
    pub writes: Vec<String>,
    /// `column: how` for values inferred from the column's type.
    pub inferred: Vec<String>,
    /// Columns the fixture sets that this database lacks.
    pub skipped: Vec<String>,
}

impl Fit {
    /// Notes for a run's report: skipped and inferred columns.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for t in &self.tables {
            for c in &t.skipped {
                notes.push(format!(
                    "{}.{c} does not exist in this database; the fixture skips it",
                    t.table
                ));
            }
            for c in &t.inferred {
                notes.push(format!("{}.{c}", t.table));
            }
        }
        notes
    }

    /// The error `seed` stops with when anything cannot be fitted.
    pub fn failure(&self) -> Option<Failure> {
        let first = self.problems.first()?;
        let more = match self.problems.len() {
            1 => String::new(),
            n => format!(
                " ({} more problems: run `fictures-seed doctor` to list them)",
                n - 1
            ),
        };
        Some(Failure::schema(format!("{first}{more}")))
    }
}

/// Fits `fixture` to `catalog` in place.
pub fn fit(fixture: &mut Fixture, catalog: &Catalog) -> Fit {
    let mut report = Fit::default();
    order_by_foreign_keys(fixture, catalog);
    let (seed, base) = (fixture.seed, fixture.base);
    for rows in &mut fixture.tables {
        let Some(table) = catalog.table(&rows.table) else {
            report.problems.push(format!(
                "table `{}` is missing from the database; the fixture needs it: point --database-url at the app's database (or run `fictures-seed migrate` on a local one)",
                rows.table
            ));
            continue;
        };
        let mut tf = TableFit {
            table: rows.table.clone(),
            rows: rows.rows.len(),
            ..TableFit::default()
        };
        drop_missing_columns(rows, table, &mut tf, &mut report.problems);
        if !table.has_unique(&rows.key) {
            report.problems.push(format!(
                "table `{}` has no primary key or unique index on ({}); the fixture identifies its rows by it, so add one",
                rows.table,
                rows.key.join(", ")
            ));
        }
        map_labels(rows, table, &fixture.labels);
        infer_required(
            rows,
            table,
            catalog,
            seed,
            base,
            &mut tf,
            &mut report.problems,
        );
        check_values(rows, table, &mut report.problems);
        tf.writes = rows.columns();
        report.tables.push(tf);
    }
    report
}

/// Parents before children by the catalog's foreign keys, so one upsert per
/// table in this order never violates a constraint. Stable otherwise.
fn order_by_foreign_keys(fixture: &mut Fixture, catalog: &Catalog) {
    let mut remaining: Vec<TableRows> = std::mem::take(&mut fixture.tables);
    while !remaining.is_empty() {
        let pending: Vec<&str> = remaining.iter().map(|t| t.table.as_str()).collect();
        let ready = remaining.iter().position(|t| {
            !catalog.foreign_keys.iter().any(|fk| {
                fk.table == t.table
                    && fk.ref_table != t.table
                    && pending.contains(&fk.ref_table.as_str())
            })
        });
        // A cycle between tables: keep the written order and let the database judge.
        let next = remaining.remove(ready.unwrap_or(0));
        fixture.tables.push(next);
    }
}

fn drop_missing_columns(
    rows: &mut TableRows,
    table: &Table,
    tf: &mut TableFit,
    problems: &mut Vec<String>,
) {
    for column in rows.columns() {
        if table.column(&column).is_some() {
            continue;
        }
        if rows.required.contains(&column) || rows.key.contains(&column) {
            problems.push(format!(
                "column `{}.{column}` is missing from the database and the fixture cannot do without it; check that --database-url points at the app's database",
                rows.table
            ));
            continue;
        }
        tf.skipped.push(column.clone());
        for row in &mut rows.rows {
            row.values.remove(&column);
        }
    }
}

/// Logical labels (`writing`) to the database's own (`draft`) where the seed file maps them.
fn map_labels(
    rows: &mut TableRows,
    table: &Table,
    labels: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
) {
    for column in table.columns.iter().filter(|c| c.labels.is_some()) {
        let Some(map) = labels
            .get(&column.sql_type)
            .or_else(|| labels.get(column.sql_type.rsplit('.').next().unwrap_or_default()))
        else {
            continue;
        };
        for row in &mut rows.rows {
            if let Some(Value::String(v)) = row.values.get_mut(&column.name)
                && let Some(to) = map.get(v.as_str())
            {
                *v = to.clone();
            }
        }
    }
}

/// Gives every NOT NULL column without a default that no row sets a
/// deterministic value from its type, or names it as a problem.
fn infer_required(
    rows: &mut TableRows,
    table: &Table,
    catalog: &Catalog,
    seed: u64,
    base: chrono::NaiveDateTime,
    tf: &mut TableFit,
    problems: &mut Vec<String>,
) {
    if rows.rows.is_empty() {
        return;
    }
    let set = rows.columns();
    for column in &table.columns {
        if !column.not_null || column.has_default || set.contains(&column.name) {
            continue;
        }
        if let Some(fk) = catalog
            .foreign_keys
            .iter()
            .find(|fk| fk.table == table.name && fk.columns.contains(&column.name))
        {
            problems.push(format!(
                "column `{}.{}` is a required reference to `{}` that the fixture cannot satisfy; add an [[entity]] for `{}` whose links include \"{}.{}\" in the seed file",
                table.name, column.name, fk.ref_table, fk.ref_table, table.name, column.name
            ));
            continue;
        }
        let Some(how) = Inference::for_column(column) else {
            problems.push(format!(
                "column `{}.{}` ({}) is NOT NULL without a default and its type allows no inferred value; give it one under [tables.{}.set] in the seed file",
                table.name, column.name, column.sql_type, table.name
            ));
            continue;
        };
        for row in &mut rows.rows {
            let key = crate::fixture::key_string(&rows.key, &row.values);
            let value = how.value(column, &key, seed, base);
            row.values.insert(column.name.clone(), value);
        }
        tf.inferred
            .push(format!("{}: {}", column.name, how.describe(column)));
    }
}

/// How a value is inferred from a column's type.
enum Inference {
    Text,
    Zero,
    False,
    FirstLabel,
    EmptyJson,
    EmptyArray,
    BaseTime,
    BaseDate,
    Uuid,
}

impl Inference {
    fn for_column(c: &Column) -> Option<Inference> {
        if c.labels.is_some() {
            return Some(Inference::FirstLabel);
        }
        let t = c.sql_type.as_str();
        Some(match t {
            _ if t.ends_with("[]") => Inference::EmptyArray,
            "text" | "citext" | "name" => Inference::Text,
            _ if t.starts_with("character") => Inference::Text,
            "smallint" | "integer" | "bigint" | "real" | "double precision" => Inference::Zero,
            _ if t.starts_with("numeric") => Inference::Zero,
            "boolean" => Inference::False,
            "json" | "jsonb" => Inference::EmptyJson,
            _ if t.starts_with("timestamp") => Inference::BaseTime,
            "date" => Inference::BaseDate,
            "uuid" => Inference::Uuid,
            _ => return None,
        })
    }

    fn value(&self, c: &Column, key: &str, seed: u64, base: chrono::NaiveDateTime) -> Value {
        match self {
            Inference::Text => {
                let mut text = Text::new(seed, key, &c.name).title(1, 4).to_lowercase();
                if let Some(max) = c.max_length {
                    text = text.chars().take(max.max(1) as usize).collect();
                }
                Value::String(text)
            }
            Inference::Zero => Value::from(0),
            Inference::False => Value::Bool(false),
            Inference::FirstLabel => Value::String(
                c.labels
                    .as_ref()
                    .and_then(|l| l.first())
                    .cloned()
                    .unwrap_or_default(),
            ),
            Inference::EmptyJson => Value::Array(Vec::new()),
            Inference::EmptyArray => Value::String("{}".into()),
            Inference::BaseTime => Value::String(clock::at(base, 0)),
            Inference::BaseDate => Value::String(base.date().to_string()),
            Inference::Uuid => {
                let d = Sha256::new()
                    .chain_update(key.as_bytes())
                    .chain_update([0])
                    .chain_update(c.name.as_bytes())
                    .finalize();
                let mut b = [0u8; 16];
                b.copy_from_slice(&d[..16]);
                b[6] = (b[6] & 0x0f) | 0x40;
                b[8] = (b[8] & 0x3f) | 0x80;
                let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
                Value::String(format!(
                    "{}-{}-{}-{}-{}",
                    &h[..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..]
                ))
            }
        }
    }

    fn describe(&self, c: &Column) -> String {
        match self {
            Inference::Text => format!("fake words ({})", c.sql_type),
            Inference::Zero => "0".into(),
            Inference::False => "false".into(),
            Inference::FirstLabel => format!(
                "first label `{}`",
                c.labels
                    .as_ref()
                    .and_then(|l| l.first())
                    .cloned()
                    .unwrap_or_default()
            ),
            Inference::EmptyJson => "[]".into(),
            Inference::EmptyArray => "empty array".into(),
            Inference::BaseTime => "the base time".into(),
            Inference::BaseDate => "the base date".into(),
            Inference::Uuid => "uuid derived from the row id".into(),
        }
    }
}

fn check_values(rows: &TableRows, table: &Table, problems: &mut Vec<String>) {
    let mut reported = std::collections::BTreeSet::new();
    for row in &rows.rows {
        for (name, value) in &row.values {
            let Some(column) = table.column(name) else {
                continue;
            };
            let Value::String(text) = value else { continue };
            if let Some(labels) = &column.labels
                && !labels.contains(text)
                && reported.insert((name.clone(), text.clone()))
            {
                problems.push(format!(
                    "`{}.{name}` is of type {} whose labels are {}, but the fixture writes `{text}`; map it under [labels.{}] in the seed file (e.g. {text} = \"{}\")",
                    table.name,
                    column.sql_type,
                    labels.join(", "),
                    column.sql_type,
                    labels.first().cloned().unwrap_or_default()
                ));
            }
            if let Some(max) = column.max_length {
                let len = text.chars().count();
                if len > max as usize && reported.insert((name.clone(), String::new())) {
                    problems.push(format!(
                        "`{}.{name}` holds at most {max} characters, but the fixture writes {len} (row {}); shorten it in the seed file",
                        table.name,
                        rows.key_of(&row.values)
                    ));
                }
            }
        }
    }
}
