//! Load-test data, without I/O: story `n` of scale mode, its rows as COPY
//! text, and an order-independent checksum of the scenes, computed alike here
//! and by the database, so `seed` can skip exact data and `verify` check it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::Result;
use crate::pure::catalog::Catalog;
use crate::pure::fit;
use crate::pure::fixture::{self, Accounts, Fixture};
use crate::pure::hex::sha256;
use crate::pure::seedfile::SeedFile;
use crate::pure::sql;

/// The table streamed straight into COPY: the one holding nearly all the text.
pub const STREAMED: &str = "scenes";

/// What scale mode writes, or what the database holds of it.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Rows per table.
    pub rows: BTreeMap<String, u64>,
    /// Sum of 60-bit prefixes of each scene's SHA-256 (id, title, content).
    pub checksum: String,
    /// Bytes of COPY data as sent, text or binary (not part of the comparison's
    /// meaning, always 0 from the database).
    #[serde(skip)]
    pub bytes: u64,
}

impl Summary {
    /// Same rows and content, whatever the byte counts.
    pub fn same_data(&self, other: &Summary) -> bool {
        self.rows == other.rows && self.checksum == other.checksum
    }

    pub fn is_empty(&self) -> bool {
        self.rows.values().all(|n| *n == 0)
    }
}

impl Summary {
    pub fn merge(&mut self, other: Summary) {
        for (t, n) in other.rows {
            *self.rows.entry(t).or_default() += n;
        }
        let sum = self.checksum.parse::<u128>().unwrap_or(0)
            + other.checksum.parse::<u128>().unwrap_or(0);
        self.checksum = sum.to_string();
        self.bytes += other.bytes;
    }
}

/// Makes load-test story `n` from the seed file, fitted to the catalog.
pub struct Generator {
    file: SeedFile,
    accounts: Accounts,
    catalog: Catalog,
}

impl Generator {
    pub fn new(file: &SeedFile, accounts: &Accounts, catalog: &Catalog) -> Generator {
        Generator {
            file: file.clone(),
            accounts: accounts.clone(),
            catalog: catalog.clone(),
        }
    }

    /// Story `n`, fitted to the catalog like the fixture (only `tables` complete when given).
    pub fn story(&self, n: u32, tables: Option<&[String]>) -> Result<Fixture> {
        let mut story = fixture::scale_story(&self.file, &self.accounts, n, tables);
        match fit::fit(&mut story, &self.catalog).failure() {
            Some(f) => Err(f),
            None => Ok(story),
        }
    }

    /// The tables a story fills, parents first, with their columns.
    pub fn layout(&self) -> Result<Vec<(String, Vec<String>)>> {
        let first = self.story(1, None)?;
        Ok(first
            .tables
            .iter()
            .filter(|t| !t.rows.is_empty())
            .map(|t| (t.table.clone(), t.columns()))
            .collect())
    }
}

/// One row in COPY's text format: tab-separated, `\N` for NULL, escaped.
pub fn copy_line(columns: &[String], row: &fixture::Row, out: &mut Vec<u8>) {
    let mut line = String::new();
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            line.push('\t');
        }
        match row.get(c) {
            None | Some(Value::Null) => line.push_str("\\N"),
            Some(Value::String(s)) => escape(s, &mut line),
            Some(v @ (Value::Array(_) | Value::Object(_))) => escape(&v.to_string(), &mut line),
            Some(v) => line.push_str(&v.to_string()),
        }
    }
    line.push('\n');
    out.extend_from_slice(line.as_bytes());
}

/// COPY text escaping; runs without special bytes are copied whole (the
/// special characters are ASCII, so byte positions are character boundaries).
fn escape(text: &str, out: &mut String) {
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        let escaped = match b {
            b'\\' => "\\\\",
            b'\t' => "\\t",
            b'\n' => "\\n",
            b'\r' => "\\r",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        out.push_str(escaped);
        start = i + 1;
    }
    out.push_str(&text[start..]);
}

