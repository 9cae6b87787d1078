//! The target database's catalog, read once at start in one round trip:
//! tables of every user schema, columns and their types, enum labels, unique
//! keys and foreign keys. Everything the engine writes or deletes is planned
//! against this, never against a column list compiled into the tool.
//!
//! Tables of the first schema on the search_path are named plainly (`stories`);
//! tables of any other schema carry it (`audit.story_events`), in the catalog's
//! keys and so in every report.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{Failure, Result};

#[derive(Debug, Clone, Deserialize)]
#[serde(from = "ColumnRow")]
pub struct Column {
    pub name: String,
    /// `format_type` output, usable in casts (`character varying(50)`, `status`).
    pub sql_type: String,
    pub not_null: bool,
    pub has_default: bool,
    /// Labels in declaration order when the column is an enum (or a domain over one).
    pub labels: Option<Vec<String>>,
    /// For a domain, its base type: what a value is inferred from.
    pub base_type: Option<String>,
    /// `GENERATED ALWAYS AS (…) STORED` or `GENERATED ALWAYS AS IDENTITY`:
    /// the database computes it, so the fixture never writes it.
    pub generated: bool,
    /// Character limit of varchar(n) / char(n).
    pub max_length: Option<i32>,
}

/// A column as [`QUERY`] sends it: an array in this order.
type ColumnRow = (
    String,
    String,
    bool,
    bool,
    Option<Vec<String>>,
    Option<String>,
    bool,
    Option<i32>,
);

