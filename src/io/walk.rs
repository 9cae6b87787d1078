//! The walk from fixture rows to the rows hanging off them, one foreign-key
//! level per round trip, whatever the number of edges (`pure::dependents`
//! builds each level's statement and reads its answer).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::error::Result;
use crate::io::db::Db;
use crate::pure::catalog::{Catalog, ForeignKey};
use crate::pure::dependents::{Doomed, Found, Mode, Walker, rows_of, tags_by_referenced};
use crate::pure::fixture::{Fixture, Kind, Row, Tag, key_string};

/// The walk's first two levels when an earlier batch already carried them,
/// for the walk's fixture: level 0 as [`Walker::roots_query`] answers it, and
/// level 1 as [`Walker::first_level_query`] does (the two split apart by
/// `split_roots` when that statement carried both).
#[derive(Debug, Default)]
pub struct Ahead {
    pub roots: Option<Value>,
    pub first: Option<Value>,
}

/// Walks the foreign keys from the fixture's rows that exist in the database.
/// What `ahead` carries is not asked again.
pub async fn walk(
    db: &mut Db,
    catalog: &Catalog,
    fixture: &Fixture,
    mode: Mode,
    ahead: Ahead,
) -> Result<Doomed> {
    let started = std::time::Instant::now();
    let trips = db.round_trips;
    let walker = Walker { catalog };
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut doomed = Doomed::new();

    let mut frontier: BTreeMap<String, Vec<(Row, BTreeSet<Tag>)>> = BTreeMap::new();
    let found = match (ahead.roots, walker.roots_query(fixture)) {
        (Some(found), _) => Some(found),
        (None, Some(query)) => Some(db.json(query, 1).await?),
        (None, None) => None,
    };
    if let Some(found) = found {
        for t in &fixture.tables {
            let tags: HashMap<String, &Vec<Tag>> = t
                .rows
                .iter()
                .map(|r| (t.key_of(&r.values), &r.tags))
                .collect();
            let identity = walker.identity(&t.table);
            for row in rows_of(&db.shown, found.get(&t.table))? {
                let tags: BTreeSet<Tag> = tags
                    .get(&key_string(&t.key, &row))
                    .map(|v| v.iter().cloned().collect())
                    .unwrap_or_default();
                seen.entry(t.table.clone())
                    .or_default()
                    .insert(key_string(&identity, &row));
                if mode == Mode::Teardown {
                    doomed
                        .entry(t.table.clone())
                        .or_insert_with(|| Found {
                            identity: identity.clone(),
                            ..Found::default()
                        })
                        .rows
                        .insert(key_string(&identity, &row), (row.clone(), tags.clone()));
                }
                frontier
                    .entry(t.table.clone())
                    .or_default()
                    .push((row, tags));
            }
        }
    }
    // Adopted accounts are never ours, whatever references lead to them.
    for account in fixture.accounts.values().filter(|a| a.adopted) {
        seen.entry("users".into())
            .or_default()
            .insert(account.id.clone());
    }

    let mut first = ahead.first;
    while !frontier.is_empty() {
        // Level 1 read ahead asked about every edge off a fixture table;
        // those whose table has no rows here answered nothing.
        let (edges, found) = match first.take() {
            Some(found) => (walker.first_level_edges(fixture), found),
            None => {
                let edges: Vec<&ForeignKey> = frontier
                    .keys()
                    .flat_map(|t| catalog.referencing(t))
                    .filter(|fk| fk.drags_rows())
                    .collect();
                if edges.is_empty() {
                    break;
                }
                let found = db.json(walker.level_query(&edges, &frontier), 1).await?;
                (edges, found)
            }
        };
        let mut next: BTreeMap<String, Vec<(Row, BTreeSet<Tag>)>> = BTreeMap::new();
        for (i, fk) in edges.iter().enumerate() {
            let Some(parents) = frontier.get(&fk.ref_table) else {
                continue;
            };
            let parent_tags = tags_by_referenced(parents, &fk.ref_columns);
            let identity = walker.identity(&fk.table);
            for mut row in rows_of(&db.shown, found.get(i.to_string()))? {
                let via = row.remove("_via").unwrap_or(Value::Null);
                let key = key_string(&identity, &row);
                if !seen
                    .entry(fk.table.clone())
                    .or_default()
                    .insert(key.clone())
                {
                    continue;
                }
                let mut tags: BTreeSet<Tag> = parent_tags
                    .get(&via.to_string())
                    .cloned()
                    .unwrap_or_default();
                if let (Some(kind), Some(Value::String(id))) =
                    (Kind::of_table(&fk.table), row.get("id"))
                {
                    tags.insert((kind, id.clone()));
                }
                doomed
                    .entry(fk.table.clone())
                    .or_insert_with(|| Found {
                        identity: identity.clone(),
                        ..Found::default()
                    })
                    .rows
                    .insert(key, (row.clone(), tags.clone()));
                next.entry(fk.table.clone()).or_default().push((row, tags));
            }
        }
        frontier = next;
    }
    crate::steps::done(
        "plan",
        &format!(
            "dependents found in {} levels, {} rows",
            db.round_trips - trips,
            doomed.values().map(|f| f.rows.len()).sum::<usize>()
        ),
        started,
    );
    Ok(doomed)
}
