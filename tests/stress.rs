//! A strange schema generated in code (tests/common/stress_schema.rs): ~350
//! tables hanging off the fixture, with odd names, chains, cycles, partitions
//! and a second schema. The tool must seed, verify, prune and tear down through
//! it on real servers and leave every foreign row byte-identical.

mod common;
#[path = "common/stress_schema.rs"]
mod stress_schema;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use serde_json::Value;
use stress_schema::{FixtureIds, Schema, Target, Which, literal};

const MANAGER: &str = "fxManager0CacheTest01";

/// Runs `query` (a `format()` template: %1$L is `schema.table`, %2$I.%3$I
/// the table) on every ordinary table of every user schema, partitions
/// included (a partitioned parent has no rows of its own), except the
/// trigger's audit log and the migrations ledger; one output line per table.
fn per_table(env: &TestEnv, query: &str) -> Vec<String> {
    let out = env.script(&format!(
        r"SELECT format({}, n.nspname || '.' || c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_%'
  AND (n.nspname, c.relname) NOT IN (('public', '_sqlx_migrations'), ('public', 'row_audit'))
ORDER BY 1
\gexec
",
        literal(query)
    ));
    out.lines().map(String::from).collect()
}

/// `schema.table:digest` per table, sorted: like `TestEnv::checksum`, but
/// across schemas.
fn checksums(env: &TestEnv) -> Vec<String> {
    let mut lines = per_table(
        env,
        "SELECT %1$L || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '-') FROM %2$I.%3$I x",
    );
    lines.sort();
    lines
}

/// Rows in all the tables `checksums` covers.
fn total_rows(env: &TestEnv) -> u64 {
    per_table(env, "SELECT count(*) FROM %2$I.%3$I")
        .iter()
        .map(|n| n.parse::<u64>().expect("a count"))
        .sum()
}

/// Lines in one checksum list and not the other, for a readable failure.
fn changed(before: &[String], after: &[String]) -> Vec<String> {
    let (b, a): (BTreeSet<&String>, BTreeSet<&String>) =
        (before.iter().collect(), after.iter().collect());
    b.symmetric_difference(&a)
        .map(|l| {
            let side = if b.contains(l) { "before" } else { "after " };
            format!("{side} {l}")
        })
        .collect()
}

/// Rows tagged `which`, per generated table that has any.
fn tagged(env: &TestEnv, schema: &Schema, which: Which) -> BTreeMap<String, u64> {
    env.script(&schema.count_query(which))
        .lines()
        .filter_map(|l| {
            let (table, n) = l.rsplit_once(':')?;
            let n: u64 = n.parse().expect("a count");
            (n > 0).then(|| (table.to_string(), n))
        })
        .collect()
}

/// Tables where the tool's count differs from the generator's.
fn differences(expected: &BTreeMap<String, u64>, tool: &BTreeMap<String, u64>) -> Vec<String> {
    let names: BTreeSet<&String> = expected.keys().chain(tool.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let (e, t) = (
                expected.get(name).copied().unwrap_or(0),
                tool.get(name).copied().unwrap_or(0),
            );
            (e != t).then(|| format!("{name}: generated {e}, tool {t}"))
        })
        .collect()
}

fn fixture_ids(env: &TestEnv) -> FixtureIds {
    let stories = format!("'{STORY_1}', '{STORY_2}', '{STORY_3}'");
    let list = |sql: String| -> Vec<String> { env.sql(&sql).lines().map(String::from).collect() };
    let posts = format!("SELECT id FROM community_posts WHERE story_id IN ({stories})");
    let mut ids = FixtureIds::default();
    ids.rows
        .insert(Target::Users, vec![WRITER.into(), READER.into()]);
    ids.rows.insert(
        Target::Stories,
        vec![STORY_1.into(), STORY_2.into(), STORY_3.into()],
    );
    ids.rows.insert(
        Target::Chapters,
        list(format!(
            "SELECT id FROM chapters WHERE story_id IN ({stories}) ORDER BY id"
        )),
    );
    ids.rows.insert(
        Target::Scenes,
        list(format!(
            "SELECT s.id FROM scenes s JOIN chapters c ON c.id = s.chapter_id WHERE c.story_id IN ({stories}) ORDER BY s.id"
        )),
    );
    ids.rows
        .insert(Target::Posts, list(format!("{posts} ORDER BY id")));
    ids.rows.insert(
        Target::Replies,
        list(format!(
            "SELECT id FROM community_replies WHERE post_id IN ({posts}) ORDER BY id"
        )),
    );
    ids.post_likes = list(format!(
        "SELECT post_id || '|' || user_id FROM post_likes WHERE post_id IN ({posts}) ORDER BY 1"
    ))
    .iter()
    .map(|l| {
        let (p, u) = l.split_once('|').unwrap();
        (p.to_string(), u.to_string())
    })
    .collect();
    for t in Target::ALL {
        assert!(!ids.rows[&t].is_empty(), "the fixture has no {t:?}");
    }
    assert!(!ids.post_likes.is_empty(), "the fixture has no post_likes");
    ids
}