impl From<ColumnRow> for Column {
    fn from(row: ColumnRow) -> Column {
        let (name, sql_type, not_null, has_default, labels, base_type, generated, max_length) = row;
        Column {
            name,
            sql_type,
            not_null,
            has_default,
            labels,
            base_type,
            generated,
            max_length,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(from = "ForeignKeyRow")]
pub struct ForeignKey {
    pub table: String,
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    /// `a` no action, `r` restrict, `c` cascade, `n` set null, `d` set default.
    pub on_delete: String,
}

/// A foreign key as [`QUERY`] sends it: an array in this order.
type ForeignKeyRow = (String, Vec<String>, String, Vec<String>, String);

impl From<ForeignKeyRow> for ForeignKey {
    fn from((table, columns, ref_table, ref_columns, on_delete): ForeignKeyRow) -> ForeignKey {
        ForeignKey {
            table,
            columns,
            ref_table,
            ref_columns,
            on_delete,
        }
    }
}

impl ForeignKey {
    /// Deleting a referenced row must delete this referencing row too (or fail).
    pub fn drags_rows(&self) -> bool {
        matches!(self.on_delete.as_str(), "a" | "r" | "c")
    }
}

impl Column {
    /// The type a value is inferred from: a domain's base type, else its own.
    pub fn value_type(&self) -> &str {
        self.base_type.as_deref().unwrap_or(&self.sql_type)
    }

    /// The type's name when it is neither a domain nor an enum: then a
    /// built-in name (`text`, `uuid`) means that built-in type, not one a
    /// search path puts first, and values behave as the built-in's do.
    pub fn plain_type(&self) -> Option<&str> {
        (self.base_type.is_none() && self.labels.is_none()).then_some(self.sql_type.as_str())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(from = "TableRow")]
pub struct Table {
    /// The catalog's key: bare in the first schema, `schema.table` elsewhere.
    pub name: String,
    /// The schema-qualified, quoted name statements use.
    pub sql_name: String,
    /// A partitioned table, whose ctids repeat across its partitions.
    pub partitioned: bool,
    pub columns: Vec<Column>,
    pub primary_key: Option<Vec<String>>,
    /// Column sets of every plain unique index, primary key included.
    pub unique: Vec<Vec<String>>,
}

/// A table as [`QUERY`] sends it: an array in this order.
type TableRow = (
    String,
    String,
    bool,
    Vec<Column>,
    Option<Vec<String>>,
    Vec<Vec<String>>,
);

impl From<TableRow> for Table {
    fn from(row: TableRow) -> Table {
        let (name, sql_name, partitioned, columns, primary_key, unique) = row;
        Table {
            name,
            sql_name,
            partitioned,
            columns,
            primary_key,
            unique,
        }
    }
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Columns that identify a row: the primary key, else the row's ctid,
    /// qualified by its partition (`tableoid`) where ctids repeat.
    pub fn identity(&self) -> Vec<String> {
        match (&self.primary_key, self.partitioned) {
            (Some(key), _) => key.clone(),
            (None, false) => vec!["ctid".to_string()],
            (None, true) => vec!["tableoid".to_string(), "ctid".to_string()],
        }
    }

    /// The SQL type to cast a value of `column` to (`tid` for ctid, `oid`
    /// for tableoid).
    pub fn type_of(&self, column: &str) -> String {
        match self.column(column) {
            Some(c) => c.sql_type.clone(),
            None if column == "tableoid" => "oid".to_string(),
            None => "tid".to_string(),
        }
    }

    pub fn has_unique(&self, columns: &[String]) -> bool {
        let mut want = columns.to_vec();
        want.sort();
        self.unique.iter().any(|u| {
            let mut have = u.clone();
            have.sort();
            have == want
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub tables: BTreeMap<String, Table>,
    pub foreign_keys: Vec<ForeignKey>,
}

#[derive(Deserialize)]
struct Raw {
    tables: Option<Vec<Table>>,
    foreign_keys: Option<Vec<ForeignKey>>,
}

/// The tables the catalog covers, as the end of a query over `pg_class c`:
/// [`QUERY`] reads them and [`VERSION`] stamps the same ones.
macro_rules! user_tables {
    () => {
        r#"FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  -- Every user schema: a foreign key from a schema off the search_path
  -- blocks a delete just the same. Partitions are reached through their parent.
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
    AND c.relkind IN ('r', 'p') AND NOT c.relispartition"#
    };
}

/// The one statement that reads the catalog.
pub const QUERY: &str = concat!(
    r#"
WITH rels AS (
  SELECT c.oid, c.relkind = 'p' AS partitioned,
    CASE WHEN n.nspname = current_schema() THEN c.relname::text
         ELSE n.nspname || '.' || c.relname END AS relname,
    quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS sql_name
  "#,
    user_tables!(),
    r#"
),
-- Rows go out as arrays (ColumnRow, TableRow, ForeignKeyRow in catalog.rs),
-- not as objects: a wide schema's answer would be mostly field names, and
-- every further TCP window of it costs a round trip.
cols AS (
  SELECT a.attrelid, json_agg(json_build_array(
      a.attname,
      format_type(a.atttypid, a.atttypmod),
      a.attnotnull OR coalesce(t.typnotnull, false),
      a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' OR t.typdefault IS NOT NULL,
      (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder)
       FROM pg_enum e WHERE e.enumtypid = CASE WHEN t.typtype = 'd'
                                               THEN t.typbasetype ELSE a.atttypid END),
      CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
      a.attgenerated <> '' OR a.attidentity = 'a',
      CASE WHEN a.atttypid IN (1042, 1043) AND a.atttypmod > 4 THEN a.atttypmod - 4 END
    ) ORDER BY a.attnum) AS columns
  FROM pg_attribute a JOIN rels r ON r.oid = a.attrelid
  LEFT JOIN pg_type t ON t.oid = a.atttypid
  WHERE a.attnum > 0 AND NOT a.attisdropped
  GROUP BY a.attrelid
),
keys AS (
  SELECT i.indrelid, i.indisprimary, i.indkey::text AS indkey,
    (SELECT json_agg(a.attname ORDER BY k.ord)
     FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) AS names
  FROM pg_index i JOIN rels r ON r.oid = i.indrelid
  WHERE i.indisunique AND i.indexprs IS NULL AND i.indpred IS NULL
),
uniq AS (
  -- Ordered by content, not by where the index rows happen to lie.
  SELECT indrelid, json_agg(names ORDER BY indkey) AS unique_sets,
    (array_agg(names) FILTER (WHERE indisprimary))[1] AS primary_key
  FROM keys GROUP BY indrelid
)
SELECT json_build_object(
  'tables', (SELECT json_agg(json_build_array(
      r.relname, r.sql_name, r.partitioned, c.columns,
      u.primary_key, coalesce(u.unique_sets, '[]'::json))
    ORDER BY r.relname)
    FROM rels r JOIN cols c ON c.attrelid = r.oid LEFT JOIN uniq u ON u.indrelid = r.oid),
  'foreign_keys', (SELECT json_agg(json_build_array(
      ch.relname,
      (SELECT json_agg(a.attname ORDER BY k.ord)
       FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum),
      pa.relname,
      (SELECT json_agg(a.attname ORDER BY k.ord)
       FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum),
      con.confdeltype)
    ORDER BY ch.relname, con.conname)
    FROM pg_constraint con
    JOIN rels ch ON ch.oid = con.conrelid
    JOIN rels pa ON pa.oid = con.confrelid
    WHERE con.contype = 'f' AND con.conparentid = 0)
)::text
"#
);

/// The catalog's version, as a JSON string: a digest of everything [`QUERY`]'s
/// answer is built from (the session's schema, search path and quoting, and
/// the catalog's names, types as `format_type` spells them under that path,
/// flags, enum labels, unique keys, foreign keys), so two databases with the
/// same version give the same answer, whatever history (a restored snapshot,
/// a branch reset to its parent, a fresh `initdb`) led there. Each row is hashed where it lies
/// and the hashes are summed per kind of row: a fraction of the cost of
/// building the catalog's JSON again, which on a wide schema is several
/// times these scans. Some DDL moves the version and not the answer (a
/// unique index on an expression): that costs one fresh read, never a wrong
/// one.
pub const VERSION: &str = concat!(
    r#"
WITH rels AS (SELECT c.oid, c.relname, c.relkind, n.nspname "#,
    user_tables!(),
    r#"),
used AS (
  SELECT DISTINCT a.atttypid AS oid, a.atttypmod AS typmod
  FROM pg_attribute a JOIN rels r ON r.oid = a.attrelid WHERE a.attnum > 0
),
types AS (
  SELECT t.oid, t.typtype, t.typbasetype, t.typtypmod, t.typnotnull,
    t.typdefault IS NOT NULL AS has_default
  FROM pg_type t
  WHERE t.oid IN (SELECT oid FROM used)
     OR t.oid IN (SELECT d.typbasetype FROM pg_type d JOIN used u ON u.oid = d.oid)
),
-- One 64-bit hash per row, seeded with the row's key so that two rows
-- trading contents still change the sum. A name is hashed on its own, with
-- the rest as the seed: joined by a separator, names holding it could make
-- two rows read the same.
hashed(i, h) AS (
  SELECT 1, hashtextextended(r.relname::text, hashtextextended(r.nspname::text,
      (r.oid::bigint << 8) | ascii(r.relkind::text)))
  FROM rels r
  UNION ALL SELECT 2, hashtextextended(a.attname::text, hashint8extended(
      (a.atttypid::bigint << 32) | (a.atttypmod::bigint & 4294967295),
      -- PostgreSQL's bit operators share one precedence: every shift bracketed.
      hashint8extended(a.attnotnull::int | (a.atthasdef::int << 1) | (a.attisdropped::int << 2)
          | (ascii(a.attidentity::text) << 8) | (ascii(a.attgenerated::text) << 16),
        (a.attrelid::bigint << 16) | a.attnum)))
  FROM pg_attribute a JOIN rels r ON r.oid = a.attrelid WHERE a.attnum > 0
  UNION ALL SELECT 3, hashtextextended(
      concat_ws(' ', t.typtype, t.typbasetype, t.typtypmod, t.typnotnull, t.has_default),
      t.oid::bigint)
  FROM types t
  -- Type names as the answer spells them: a type of the same name earlier
  -- on the search path changes these without touching the type's own row.
  UNION ALL SELECT 4, hashtextextended(format_type(u.oid, u.typmod),
      (u.oid::bigint << 32) | (u.typmod::bigint & 4294967295))
  FROM used u
  UNION ALL SELECT 4, hashtextextended(format_type(t.typbasetype, t.typtypmod), ~t.oid::bigint)
  FROM types t WHERE t.typtype = 'd'
  UNION ALL SELECT 5, hashtextextended(e.enumlabel::text,
      hashtextextended(e.enumsortorder::text, e.enumtypid::bigint))
  FROM pg_enum e WHERE e.enumtypid IN (SELECT oid FROM types)
  UNION ALL SELECT 6, hashtextextended(concat_ws(' ', i.indrelid, i.indkey, i.indisprimary,
      i.indexprs IS NULL, i.indpred IS NULL), 0)
  FROM pg_index i JOIN rels r ON r.oid = i.indrelid WHERE i.indisunique
  UNION ALL SELECT 7, hashtextextended(con.conname::text, hashtextextended(concat_ws(' ',
      con.conrelid, con.confrelid, con.confdeltype, con.conkey, con.confkey, con.conparentid), 0))
  FROM pg_constraint con JOIN rels r ON r.oid = con.conrelid WHERE con.contype = 'f'
),
-- A count and a sum per kind: no sort, and a row added, removed or
-- changed moves the sum but for a 1 in 2^64 chance.
kinds AS (
  SELECT i, count(*) || ' ' || sum(h::numeric) AS part FROM hashed GROUP BY i
)
-- With what else the answer reads: the schema tables are named against, the
-- path types are spelled against, quote_ident's setting, and the server's
-- version (quote_ident's keywords).
SELECT to_json(encode(sha256(convert_to(json_build_array(
    current_schema(), current_schemas(true), current_setting('quote_all_identifiers'),
    current_setting('server_version_num'),
    (SELECT string_agg(i || ' ' || part, ';' ORDER BY i) FROM kinds))::text,
  'UTF8')), 'hex'))::text
"#
);

impl Catalog {
    /// The catalog from the answer to [`QUERY`].
    pub fn from_json(value: &serde_json::Value) -> Result<Catalog> {
        let raw = Raw::deserialize(value).map_err(|e| {
            Failure::new(
                crate::error::ExitCode::Database,
                format!("could not understand the database catalog ({e}); report this with your PostgreSQL version"),
            )
        })?;
        Ok(Catalog {
            tables: raw
                .tables
                .unwrap_or_default()
                .into_iter()
                .map(|t| (t.name.clone(), t))
                .collect(),
            foreign_keys: raw.foreign_keys.unwrap_or_default(),
        })
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    /// The name statements use for the table the catalog calls `name`.
    pub fn sql_name(&self, name: &str) -> String {
        self.table(name)
            .map_or_else(|| crate::pure::sql::ident(name), |t| t.sql_name.clone())
    }

    /// Foreign keys pointing at `table`.
    pub fn referencing(&self, table: &str) -> impl Iterator<Item = &ForeignKey> {
        self.foreign_keys
            .iter()
            .filter(move |fk| fk.ref_table == table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::testing::*;

    #[test]
    fn a_unique_key_matches_in_any_column_order() {
        let mut t = table(
            "post_likes",
            vec![column("post_id", "text"), column("user_id", "text")],
            &["post_id", "user_id"],
        );
        assert!(t.has_unique(&["user_id".into(), "post_id".into()]));
        assert!(!t.has_unique(&["post_id".into()]));
        t.unique.clear();
        assert!(!t.has_unique(&["post_id".into(), "user_id".into()]));
    }

    #[test]
    fn only_no_action_restrict_and_cascade_drag_rows() {
        for (action, drags) in [
            ("a", true),
            ("r", true),
            ("c", true),
            ("n", false),
            ("d", false),
        ] {
            assert_eq!(
                foreign_key("x", &["y"], "z", action).drags_rows(),
                drags,
                "{action}"
            );
        }
    }

    #[test]
    fn statements_name_tables_by_their_qualified_name() {
        let mut t = table("audit.events", vec![column("id", "text")], &["id"]);
        t.sql_name = "\"audit\".\"events\"".into();
        let catalog = Catalog {
            tables: [(t.name.clone(), t)].into(),
            foreign_keys: vec![foreign_key("audit.events", &["story_id"], "stories", "a")],
        };
        assert_eq!(catalog.sql_name("audit.events"), "\"audit\".\"events\"");
        assert_eq!(catalog.sql_name("unknown"), "\"unknown\"");
        assert_eq!(catalog.referencing("stories").count(), 1);
        assert_eq!(catalog.referencing("audit.events").count(), 0);
    }

    #[test]
    fn the_catalog_s_rows_are_read_by_position() {
        let answer = serde_json::json!({
            "tables": [["stories", "public.stories", false, [
                ["id", "text", true, false, null, null, false, null],
                ["status", "status_text", false, true, ["draft", "published"], "status", false, null],
                ["slug", "character varying(40)", true, true, null, null, true, 40]
            ], ["id"], [["id"], ["slug"]]]],
            "foreign_keys": [["chapters", ["story_id"], "stories", ["id"], "c"]]
        });
        let catalog = Catalog::from_json(&answer).unwrap();
        let t = catalog.table("stories").unwrap();
        assert_eq!(
            (t.sql_name.as_str(), t.partitioned),
            ("public.stories", false)
        );
        assert_eq!(t.primary_key.as_deref(), Some(&["id".to_string()][..]));
        assert_eq!(t.unique.len(), 2);
        let id = t.column("id").unwrap();
        assert!(id.not_null && !id.has_default && !id.generated);
        let status = t.column("status").unwrap();
        assert_eq!(status.sql_type, "status_text");
        assert!(!status.not_null && status.has_default);
        assert_eq!(status.labels.as_ref().unwrap()[1], "published");
        assert_eq!(status.base_type.as_deref(), Some("status"));
        let slug = t.column("slug").unwrap();
        assert!(slug.generated);
        assert_eq!(slug.max_length, Some(40));
        let fk = &catalog.foreign_keys[0];
        assert_eq!(
            (fk.table.as_str(), fk.ref_table.as_str()),
            ("chapters", "stories")
        );
        assert_eq!(
            (fk.columns[0].as_str(), fk.ref_columns[0].as_str()),
            ("story_id", "id")
        );
        assert!(fk.drags_rows());
        // A row of another shape (an older tool's objects) is not a catalog.
        let objects = serde_json::json!({"tables": [{"name": "stories"}]});
        assert!(Catalog::from_json(&objects).is_err());
    }

    #[test]
    fn a_domain_s_value_type_is_its_base_type() {
        let c = Column {
            base_type: Some("text".into()),
            ..column("slug", "slug_text")
        };
        assert_eq!(c.value_type(), "text");
        assert_eq!(column("n", "integer").value_type(), "integer");
    }
}
