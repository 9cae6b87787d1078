//! Runs a `pure::sweep` in the open transaction: the root row and, one round
//! trip per level, everything hanging off it, collected in temporary tables;
//! the client gets counts, the deletes to send and the swept stories' ids.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::error::{Failure, Result};
use crate::io::db::Db;
use crate::pure::catalog::Catalog;
use crate::pure::dependents::{self, Mode};
use crate::pure::fixture::{Kind, Tag};
use crate::pure::sweep::Sweep;

/// What a sweep found: a counted delete per table (to be sent in
/// children-first order with any others) and the swept entities' cache tags.
#[derive(Debug, Default)]
pub struct Swept {
    pub deletes: BTreeMap<String, String>,
    pub tags: Tags,
}

/// Cache tags of swept entities, and how many swept entities have none.
#[derive(Debug, Default)]
pub struct Tags {
    pub ids: BTreeSet<Tag>,
    pub untagged: u64,
}

impl Swept {
    /// The deletes alone, children first.
    pub fn ordered(&self, catalog: &Catalog) -> Vec<String> {
        dependents::delete_order(catalog, self.deletes.keys())
            .iter()
            .map(|t| self.deletes[t].clone())
            .collect()
    }
}

/// Sweeps from the row of `root` whose `key` is `value`, never taking the
/// users in `kept_users` (adopted accounts).
pub async fn sweep(
    db: &mut Db,
    catalog: &Catalog,
    (root, key, value): (&str, &str, &str),
    mode: Mode,
    kept_users: Vec<String>,
) -> Result<Swept> {
    let started = std::time::Instant::now();
    let plan = Sweep::new(catalog, root, mode).keeping_users(kept_users);
    if db.json(plan.root_exists(root, key, value), 1).await? != Value::Bool(true) {
        // No root row: nothing hangs off it either.
        return Ok(Swept::default());
    }
    let statements = plan.start(root, key, value);
    let n = statements.len() as u64;
    let mut gained = db.json(statements.join(";\n"), n).await.map_err(|f| {
        if !f.message.contains("temporary tables") {
            return f;
        }
        Failure::new(
            f.code,
            format!(
                "the rows hanging off {root} {value} (load-test data) are removed inside the database with temporary tables, but the role may not create them on {}; nothing was committed: grant the role TEMPORARY on this database (GRANT TEMPORARY ON DATABASE … TO …) and run the command again",
                db.shown
            ),
        )
    })?;
    let mut swept: BTreeSet<String> = [root.to_string()].into();
    // Rows per table, summed over the levels that gained them.
    let mut rows: BTreeMap<String, u64> = BTreeMap::new();
    let mut level = 0;
    loop {
        let gains: BTreeMap<String, u64> = counts(&gained)
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect();
        for (t, n) in &gains {
            *rows.entry(t.clone()).or_default() += n;
        }
        let tables: Vec<String> = gains.into_keys().collect();
        let reached = plan.reached_from(&tables);
        if reached.is_empty() {
            break;
        }
        swept.extend(reached);
        level += 1;
        let all: Vec<String> = swept.iter().cloned().collect();
        let next = plan.level(&tables, level, &all);
        let n = next.len() as u64;
        gained = db.json(next.join(";\n"), n).await?;
    }
    let deletes = rows.keys().map(|t| (t.clone(), plan.delete(t))).collect();
    let tags = tags_of(db, &plan, &rows).await?;
    crate::steps::done(
        "sweep",
        &format!(
            "{} rows in {} tables, {} levels from {root} {value}",
            rows.values().sum::<u64>(),
            rows.len(),
            level + 1
        ),
        started,
    );
    Ok(Swept { deletes, tags })
}

/// The most entity ids a sweep brings back for the cache. Beyond it only the
/// stories' ids come (their families hold the keys load tests read most),
/// so memory stays flat however much load-test data goes.
const TAGGED: u64 = 20_000;

/// Cache tags of the swept entities: every kind's ids when they are few,
/// else the stories' (and a count of the entities left to expire).
async fn tags_of(db: &mut Db, plan: &Sweep<'_>, rows: &BTreeMap<String, u64>) -> Result<Tags> {
    let kinds: Vec<(&String, Kind)> = rows
        .keys()
        .filter_map(|t| Some((t, Kind::of_table(t)?)))
        .collect();
    let all: u64 = kinds.iter().map(|(t, _)| rows[*t]).sum();
    let wanted: Vec<(&String, Kind)> = if all <= TAGGED {
        kinds
    } else {
        kinds
            .into_iter()
            .filter(|(_, k)| *k == Kind::Story)
            .collect()
    };
    let tagged: u64 = wanted.iter().map(|(t, _)| rows[*t]).sum();
    let mut tags = Tags {
        untagged: all - tagged,
        ..Tags::default()
    };
    let queries: Vec<(Kind, String)> = wanted
        .iter()
        .filter_map(|(t, k)| Some((*k, plan.values(t, "id")?)))
        .collect();
    if queries.is_empty() {
        return Ok(tags);
    }
    let sql: Vec<&str> = queries.iter().map(|(_, q)| q.as_str()).collect();
    let n = sql.len();
    let answers = db.json_rows(sql.join(";\n"), n as u64, n).await?;
    for ((kind, _), ids) in queries.iter().zip(answers) {
        let ids: Vec<Value> = serde_json::from_value(ids).unwrap_or_default();
        tags.ids.extend(
            ids.into_iter()
                .filter_map(|id| id.as_str().map(|s| (*kind, s.to_string()))),
        );
    }
    Ok(tags)
}

fn counts(v: &Value) -> BTreeMap<String, u64> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(t, n)| Some((t.clone(), n.as_u64()?)))
        .collect()
}
