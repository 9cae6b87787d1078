//! What the database holds for the fixture, read in one statement: every
//! fixture row's columns cast to the catalog's types (the values as
//! PostgreSQL would store them) and compared on the server with the row as
//! it is, plus the real row counts behind each denormalised counter. Only rows
//! that differ come back whole, so the answer stays small however large the
//! fixture's rows are, and long text travels as its digest, so the question does too.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::pure::catalog::Catalog;
use crate::pure::fixture::{Fixture, Row, TableRows, key_string};
use crate::pure::hex::sha256;
use crate::pure::seedfile::CounterSpec;
use crate::pure::sql;

/// Per table: fixture key → (desired as stored, actual if present).
#[derive(Debug, Default)]
pub struct Snapshot {
    pub tables: BTreeMap<String, BTreeMap<String, (Row, Option<Row>)>>,
    /// `table.column` → row key → (stored counter, counted rows).
    pub counters: BTreeMap<String, BTreeMap<String, (Value, i64)>>,
}

/// Columns `verify`'s stale check reads from the stored rows (see
/// `commands::verify`), sent back as stored even for matching rows when the
/// run only reads. Writers never compare them, and a no-op seed's answer
/// stays within a connection's first window (~14 KB) without them.
const ECHOED: [&str; 2] = ["title", "updated_at"];

/// Text longer than this (in bytes) is sent as its SHA-256 instead. A
/// connection starts with a congestion window of about 14 KB, and each
/// further window costs a round trip on a real link (a delaying proxy on
/// loopback does not show it): the scenes' prose alone made the state
/// query 120 KB of its 170. A digest is 64 bytes.
const DIGEST_OVER: usize = 256;

/// The owned `text` columns of `t` that travel as digests: those with a value
/// longer than [`DIGEST_OVER`]. Only plain `text`, whose stored value is the
/// string as sent (a `varchar(n)` or `char(n)` may refuse or pad it, and a
/// digest would hide that from the comparison); not a domain or an enum
/// that a search path puts before `pg_catalog` under the same name, whose
/// checks would run on the digest.
fn digested(t: &TableRows, catalog: &Catalog) -> BTreeSet<String> {
    let Some(table) = catalog.table(&t.table) else {
        return BTreeSet::new();
    };
    t.owned()
        .into_iter()
        .filter(|c| {
            table
                .column(c)
                .is_some_and(|col| col.plain_type() == Some("text"))
        })
        .filter(|c| {
            t.rows
                .iter()
                .any(|r| r.values.get(c).and_then(Value::as_str).map_or(0, str::len) > DIGEST_OVER)
        })
        .collect()
}

