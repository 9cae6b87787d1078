//! `migrate` and the local schema: the tables it creates match the app's
//! schema sheet (read back from the catalog, not from the migration text),
//! and a second run is a no-op.

mod common;

use std::collections::BTreeMap;

use common::*;

#[test]
fn migrate_creates_tables_once() {
    let env = TestEnv::empty();
    assert_eq!(
        env.count("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        0
    );
    let first = env.run(&["migrate", "--json"]).expect(0).json();
    assert!(
        first["notes"][0].as_str().unwrap().starts_with("applied"),
        "{first}"
    );
    assert!(env.count("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") >= 20);
    let schema = env.checksum_schema();
    let second = env.run(&["migrate", "--json"]).expect(0).json();
    assert_eq!(
        second["notes"][0],
        "every migration is applied; nothing to do"
    );
    assert_eq!(env.checksum_schema(), schema);
    let dry = env
        .run(&["migrate", "--dry-run", "--json"])
        .expect(0)
        .json();
    assert_eq!(dry["notes"][0], "every migration is applied; nothing to do");
}

#[test]
fn migrate_dry_run_applies_nothing() {
    let env = TestEnv::empty();
    let dry = env
        .run(&["migrate", "--dry-run", "--json"])
        .expect(0)
        .json();
    assert!(
        dry["notes"][0].as_str().unwrap().starts_with("would apply"),
        "{dry}"
    );
    let files = std::fs::read_dir(repo().join("migrations"))
        .unwrap()
        .count();
    let last = dry["notes"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last, format!("would apply {files} migrations"), "{dry}");
    assert_eq!(
        env.count("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        0
    );
}

trait SchemaChecksum {
    fn checksum_schema(&self) -> String;
}

impl SchemaChecksum for TestEnv {
    fn checksum_schema(&self) -> String {
        self.sql(
            "SELECT md5(string_agg(table_name || column_name || data_type || is_nullable || coalesce(column_default, ''), ',' ORDER BY table_name, column_name)) FROM information_schema.columns WHERE table_schema = 'public'",
        )
    }
}

/// Every fact of tests/data/schema-expectations.txt (transcribed from the
/// app's schema sheet) holds in the catalog of a migrated database.
#[test]
fn migrated_schema_matches_the_schema_sheet() {
    let env = TestEnv::new();
    let columns: BTreeMap<String, (String, String, String)> = env
        .sql(
            "SELECT c.table_name || '.' || c.column_name || '|' || \
               CASE WHEN c.data_type = 'USER-DEFINED' THEN c.udt_name \
                    WHEN c.data_type = 'character varying' THEN 'varchar(' || c.character_maximum_length || ')' \
                    ELSE c.data_type END || '|' || c.is_nullable || '|' || \
               CASE WHEN c.column_default IS NULL THEN 'no' ELSE 'yes' END \
             FROM information_schema.columns c WHERE c.table_schema = 'public'",
        )
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (f[0].to_string(), (f[1].to_string(), f[2].to_string(), f[3].to_string()))
        })
        .collect();
    let fks: Vec<String> = env
        .sql(
            "SELECT ch.relname || '.' || a.attname || '|' || pa.relname || '.' || ra.attname || '|' || \
               CASE con.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'r' THEN 'RESTRICT' ELSE 'SET DEFAULT' END \
             FROM pg_constraint con JOIN pg_class ch ON ch.oid = con.conrelid JOIN pg_class pa ON pa.oid = con.confrelid \
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1] \
             JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = con.confkey[1] \
             WHERE con.contype = 'f'",
        )
        .lines()
        .map(String::from)
        .collect();
    let enums: BTreeMap<String, String> = env
        .sql("SELECT t.typname || '|' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname")
        .lines()
        .map(|l| {
            let (n, labels) = l.split_once('|').unwrap();
            (n.to_string(), labels.to_string())
        })
        .collect();
    let keys = |kind: char| -> Vec<String> {
        env.sql(&format!(
            "SELECT c.relname || '|' || (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY k(n, ord) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n) \
             FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid WHERE con.contype = '{kind}'"
        ))
        .lines()
        .map(String::from)
        .collect()
    };
    let (pks, uniques) = (keys('p'), keys('u'));

    let expectations =
        std::fs::read_to_string(repo().join("tests/data/schema-expectations.txt")).unwrap();
    let mut checked = 0;
    for line in expectations
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = line.split('|').collect();
        match f[0] {
            "enum" => assert_eq!(enums.get(f[1]).map(String::as_str), Some(f[2]), "{line}"),
            "fk" => {
                let (table, col) = f[1].split_once('.').unwrap();
                let found = fks.iter().any(|fk| {
                    let g: Vec<&str> = fk.split('|').collect();
                    let (t, c) = g[0].split_once('.').unwrap();
                    t == table && (col == "*" || c == col) && g[1] == f[2] && g[2] == f[3]
                });
                assert!(found, "{line}: not among {fks:?}");
            }
            "pk" => assert!(pks.contains(&format!("{}|{}", f[1], f[2])), "{line}"),
            "unique" => assert!(uniques.contains(&format!("{}|{}", f[1], f[2])), "{line}"),
            "notunique" => assert!(!uniques.contains(&format!("{}|{}", f[1], f[2])), "{line}"),
            column => {
                let (ty, nullable, default) = columns
                    .get(column)
                    .unwrap_or_else(|| panic!("{line}: column missing"));
                for (want, have) in [(f[1], ty), (f[2], nullable), (f[3], default)] {
                    assert!(
                        want == "*" || want == have,
                        "{line}: found {ty}|{nullable}|{default}"
                    );
                }
            }
        }
        checked += 1;
    }
    assert!(checked > 150, "only {checked} expectations were checked");
}