/// First 60 bits of SHA-256(id:title:hex(SHA-256(content))); summed, order does not matter.
pub fn scene_hash(row: &fixture::Row) -> u128 {
    let text = |c: &str| {
        row.get(c)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let content = sha256(&text("content"));
    let digest = sha256(&format!("{}:{}:{content}", text("id"), text("title")));
    u128::from(u64::from_str_radix(&digest[..15], 16).unwrap_or(0))
}

/// The same counts and checksum computed by the database, in one statement.
pub fn state_query(account: &str) -> String {
    format!(
        "WITH s AS (SELECT id FROM stories WHERE author_id = {acct}), \
         c AS (SELECT id FROM chapters WHERE story_id IN (SELECT id FROM s)), \
         x AS (SELECT id, title, content FROM scenes WHERE chapter_id IN (SELECT id FROM c)), \
         p AS (SELECT id FROM community_posts WHERE story_id IN (SELECT id FROM s)) \
         SELECT json_build_object( \
           'stories', (SELECT count(*) FROM s), 'chapters', (SELECT count(*) FROM c), \
           'scenes', (SELECT count(*) FROM x), 'community_posts', (SELECT count(*) FROM p), \
           'community_replies', (SELECT count(*) FROM community_replies WHERE post_id IN (SELECT id FROM p)), \
           'post_likes', (SELECT count(*) FROM post_likes WHERE post_id IN (SELECT id FROM p)), \
           'story_likes', (SELECT count(*) FROM story_likes WHERE story_id IN (SELECT id FROM s)), \
           'checksum', (SELECT coalesce(sum(('x' || substr(encode(sha256(convert_to(id || ':' || title || ':' || \
              encode(sha256(convert_to(coalesce(content, ''), 'UTF8')), 'hex'), 'UTF8')), 'hex'), 1, 15))::bit(60)::bigint), 0) FROM x)::text \
         )::text",
        acct = sql::literal(account)
    )
}

/// The answer of [`state_query`]; `Err` says what is not of its shape.
pub fn parse_state(v: Value) -> std::result::Result<Summary, String> {
    let checksum = v["checksum"]
        .as_str()
        .filter(|c| c.parse::<u128>().is_ok())
        .ok_or("a load-test checksum that is not a number")?;
    let mut summary = Summary {
        checksum: checksum.to_string(),
        ..Summary::default()
    };
    if let Value::Object(m) = v {
        for (k, n) in m {
            if let Some(n) = n.as_u64().filter(|n| *n > 0) {
                summary.rows.insert(k, n);
            }
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_specials_and_writes_nulls() {
        let mut out = String::new();
        escape("a\\b\tc\nd\re ünï", &mut out);
        assert_eq!(out, "a\\\\b\\tc\\nd\\re ünï");
        let row: fixture::Row =
            serde_json::from_value(serde_json::json!({"a": "x\ty", "b": null, "c": 3, "d": [1]}))
                .unwrap();
        let mut line = Vec::new();
        copy_line(
            &["a".into(), "b".into(), "c".into(), "d".into()],
            &row,
            &mut line,
        );
        assert_eq!(String::from_utf8(line).unwrap(), "x\\ty\t\\N\t3\t[1]\n");
    }

    #[test]
    fn a_state_answer_keeps_nonzero_counts_and_needs_a_numeric_checksum() {
        let v = serde_json::json!({"stories": 2, "scenes": 30, "post_likes": 0, "checksum": "123"});
        let s = parse_state(v).unwrap();
        assert_eq!(s.checksum, "123");
        assert_eq!(s.rows.len(), 2, "zero counts are left out: {:?}", s.rows);
        assert!(parse_state(serde_json::json!({"checksum": "x1"})).is_err());
        assert!(parse_state(serde_json::json!({"stories": 1})).is_err());
    }

    #[test]
    fn summaries_merge_counts_and_add_checksums() {
        let mut a = Summary {
            rows: [("scenes".to_string(), 3)].into(),
            checksum: "10".into(),
            bytes: 5,
        };
        let b = Summary {
            rows: [("scenes".to_string(), 2), ("stories".to_string(), 1)].into(),
            checksum: "7".into(),
            bytes: 1,
        };
        a.merge(b);
        assert_eq!(a.rows["scenes"], 5);
        assert_eq!(a.checksum, "17");
        let same = Summary {
            bytes: 0,
            ..a.clone()
        };
        assert!(a.same_data(&same), "byte counts do not matter");
    }
}