/// The SELECT that reads the state; pure, so dry runs and tests can show it.
/// With `echo`, matching rows bring back [`ECHOED`] as stored.
pub fn query(fixture: &Fixture, catalog: &Catalog, counters: &[CounterSpec], echo: bool) -> String {
    let mut parts = Vec::new();
    for t in &fixture.tables {
        let digested = digested(t, catalog);
        let rows: Vec<Value> = t
            .rows
            .iter()
            .map(|r| {
                let mut values = r.values.clone();
                for c in &digested {
                    if let Some(Value::String(s)) = values.get_mut(c) {
                        *s = sha256(s);
                    }
                }
                Value::Object(values)
            })
            .collect();
        let join = t
            .key
            .iter()
            .map(|k| format!("t.{0} = d.{0}", sql::ident(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let key = t
            .key
            .iter()
            .map(|k| format!("{}, d.{}", sql::literal(k), sql::ident(k)))
            .collect::<Vec<_>>()
            .join(", ");
        // Each owned column compared as the JSON text the client would
        // compare, byte by byte (COLLATE "C": a case-insensitive collation
        // must not call two titles equal), without building whole rows'
        // JSON for the rows that match. A row that does not set a column
        // (rows of one table may differ) does not own it either.
        let owned = t.owned();
        let same = owned
            .iter()
            .map(|c| {
                let equal = if digested.contains(c) {
                    format!(
                        "encode(sha256(convert_to(t.{0}, 'UTF8')), 'hex') COLLATE \"C\" IS NOT DISTINCT FROM d.{0} COLLATE \"C\"",
                        sql::ident(c)
                    )
                } else {
                    format!(
                        "to_json(d.{0})::text COLLATE \"C\" IS NOT DISTINCT FROM to_json(t.{0})::text COLLATE \"C\"",
                        sql::ident(c)
                    )
                };
                if t.rows.iter().all(|r| r.values.contains_key(c)) {
                    equal
                } else {
                    format!("(NOT s.j::jsonb ? {} OR {equal})", sql::literal(c))
                }
            })
            .chain(["true".to_string()])
            .collect::<Vec<_>>()
            .join(" AND ");
        // What a matching row sends back, as stored: the columns the fixture
        // does not own, and (when echoing) those `verify` compares with the
        // app's cached objects, whose stored rendering can differ from the
        // seed file's text (a timestamp written with a space, say).
        let mut stored = Vec::new();
        let echoed: Vec<String> = owned
            .iter()
            .filter(|c| echo && ECHOED.contains(&c.as_str()))
            .map(|c| format!("{}, t.{}", sql::literal(c), sql::ident(c)))
            .collect();
        if !echoed.is_empty() {
            stored.push(format!("jsonb_build_object({})", echoed.join(", ")));
        }
        if !t.unowned.is_empty() {
            // Only those the table has: the app's list names some that a
            // schema may lack.
            stored.push(format!(
                "coalesce((SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(to_jsonb(t)) e \
                 WHERE e.key IN (SELECT json_array_elements_text({}))), '{{}}')",
                sql::json(&Value::from(t.unowned.clone()))
            ));
        }
        let unowned = if stored.is_empty() {
            "NULL".to_string()
        } else {
            format!("({})::json", stored.join(" || "))
        };
        // Three shapes per row: [key, null] when it is missing, [key, the
        // stored columns above, true] when every column the fixture owns is
        // stored as desired, else [desired, actual] for the client to
        // compare column by column.
        parts.push((
            format!("t:{}", t.table),
            format!(
                "SELECT coalesce(json_agg(CASE \
                 WHEN t.{first} IS NULL THEN json_build_array(json_build_object({key}), NULL) \
                 WHEN {same} THEN json_build_array(json_build_object({key}), {unowned}, true) \
                 ELSE json_build_array(to_json(d), to_json(t)) END), '[]'::json) \
                 FROM json_array_elements({rows}) s(j) \
                 CROSS JOIN LATERAL {desired} \
                 LEFT JOIN {table} t ON {join}",
                first = sql::ident(&t.key[0]),
                table = sql::ident(&t.table),
                rows = sql::json(&Value::Array(rows)),
                desired = sql::typed_rows(false, "s.j", catalog.table(&t.table), &t.columns()),
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

/// The state from the state query's answer (to `query` with the same
/// fixture and catalog); `Err` names the first part of the answer that is
/// not of the shape the query builds.
pub fn parse(
    fixture: &Fixture,
    catalog: &Catalog,
    value: Value,
) -> std::result::Result<Snapshot, String> {
    let mut state = Snapshot::default();
    let Value::Object(parts) = value else {
        return Err(format!("a state that is not an object ({})", kind(&value)));
    };
    for (label, part) in parts {
        if let Some(table) = label.strip_prefix("t:") {
            let rows_of = fixture
                .table(table)
                .ok_or_else(|| format!("state for `{table}`, which the fixture lacks"))?;
            let key = &rows_of.key;
            let local: BTreeMap<String, &Row> = rows_of
                .rows
                .iter()
                .map(|r| (key_string(key, &r.values), &r.values))
                .collect();
            let Value::Array(answers) = part else {
                return Err(format!("state of `{table}` that is not a list"));
            };
            let digested = digested(rows_of, catalog);
            let mut rows = BTreeMap::new();
            for answer in answers {
                let (desired, actual) = match answer.as_array().map(Vec::as_slice) {
                    Some([Value::Object(d), Value::Object(a)]) => {
                        // Text sent as a digest is stored as it was written.
                        let mut desired = d.clone();
                        if !digested.is_empty() {
                            let row = local
                                .get(&key_string(key, d))
                                .ok_or_else(|| format!("an unknown row of `{table}`"))?;
                            for c in &digested {
                                if let Some(text @ Value::String(_)) = row.get(c) {
                                    desired.insert(c.clone(), text.clone());
                                }
                            }
                        }
                        (desired, Some(a.clone()))
                    }
                    Some([Value::Object(k), Value::Null]) => (k.clone(), None),
                    Some([Value::Object(k), unowned, Value::Bool(true)]) => {
                        let stored = local
                            .get(&key_string(key, k))
                            .map(|r| as_desired(r, unowned))
                            .ok_or_else(|| format!("an unknown row of `{table}`"))?;
                        (stored.clone(), Some(stored))
                    }
                    _ => return Err(format!("a row of `{table}` of an unknown shape")),
                };
                rows.insert(key_string(key, &desired), (desired, actual));
            }
            state.tables.insert(table.to_string(), rows);
        } else if let Some(counter) = label.strip_prefix("c:") {
            let Value::Object(entries) = part else {
                return Err(format!("counter `{counter}` that is not an object"));
            };
            let mut rows = BTreeMap::new();
            for (id, pair) in entries {
                match pair.as_array().map(Vec::as_slice) {
                    Some([stored, counted]) if counted.is_i64() => {
                        rows.insert(id, (stored.clone(), counted.as_i64().unwrap_or_default()));
                    }
                    _ => return Err(format!("counter `{counter}` of {id} without its count")),
                }
            }
            state.counters.insert(counter.to_string(), rows);
        } else {
            return Err(format!("a state part labelled `{label}`"));
        }
    }
    Ok(state)
}

/// A row the server found stored as desired: the fixture's values, with the
/// stored values the server sent back (`unowned`: the columns the fixture
/// does not own and [`ECHOED`]; an object or null).
fn as_desired(row: &Row, unowned: &Value) -> Row {
    let mut row = row.clone();
    if let Value::Object(stored) = unowned {
        row.extend(stored.clone());
    }
    row
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::testing::catalog_for;
    use serde_json::json;

    fn fixture() -> Fixture {
        crate::pure::testing::fixture()
    }

    #[test]
    fn a_well_formed_answer_parses() {
        let f = fixture();
        let state = parse(
            &f,
            &catalog_for(&f),
            json!({
                "t:stories": [[{"id": "a", "title": "x"}, null], [{"id": "b"}, {"id": "b", "title": "y"}]],
                "c:community_posts.likes": {"p1": [2, 2]},
            }),
        )
        .unwrap();
        assert_eq!(state.tables["stories"]["a"].1, None);
        assert_eq!(
            state.tables["stories"]["b"].1.as_ref().unwrap()["title"],
            "y"
        );
        assert_eq!(state.counters["community_posts.likes"]["p1"], (json!(2), 2));
    }

    #[test]
    fn a_row_stored_as_desired_is_the_fixture_row_with_the_columns_sent_back_as_stored() {
        let f = fixture();
        let row = &f.table("stories").unwrap().rows[0].values;
        let id = row["id"].as_str().unwrap();
        let state = parse(
            &f,
            &catalog_for(&f),
            json!({"t:stories": [[{"id": id}, {"updated_at": "2031-01-01T00:00:00+00:00", "title": "As Stored"}, true]]}),
        )
        .unwrap();
        let (desired, actual) = &state.tables["stories"][id];
        assert_eq!(actual.as_ref(), Some(desired));
        assert_eq!(desired["title"], "As Stored");
        assert_eq!(desired["status"], row["status"]);
        assert_eq!(desired["updated_at"], "2031-01-01T00:00:00+00:00");
        // With nothing sent back the row is the fixture's as it is.
        let state = parse(
            &f,
            &catalog_for(&f),
            json!({"t:stories": [[{"id": id}, null, true]]}),
        )
        .unwrap();
        assert_eq!(&state.tables["stories"][id].0, row);
    }

    #[test]
    fn every_unexpected_shape_is_an_error() {
        let f = fixture();
        for bad in [
            json!(null),
            json!([]),
            json!({"t:stories": {}}),
            json!({"t:stories": [[{"id": "a"}]]}),
            json!({"t:stories": [["a", null]]}),
            json!({"t:stories": [[{"id": "not-a-fixture-row"}, null, true]]}),
            json!({"t:scenes": [[{"id": "not-a-fixture-row"}, {"id": "not-a-fixture-row"}]]}),
            json!({"t:stories": [[{"id": "a"}, null, false]]}),
            json!({"t:nonsense": []}),
            json!({"c:community_posts.likes": {"p1": [2]}}),
            json!({"c:community_posts.likes": {"p1": [2, "two"]}}),
            json!({"x:anything": 1}),
        ] {
            assert!(parse(&f, &catalog_for(&f), bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn long_text_travels_as_its_digest_and_comes_back_as_written() {
        let f = fixture();
        let catalog = catalog_for(&f);
        let scenes = f.table("scenes").unwrap();
        let row = &scenes.rows[0].values;
        let content = row["content"].as_str().unwrap();
        assert!(content.len() > DIGEST_OVER, "the fixture's prose is long");
        let sql = query(&f, &catalog, &[], true);
        assert!(!sql.contains(&content[..60]), "the prose is not sent");
        assert!(sql.contains(&sha256(content)));
        // Short text (titles) still travels as it is.
        let title = row["title"].as_str().unwrap();
        assert!(sql.contains(title));
        // So does a domain spelled `text` (a search path can put one first).
        let mut domain = catalog.clone();
        let scenes_table = domain.tables.get_mut("scenes").unwrap();
        for col in scenes_table
            .columns
            .iter_mut()
            .filter(|c| c.name == "content")
        {
            col.base_type = Some("text".into());
        }
        assert!(query(&f, &domain, &[], true).contains(&content[..60]));

        // A row that differs comes back with the digest where the text was.
        let id = row["id"].as_str().unwrap();
        let mut sent = row.clone();
        sent.insert("content".into(), Value::from(sha256(content)));
        let stored = json!({"id": id, "content": "edited"});
        let state = parse(&f, &catalog, json!({"t:scenes": [[sent, stored]]})).unwrap();
        let (desired, actual) = &state.tables["scenes"][id];
        assert_eq!(desired["content"], content);
        assert_eq!(actual.as_ref().unwrap()["content"], "edited");
    }

    #[test]
    fn only_reading_runs_bring_back_what_verify_compares_with_the_cache() {
        let f = fixture();
        let catalog = catalog_for(&f);
        let echo = "jsonb_build_object(E'title', t.\"title\", E'updated_at', t.\"updated_at\")";
        assert!(query(&f, &catalog, &[], true).contains(echo));
        assert!(!query(&f, &catalog, &[], false).contains("E'updated_at', t."));
    }
}