#[test]
fn a_huge_strange_schema_is_seeded_verified_pruned_and_torn_down() {
    let env = TestEnv::new();
    let schema = Schema::generate();
    let stats = schema.stats();
    let fk_count = || {
        env.count(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conparentid = 0 \
             AND connamespace::regnamespace::text IN ('public', 'audit')",
        )
    };
    let migrated_fks = fk_count();
    env.script(&schema.ddl());
    env.add_foreign_rows();
    let foreign = schema.foreign();
    env.script(&foreign.sql);
    env.sql(&format!(
        "ALTER DATABASE {} SET search_path = public, audit",
        env.name
    ));

    // The generated shape, as the database sees it.
    assert!(stats.direct >= 300, "{stats:?}");
    assert_eq!(stats.chains, 24, "{stats:?}");
    let columns = |schema: &str, table: &str| {
        env.count(&format!(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = '{schema}' AND table_name = '{table}'"
        ))
    };
    assert!(columns("public", "stories") >= 80);
    assert!(columns("public", "scenes") >= 80);
    assert_eq!(columns("public", "scene_wide_annotations"), 150);
    let fks = fk_count();
    assert_eq!(fks, migrated_fks + stats.edges as i64);
    assert_eq!(
        tagged(&env, &schema, Which::Foreign),
        foreign.counts,
        "every foreign row the generator counted is in the database"
    );
    assert!(foreign.counts.len() >= 50, "{}", foreign.counts.len());
    eprintln!(
        "stress schema: {} generated tables ({} straight onto fixture tables, {} three-level chains), {} generated foreign keys ({fks} in all), {} foreign rows in {} tables",
        stats.tables,
        stats.direct,
        stats.chains,
        stats.edges,
        foreign.total(),
        foreign.counts.len()
    );
    let before = checksums(&env);
    let foreign_only = total_rows(&env);

    env.run(&["doctor", "--json"]).expect(0);
    env.run(&["seed", "--quiet"]).expect(0);
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM row_audit WHERE op = 'INSERT' AND row_id IN ('{STORY_1}', '{STORY_2}', '{STORY_3}')"
        )),
        3,
        "the audit trigger saw the seed"
    );
    let audited = env.count("SELECT count(*) FROM row_audit");
    let again = env.run(&["seed", "--json"]).expect(0).json();
    assert!(
        again["tables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["insert"] == 0 && t["update"] == 0),
        "a second seed is a no-op: {again}"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM row_audit"),
        audited,
        "a no-op seed writes no row, so the trigger logs none"
    );
    env.run(&["verify", "--quiet"]).expect(0);

    let ids = fixture_ids(&env);
    let debris = schema.debris(&ids);
    env.script(&debris.sql);
    assert_eq!(tagged(&env, &schema, Which::Debris), debris.counts);
    assert!(debris.counts.len() >= 100, "{}", debris.counts.len());
    let total = debris.total();
    eprintln!("debris: {total} rows in {} tables", debris.counts.len());
    // A foreign row and a debris row of the partitioned table share a ctid.
    assert_eq!(
        env.sql(
            "SELECT (SELECT ctid FROM scene_metrics_views WHERE tag = 'foreign')::text \
             || ' ' || (SELECT min(ctid) FROM scene_metrics_likes WHERE tag = 'debris')::text"
        ),
        "(0,1) (0,1)"
    );

    let report = env.run(&["verify", "--json"]).expect(1).json();
    let findings = report["findings"].as_array().expect("findings");
    let others: Vec<&Value> = findings.iter().filter(|f| f["kind"] != "extra").collect();
    assert!(others.is_empty(), "only extras are expected: {others:?}");
    let mut extra: BTreeMap<String, u64> = BTreeMap::new();
    for f in findings {
        *extra
            .entry(f["table"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    assert_eq!(
        findings.len() as u64,
        total,
        "one extra per debris row: {:#?}",
        differences(&debris.counts, &extra)
    );

    let dry = env
        .run(&["seed", "--prune", "--dry-run", "--json"])
        .expect(0)
        .json();
    let planned = deletes(&dry);
    assert_eq!(
        planned.values().sum::<u64>(),
        total,
        "{:#?}",
        differences(&debris.counts, &planned)
    );
    assert_eq!(
        tagged(&env, &schema, Which::Debris),
        debris.counts,
        "a dry run deletes nothing"
    );
    let pruned = env.run(&["seed", "--prune", "--json"]).expect(0).json();
    assert_eq!(
        deletes(&pruned).values().sum::<u64>(),
        total,
        "{:#?}",
        differences(&debris.counts, &deletes(&pruned))
    );
    assert_eq!(
        tagged(&env, &schema, Which::Debris),
        BTreeMap::new(),
        "the prune left debris"
    );
    assert_eq!(
        tagged(&env, &schema, Which::Foreign),
        foreign.counts,
        "the prune took foreign rows"
    );
    env.run(&["verify", "--quiet"]).expect(0);

    // Rows added after the prune, so that teardown too has strays to clear,
    // in the second schema among others.
    let late = schema.late(&ids);
    env.script(&late.sql);
    assert_eq!(tagged(&env, &schema, Which::Late), late.counts);
    // Whatever the fixture's size, teardown must take exactly what is not foreign.
    let doomed = total_rows(&env) - foreign_only;
    eprintln!(
        "teardown: {doomed} rows to remove, {} of them late strays",
        late.total()
    );
    let real = env.teardown_as_predicted();
    let removed = deletes(&real);
    assert_eq!(
        removed.get("audit.story_events"),
        late.counts.get("audit.story_events"),
        "a table off the first schema is reported as schema.table: {removed:#?}"
    );
    assert_eq!(removed.values().sum::<u64>(), doomed, "{removed:#?}");

    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM stories WHERE id IN ('{STORY_1}', '{STORY_2}', '{STORY_3}')"
        )),
        0
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM users WHERE id IN ('{WRITER}', '{READER}', '{MANAGER}')"
        )),
        0
    );
    assert_eq!(tagged(&env, &schema, Which::Late), BTreeMap::new());
    assert_eq!(total_rows(&env), foreign_only);
    let after = checksums(&env);
    assert!(
        after == before,
        "foreign rows changed: {:#?}",
        changed(&before, &after)
    );
}
