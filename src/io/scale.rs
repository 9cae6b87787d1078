//! Scale mode's I/O: the load-test stories of `pure::load` streamed to
//! PostgreSQL with COPY, parents first. A generator thread produces COPY text
//! while the connection sends it, through private spool files for the small
//! tables, so generating and loading overlap and memory stays flat whatever N is.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{ExitCode, Failure, Result};
use crate::io::db::Db;
use crate::pure::catalog::Catalog;
use crate::pure::fixture::{Accounts, Fixture};
use crate::pure::load::{self, Generator, STREAMED, Summary, copy_line, scene_hash};
use crate::pure::seedfile::SeedFile;
use crate::pure::sql;

/// A generator shared by the threads that produce COPY text.
#[derive(Clone)]
pub struct Source {
    generator: Arc<Generator>,
    pub stories: u32,
}

impl Source {
    pub fn new(file: &SeedFile, accounts: &Accounts, catalog: &Catalog, stories: u32) -> Source {
        Source {
            generator: Arc::new(Generator::new(file, accounts, catalog)),
            stories,
        }
    }

    fn story(&self, n: u32, tables: Option<&[String]>) -> Result<Fixture> {
        self.generator.story(n, tables)
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
        let layout = self.generator.layout()?;
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
        // Fresh statistics for what was just written: without them the next
        // run's reads (verify --scale, teardown) are planned for empty tables
        // and can take minutes until autovacuum catches up. The default
        // sample, as autovacuum would take: these tables are the app's too,
        // and its plans on a shared database rely on these statistics.
        let tables: Vec<String> = layout.iter().map(|(t, _)| sql::ident(t)).collect();
        db.batch(format!("ANALYZE {}", tables.join(", ")), 1)
            .await?;
        summary.merge(second);
        Ok(summary)
    }
}

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

/// What the database holds of the scale data owned by `account`.
pub async fn read_state(db: &mut Db, account: &str) -> Result<Summary> {
    let v = db.json(load::state_query(account), 1).await?;
    load::parse_state(v).map_err(|what| crate::error::unexpected(&db.shown, &what))
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
