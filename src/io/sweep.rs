//! Runs a `pure::sweep` in the open transaction: the root row and, one round
//! trip per level, everything hanging off it, collected in temporary tables;
//! the client gets counts, the deletes to send and the swept stories' ids.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::error::{Failure, Result};
use crate::io::db::Db;
use crate::pure::catalog::Catalog;
use crate::pure::dependents::{self, Mode};
use crate::pure::sweep::Sweep;

/// What a sweep found: the deletes (children first, counted per table) and
/// the ids of the stories among them, for the cache.
#[derive(Debug, Default)]
pub struct Swept {
    pub deletes: Vec<String>,
    pub story_ids: Vec<String>,
}

/// Sweeps from the row of `root` whose `key` is `value`.
pub async fn sweep(
    db: &mut Db,
    catalog: &Catalog,
    (root, key, value): (&str, &str, &str),
    mode: Mode,
) -> Result<Swept> {
    let started = std::time::Instant::now();
    let plan = Sweep::new(catalog, root, mode);
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
    let mut level = 0;
    loop {
        let tables: Vec<String> = counts(&gained)
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(t, _)| t)
            .collect();
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
    let all: Vec<String> = swept.iter().cloned().collect();
    let mut last = vec![plan.counts(&all, None)];
    if swept.contains("stories") {
        last.extend(plan.values("stories", "id"));
    }
    let n = last.len();
    let mut answers = db.json_rows(last.join(";\n"), n as u64, n).await?;
    let stories = if n == 2 { answers.pop() } else { None };
    let rows: BTreeMap<String, u64> = counts(&answers.pop().unwrap_or(Value::Null))
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    let deletes = dependents::delete_order(catalog, rows.keys())
        .iter()
        .map(|t| plan.delete(t))
        .collect();
    let story_ids = stories
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
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
    Ok(Swept { deletes, story_ids })
}

fn counts(v: &Value) -> BTreeMap<String, u64> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(t, n)| Some((t.clone(), n.as_u64()?)))
        .collect()
}
