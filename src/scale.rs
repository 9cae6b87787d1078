//! Scale mode: N load-test stories of the fixture's shape, generated one story
//! at a time into per-table spool files (memory stays flat whatever N is) and
//! streamed to PostgreSQL with COPY, parents before children. An
//! order-independent checksum of the scenes lets `seed` skip data that is
//! already exact and `verify` check content without reading rows one by one.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::catalog::Catalog;
use crate::compat;
use crate::db::Db;
use crate::error::{ExitCode, Failure, Result};
use crate::fixture::{self, Accounts};
use crate::seedfile::SeedFile;
use crate::sql;

/// What scale mode writes, and what the database holds of it.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Rows per table.
    pub rows: BTreeMap<String, u64>,
    /// Sum of 60-bit prefixes of each scene's SHA-256 (id, title, content).
    pub checksum: String,
}

/// One table's spooled COPY data.
struct Spooled {
    table: String,
    columns: Vec<String>,
    path: PathBuf,
    writer: BufWriter<File>,
}

/// Generated scale data waiting in spool files.
pub struct Spool {
    dir: PathBuf,
    tables: Vec<Spooled>,
    pub expected: Summary,
    pub bytes: u64,
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Generates `n` stories into spool files, fitted to `catalog` like the fixture.
pub fn generate(
    file: &SeedFile,
    accounts: &Accounts,
    catalog: &Catalog,
    n: u32,
    progress: &indicatif::ProgressBar,
) -> Result<Spool> {
    let dir = std::env::temp_dir().join(format!("fictures-seed-scale-{}", std::process::id()));
    let io = |e: std::io::Error| {
        Failure::new(
            ExitCode::Database,
            format!(
                "cannot write scale spool files in {}: {e}; free disk space or set TMPDIR",
                dir.display()
            ),
        )
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let mut spool = Spool {
        dir: dir.clone(),
        tables: Vec::new(),
        expected: Summary::default(),
        bytes: 0,
    };
    let mut sum: u128 = 0;
    progress.set_length(u64::from(n));
    for i in 1..=n {
        let mut story = fixture::scale_story(file, accounts, i);
        if let Some(failure) = compat::fit(&mut story, catalog).failure() {
            return Err(failure);
        }
        for rows in story.tables.iter().filter(|t| !t.rows.is_empty()) {
            let slot = match spool.tables.iter().position(|s| s.table == rows.table) {
                Some(slot) => slot,
                None => {
                    let path = dir.join(format!("{}.copy", rows.table));
                    let writer =
                        BufWriter::with_capacity(1 << 20, File::create(&path).map_err(io)?);
                    spool.tables.push(Spooled {
                        table: rows.table.clone(),
                        columns: rows.columns(),
                        path,
                        writer,
                    });
                    spool.tables.len() - 1
                }
            };
            let spooled = &mut spool.tables[slot];
            for row in &rows.rows {
                let line = copy_line(&spooled.columns, &row.values);
                spool.bytes += line.len() as u64;
                spooled.writer.write_all(line.as_bytes()).map_err(io)?;
                if rows.table == "scenes" {
                    sum += scene_hash(&row.values);
                }
            }
            *spool.expected.rows.entry(rows.table.clone()).or_default() += rows.rows.len() as u64;
        }
        progress.inc(1);
    }
    for s in &mut spool.tables {
        s.writer.flush().map_err(io)?;
    }
    spool.expected.checksum = sum.to_string();
    Ok(spool)
}

/// The spool for `n` load-test stories of `target`'s fixture (none for 0),
/// with a progress bar on terminals.
pub fn prepare(
    g: &crate::cli::Global,
    target: &crate::engine::Target,
    n: u32,
) -> Result<Option<Spool>> {
    if n == 0 {
        return Ok(None);
    }
    let bar = crate::progress::bar(g, "generate");
    let spool = generate(
        &target.file,
        &target.fixture.accounts,
        &target.catalog,
        n,
        &bar,
    )?;
    bar.finish_and_clear();
    Ok(Some(spool))
}

/// One row in COPY's text format: tab-separated, `\N` for NULL, escaped.
fn copy_line(columns: &[String], row: &fixture::Row) -> String {
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
    line
}

fn escape(text: &str, out: &mut String) {
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(ch),
        }
    }
}

/// First 60 bits of SHA-256(id:title:hex(SHA-256(content))); summed, order does not matter.
fn scene_hash(row: &fixture::Row) -> u128 {
    let text = |c: &str| {
        row.get(c)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let content = hex(&Sha256::digest(text("content").as_bytes()));
    let digest = hex(&Sha256::digest(
        format!("{}:{}:{content}", text("id"), text("title")).as_bytes(),
    ));
    u128::from(u64::from_str_radix(&digest[..15], 16).unwrap_or(0))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// What the database holds of the scale data owned by `account`.
pub async fn read_state(db: &mut Db, account: &str) -> Result<Summary> {
    let v = db.json(state_query(account), 1).await?;
    let mut summary = Summary {
        checksum: v["checksum"].as_str().unwrap_or("0").to_string(),
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

impl Spool {
    /// Streams every spool file into its table with COPY, in generation order
    /// (parents first). Returns rows copied per table.
    pub async fn copy(
        &self,
        db: &mut Db,
        progress: &indicatif::ProgressBar,
    ) -> Result<Vec<(String, u64)>> {
        progress.set_length(self.bytes);
        progress.set_position(0);
        let mut out = Vec::new();
        for s in &self.tables {
            let statement = format!(
                "COPY {} ({}) FROM STDIN",
                sql::ident(&s.table),
                sql::columns(&s.columns, None)
            );
            let n = db.copy_file(&statement, &s.path, progress).await?;
            out.push((s.table.clone(), n));
        }
        Ok(out)
    }
}
