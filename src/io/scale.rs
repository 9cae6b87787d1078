//! Scale mode: N load-test stories of the fixture's shape, streamed to
//! PostgreSQL with COPY, one table per pass in parents-first order. A
//! generator thread produces each table's COPY text while the connection
//! sends it, so generating and loading overlap, and memory stays flat
//! whatever N is. An order-independent checksum of the scenes lets `seed`
//! skip data that is already exact and `verify` check content cheaply.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{ExitCode, Failure, Result};
use crate::io::db::Db;
use crate::pure::catalog::Catalog;
use crate::pure::fit;
use crate::pure::fixture::{self, Accounts, Fixture};
use crate::pure::seedfile::SeedFile;
use crate::pure::sql;

/// What scale mode writes, or what the database holds of it.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Rows per table.
    pub rows: BTreeMap<String, u64>,
    /// Sum of 60-bit prefixes of each scene's SHA-256 (id, title, content).
    pub checksum: String,
    /// Bytes of COPY text (not part of the comparison's meaning, always 0 from the database).
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

/// Everything a generator thread needs, shared without borrowing.
#[derive(Clone)]
pub struct Source {
    file: Arc<SeedFile>,
    accounts: Arc<Accounts>,
    catalog: Arc<Catalog>,
    pub stories: u32,
}

impl Source {
    pub fn new(file: &SeedFile, accounts: &Accounts, catalog: &Catalog, stories: u32) -> Source {
        Source {
            file: Arc::new(file.clone()),
            accounts: Arc::new(accounts.clone()),
            catalog: Arc::new(catalog.clone()),
            stories,
        }
    }

    /// Story `n`, fitted to the catalog like the fixture (only `tables` complete when given).
    fn story(&self, n: u32, tables: Option<&[String]>) -> Result<Fixture> {
        let mut story = fixture::scale_story(&self.file, &self.accounts, n, tables);
        match fit::fit(&mut story, &self.catalog).failure() {
            Some(f) => Err(f),
            None => Ok(story),
        }
    }

    /// The tables a story fills, parents first, with their columns.
    fn layout(&self) -> Result<Vec<(String, Vec<String>)>> {
        let first = self.story(1, None)?;
        Ok(first
            .tables
            .iter()
            .filter(|t| !t.rows.is_empty())
            .map(|t| (t.table.clone(), t.columns()))
            .collect())
    }

    /// Counts and checksum of all the data, generated without writing anything.
    pub fn expected(&self, progress: &indicatif::ProgressBar) -> Result<Summary> {
        progress.set_length(u64::from(self.stories));
        let mut sink = Sink::counting();
        for n in 1..=self.stories {
            sink.story(&self.story(n, None)?, &[])?;
            progress.inc(1);
        }
        sink.finish()
    }

    /// COPYs everything in two generation passes. Scenes hold nearly all the
    /// text, so the tables before them (stories, chapters, entities: cheap
    /// without scene prose) are generated first and copied from small spool
    /// files; then one full pass streams scenes straight into COPY while the
    /// tables after them spool, and those are copied last.
    pub async fn stream(&self, db: &mut Db, progress: &indicatif::ProgressBar) -> Result<Summary> {
        let layout = self.layout()?;
        let split = layout
            .iter()
            .position(|(t, _)| t == STREAMED)
            .unwrap_or(layout.len());
        let (before, after) = layout.split_at(split);
        let dir = SpoolDir::new()?;
        // Two passes over the stories, each counted in stories.
        progress.set_length(u64::from(self.stories));
        progress.set_message("copy: parents");

        let names: Vec<String> = before.iter().map(|(t, _)| t.clone()).collect();
        let mut first = Sink::spooling(&dir, before)?;
        for n in 1..=self.stories {
            first.story(&self.story(n, Some(&names))?, before)?;
            progress.inc(1);
        }
        let mut summary = first.finish()?;
        for (table, columns) in before {
            copy_file(db, table, columns, &dir.path(table)).await?;
        }

        progress.set_position(0);
        progress.set_message("copy: scenes and after");
        let spooled: Vec<(String, Vec<String>)> = after.iter().skip(1).cloned().collect();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
        let (source, bar, spool) = (self.clone(), progress.clone(), dir.clone());
        let streamed = after.first().cloned();
        let generator = std::thread::spawn(move || -> Result<Summary> {
            let mut sink = Sink::spooling(&spool, &spooled)?;
            sink.stream = streamed.map(|(t, c)| (t, c, tx));
            for n in 1..=source.stories {
                sink.story(&source.story(n, None)?, &spooled)?;
                bar.inc(1);
            }
            sink.finish()
        });
        let copied = match after.first() {
            Some((table, columns)) => db
                .copy_in(&copy_statement(table, columns), &mut rx)
                .await
                .map(|_| ()),
            None => Ok(()),
        };
        drop(rx);
        let second = generator.join().unwrap_or_else(|_| {
            Err(Failure::new(
                ExitCode::Database,
                "the scale generator thread panicked; report this",
            ))
        });
        // A failed COPY stopped the generator: its error is the one that matters.
        copied?;
        let second = second?;
        for (table, columns) in after.iter().skip(1) {
            copy_file(db, table, columns, &dir.path(table)).await?;
        }
        summary.merge(second);
        Ok(summary)
    }
}

