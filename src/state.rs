//! What the database holds for the fixture, read in one statement: for every
//! fixture row, the row as PostgreSQL would store it (desired values passed
//! through the table's own row type) beside the row as it is, plus the real row
//! counts behind each denormalised counter.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::db::Db;
use crate::error::Result;
use crate::fixture::{Fixture, Row, key_string};
use crate::seedfile::CounterSpec;
use crate::sql;

/// Per table: fixture key → (desired as stored, actual if present).
#[derive(Debug, Default)]
pub struct State {
    pub tables: BTreeMap<String, BTreeMap<String, (Row, Option<Row>)>>,
    /// `table.column` → row key → (stored counter, counted rows).
    pub counters: BTreeMap<String, BTreeMap<String, (Value, i64)>>,
}

/// The SELECT that reads the state; pure, so dry runs and tests can show it.
pub fn query(fixture: &Fixture, counters: &[CounterSpec]) -> String {
    let mut parts = Vec::new();
    for t in &fixture.tables {
        let rows: Vec<Value> = t
            .rows
            .iter()
            .map(|r| Value::Object(r.values.clone()))
            .collect();
        let join = t
            .key
            .iter()
            .map(|k| format!("t.{0} = d.{0}", sql::ident(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        parts.push((
            format!("t:{}", t.table),
            format!(
                "SELECT coalesce(json_agg(json_build_array(to_json(d), to_json(t))), '[]'::json) \
             FROM json_populate_recordset(NULL::{table}, {rows}) d LEFT JOIN {table} t ON {join}",
                table = sql::ident(&t.table),
                rows = sql::json(&Value::Array(rows)),
            ),
        ));
    }
    for c in counters {
        let Some(t) = fixture.table(&c.table) else {
            continue;
        };
        let [key] = t.key.as_slice() else { continue };
        let ids: Vec<Value> = t
            .rows
            .iter()
            .filter_map(|r| r.values.get(key).cloned())
            .collect();
        parts.push((
            format!("c:{}.{}", c.table, c.column),
            format!(
                "SELECT coalesce(json_object_agg(p.{key}, json_build_array(p.{col}, \
             (SELECT count(*) FROM {rows_in} x WHERE x.{via} = p.{key}))), '{{}}'::json) \
             FROM {table} p WHERE p.{key}::text IN (SELECT json_array_elements_text({ids}))",
                key = sql::ident(key),
                col = sql::ident(&c.column),
                rows_in = sql::ident(&c.rows_in),
                via = sql::ident(&c.via),
                table = sql::ident(&c.table),
                ids = sql::json(&Value::Array(ids)),
            ),
        ));
    }
    format!("SELECT {}::text", sql::labelled(&parts))
}

/// Runs the state query (in whatever transaction the caller opened).
pub async fn read(db: &mut Db, fixture: &Fixture, counters: &[CounterSpec]) -> Result<State> {
    let value = db.json(query(fixture, counters), 1).await?;
    Ok(parse(fixture, value))
}

pub fn parse(fixture: &Fixture, value: Value) -> State {
    let mut state = State::default();
    let Value::Object(parts) = value else {
        return state;
    };
    for (label, part) in parts {
        if let Some(table) = label.strip_prefix("t:") {
            let key = fixture
                .table(table)
                .map(|t| t.key.clone())
                .unwrap_or_default();
            let mut rows = BTreeMap::new();
            for pair in part.as_array().into_iter().flatten() {
                let desired = object(pair.get(0));
                let actual = pair
                    .get(1)
                    .filter(|v| !v.is_null())
                    .map(|v| object(Some(v)));
                rows.insert(key_string(&key, &desired), (desired, actual));
            }
            state.tables.insert(table.to_string(), rows);
        } else if let Some(counter) = label.strip_prefix("c:") {
            let mut rows = BTreeMap::new();
            for (id, pair) in part.as_object().into_iter().flatten() {
                let stored = pair.get(0).cloned().unwrap_or(Value::Null);
                let counted = pair.get(1).and_then(Value::as_i64).unwrap_or(0);
                rows.insert(id.clone(), (stored, counted));
            }
            state.counters.insert(counter.to_string(), rows);
        }
    }
    state
}

fn object(value: Option<&Value>) -> Row {
    match value {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    }
}