/// The table streamed straight into COPY: the one holding nearly all the text.
const STREAMED: &str = "scenes";

fn copy_statement(table: &str, columns: &[String]) -> String {
    format!(
        "COPY {} ({}) FROM STDIN",
        sql::ident(table),
        sql::columns(columns, None)
    )
}

/// COPYs a spool file, read by a helper thread into the connection.
async fn copy_file(db: &mut Db, table: &str, columns: &[String], path: &Path) -> Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let path = path.to_path_buf();
    let reader = std::thread::spawn(move || -> std::io::Result<()> {
        let mut file = File::open(path)?;
        loop {
            let mut chunk = vec![0u8; 1 << 20];
            let n = file.read(&mut chunk)?;
            if n == 0 || {
                chunk.truncate(n);
                tx.blocking_send(chunk).is_err()
            } {
                return Ok(());
            }
        }
    });
    let copied = db.copy_in(&copy_statement(table, columns), &mut rx).await;
    drop(rx);
    reader
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("reader thread panicked")))
        .map_err(|e| spool_failure(&e))?;
    copied.map(|_| ())
}

/// A private scratch directory (mode 0700, unpredictable name, created
/// fresh, so no symlink or other user's directory is followed), removed when
/// the last handle goes and by the watchdog if the run is cut short.
#[derive(Clone)]
struct SpoolDir(Arc<tempfile::TempDir>);

impl SpoolDir {
    fn new() -> Result<SpoolDir> {
        let dir = tempfile::Builder::new()
            .prefix("fictures-seed-scale-")
            .tempdir()
            .map_err(|e| spool_failure(&e))?;
        crate::deadline::register_scratch(dir.path());
        Ok(SpoolDir(Arc::new(dir)))
    }

    fn path(&self, table: &str) -> PathBuf {
        self.0.path().join(format!("{table}.copy"))
    }
}

impl Drop for SpoolDir {
    fn drop(&mut self) {
        // The TempDir itself removes the directory once the last handle drops.
        if Arc::strong_count(&self.0) == 1 {
            crate::deadline::forget_scratch(self.0.path());
        }
    }
}

fn spool_failure(e: &std::io::Error) -> Failure {
    Failure::new(
        ExitCode::Io,
        format!(
            "cannot use scale spool files in {}: {e}; free disk space or set TMPDIR",
            std::env::temp_dir().display()
        ),
    )
}

/// Where generated rows go: counted always, written to spool files for the
/// tables given, and one table optionally streamed to a channel.
struct Sink {
    /// Count (and checksum) every table: the `expected` pass.
    everything: bool,
    summary: Summary,
    sum: u128,
    files: BTreeMap<String, BufWriter<File>>,
    stream: Option<(String, Vec<String>, tokio::sync::mpsc::Sender<Vec<u8>>)>,
    chunk: Vec<u8>,
}

impl Sink {
    fn counting() -> Sink {
        Sink {
            everything: true,
            summary: Summary::default(),
            sum: 0,
            files: BTreeMap::new(),
            stream: None,
            chunk: Vec::new(),
        }
    }

    fn spooling(dir: &SpoolDir, tables: &[(String, Vec<String>)]) -> Result<Sink> {
        let mut sink = Sink {
            everything: false,
            ..Sink::counting()
        };
        for (table, _) in tables {
            let file = File::create(dir.path(table)).map_err(|e| spool_failure(&e))?;
            sink.files
                .insert(table.clone(), BufWriter::with_capacity(1 << 20, file));
        }
        Ok(sink)
    }

    /// Takes one story's rows: every table is counted; `layout`'s tables are
    /// spooled with their columns; the streamed table is sent in ~1 MiB chunks.
    fn story(&mut self, story: &Fixture, layout: &[(String, Vec<String>)]) -> Result<()> {
        let mut line = Vec::new();
        for t in story.tables.iter().filter(|t| !t.rows.is_empty()) {
            let streamed = self.stream.as_ref().is_some_and(|(s, _, _)| *s == t.table);
            let spooled = layout.iter().find(|(name, _)| *name == t.table);
            if self.everything || streamed || spooled.is_some() {
                *self.summary.rows.entry(t.table.clone()).or_default() += t.rows.len() as u64;
            }
            for row in &t.rows {
                if t.table == STREAMED && (streamed || self.everything) {
                    self.sum += scene_hash(&row.values);
                }
                if streamed {
                    let columns = &self.stream.as_ref().expect("streamed").1;
                    copy_line(columns, &row.values, &mut self.chunk);
                } else if let Some((name, columns)) = spooled {
                    line.clear();
                    copy_line(columns, &row.values, &mut line);
                    self.summary.bytes += line.len() as u64;
                    let file = self
                        .files
                        .get_mut(name)
                        .expect("spool file per layout table");
                    file.write_all(&line).map_err(|e| spool_failure(&e))?;
                }
            }
        }
        if self.chunk.len() >= 1 << 20 {
            self.flush_chunk()?;
        }
        Ok(())
    }

    fn flush_chunk(&mut self) -> Result<()> {
        if let Some((_, _, tx)) = &self.stream
            && !self.chunk.is_empty()
        {
            self.summary.bytes += self.chunk.len() as u64;
            let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(1 << 20));
            // A closed receiver means the COPY failed: stop generating at once
            // (the COPY's own error is the one reported).
            if tx.blocking_send(chunk).is_err() {
                return Err(Failure::new(
                    ExitCode::Database,
                    "the COPY this generator fed has stopped",
                ));
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Summary> {
        self.flush_chunk()?;
        self.stream = None;
        for file in self.files.values_mut() {
            file.flush().map_err(|e| spool_failure(&e))?;
        }
        self.summary.checksum = self.sum.to_string();
        Ok(self.summary)
    }
}

impl Summary {
    fn merge(&mut self, other: Summary) {
        for (t, n) in other.rows {
            *self.rows.entry(t).or_default() += n;
        }
        let sum = self.checksum.parse::<u128>().unwrap_or(0)
            + other.checksum.parse::<u128>().unwrap_or(0);
        self.checksum = sum.to_string();
        self.bytes += other.bytes;
    }
}

/// One row in COPY's text format: tab-separated, `\N` for NULL, escaped.
fn copy_line(columns: &[String], row: &fixture::Row, out: &mut Vec<u8>) {
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
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
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
    let checksum = v["checksum"]
        .as_str()
        .filter(|c| c.parse::<u128>().is_ok())
        .ok_or_else(|| {
            crate::error::unexpected(&db.shown, "a load-test checksum that is not a number")
        })?;
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

/// The expected data for `n` load-test stories of `target`'s fixture, with a
/// progress bar on terminals (none for 0).
pub fn expected(
    g: &crate::config::Config,
    target: &crate::engine::Session,
    n: u32,
) -> Result<Option<(Source, Summary)>> {
    if n == 0 {
        return Ok(None);
    }
    let source = Source::new(&target.file, &target.fixture.accounts, &target.catalog, n);
    let bar = crate::progress::bar(g, "generate");
    let summary = source.expected(&bar)?;
    bar.finish_and_clear();
    Ok(Some((source, summary)))
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
}
