//! Scale mode's I/O: the load-test stories of `pure::load` streamed to
//! PostgreSQL with COPY, parents first. A generator thread produces COPY data
//! while the connection sends it, through private spool files for the small
//! tables, so generating and loading overlap and memory stays flat whatever N is.
//! Tables whose columns all have a binary encoding go in COPY's binary format.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{ExitCode, Failure, Result};
use crate::io::db::Db;
use crate::pure::catalog::Catalog;
use crate::pure::copy_binary::{self, Binary};
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
    pub async fn stream(
        &self,
        db: &mut Db,
        catalog: &Catalog,
        progress: &indicatif::ProgressBar,
    ) -> Result<Summary> {
        let layout = self.generator.layout()?;
        let binary = Arc::new(self.binary_tables(catalog, &layout)?);
        let split = layout
            .iter()
            .position(|(t, _)| t == STREAMED)
            .unwrap_or(layout.len());
        let (before, after) = layout.split_at(split);
        let dir = SpoolDir::new()?;
        // Two passes over the stories, each counted in stories.
        progress.set_length(u64::from(self.stories));
        progress.set_message("copy: parents");

        // The server has nothing to do until the parents are spooled, so both
        // halves of the stories are generated at once, into files of their own.
        let names: Vec<String> = before.iter().map(|(t, _)| t.clone()).collect();
        let half = self.stories / 2;
        let halves = [(0, 1..=half), (1, half + 1..=self.stories)];
        let mut summary = Summary::default();
        let spooled: Vec<Result<Summary>> = std::thread::scope(|scope| {
            let threads: Vec<_> = halves
                .iter()
                .map(|(part, stories)| {
                    let (dir, names, binary) = (&dir, &names, &binary);
                    scope.spawn(move || -> Result<Summary> {
                        let mut sink = Sink::spooling(dir, *part, before, binary)?;
                        for n in stories.clone() {
                            sink.story(&self.story(n, Some(names))?, before)?;
                            progress.inc(1);
                        }
                        sink.finish()
                    })
                })
                .collect();
            threads.into_iter().map(|t| join(t.join())).collect()
        });
        for half in spooled {
            summary.merge(half?);
        }
        for (table, columns) in before {
            let parts = halves
                .iter()
                .map(|(part, _)| dir.path(table, *part))
                .collect();
            copy_file(db, table, columns, &binary, parts).await?;
        }

        progress.set_position(0);
        progress.set_message("copy: scenes and after");
        let spooled: Vec<(String, Vec<String>)> = after.iter().skip(1).cloned().collect();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
        let (source, bar, spool) = (self.clone(), progress.clone(), dir.clone());
        let streamed = after.first().cloned();
        let formats = binary.clone();
        let generator = std::thread::spawn(move || -> Result<Summary> {
            let mut sink = Sink::spooling(&spool, 0, &spooled, &formats)?;
            if let Some((table, columns)) = streamed {
                sink.stream_to(table, columns, tx);
            }
            for n in 1..=source.stories {
                sink.story(&source.story(n, None)?, &spooled)?;
                bar.inc(1);
            }
            sink.finish()
        });
        let copied = match after.first() {
            Some((table, columns)) => db
                .copy_in(&copy_statement(table, columns, &binary), &mut rx)
                .await
                .map(|_| ()),
            None => Ok(()),
        };
        drop(rx);
        let second = join(generator.join());
        // A failed COPY stopped the generator: its error is the one that matters.
        copied?;
        let second = second?;
        for (table, columns) in after.iter().skip(1) {
            copy_file(db, table, columns, &binary, vec![dir.path(table, 0)]).await?;
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

impl Source {
    /// The binary encodings of the tables in `layout` that have one, each
    /// checked against every row of the first story: the stories differ only
    /// in their generated text, so a column whose values fit there fits
    /// everywhere (and a table that does not fit is sent as text).
    fn binary_tables(
        &self,
        catalog: &Catalog,
        layout: &[(String, Vec<String>)],
    ) -> Result<BTreeMap<String, Binary>> {
        let first = self.story(1, None)?;
        let mut found = BTreeMap::new();
        for (table, columns) in layout {
            let Some(binary) = catalog
                .table(table)
                .and_then(|t| Binary::for_columns(t, columns))
            else {
                continue;
            };
            let rows = first.tables.iter().filter(|t| t.table == *table);
            let mut scratch = Vec::new();
            let fits = rows
                .flat_map(|t| &t.rows)
                .all(|row| binary.row(columns, &row.values, &mut scratch).is_ok());
            if fits {
                found.insert(table.clone(), binary);
            } else {
                tracing::debug!("{table}: some value needs PostgreSQL's text parser; COPY as text");
            }
        }
        Ok(found)
    }
}

fn copy_statement(table: &str, columns: &[String], binary: &BTreeMap<String, Binary>) -> String {
    format!(
        "COPY {} ({}) FROM STDIN{}",
        sql::ident(table),
        sql::columns(columns, None),
        if binary.contains_key(table) {
            " WITH (FORMAT binary)"
        } else {
            ""
        }
    )
}

/// A generator thread's result; a panic there is a bug, reported as one.
fn join<T>(joined: std::thread::Result<Result<T>>) -> Result<T> {
    joined.unwrap_or_else(|_| {
        Err(Failure::new(
            ExitCode::Database,
            "a scale generator thread panicked; nothing was committed; report this",
        ))
    })
}

/// COPYs spool files (rows only) into `table` as one COPY, read by a helper
/// thread into the connection, with the binary format's header and trailer
/// around them where the table uses it.
async fn copy_file(
    db: &mut Db,
    table: &str,
    columns: &[String],
    binary: &BTreeMap<String, Binary>,
    paths: Vec<PathBuf>,
) -> Result<()> {
    let statement = copy_statement(table, columns, binary);
    let framed = binary.contains_key(table);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let reader = std::thread::spawn(move || -> std::io::Result<()> {
        let send = |chunk: Vec<u8>| tx.blocking_send(chunk).is_ok();
        if framed && !send(copy_binary::HEADER.to_vec()) {
            return Ok(());
        }
        for path in paths {
            let mut file = File::open(path)?;
            loop {
                let mut chunk = vec![0u8; 1 << 20];
                let n = file.read(&mut chunk)?;
                if n == 0 {
                    break;
                }
                chunk.truncate(n);
                if !send(chunk) {
                    return Ok(());
                }
            }
        }
        if framed {
            send(copy_binary::TRAILER.to_vec());
        }
        Ok(())
    });
    let copied = db.copy_in(&statement, &mut rx).await;
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

    /// Part `part` of `table`'s rows.
    fn path(&self, table: &str, part: usize) -> PathBuf {
        self.0.path().join(format!("{table}.{part}.copy"))
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
    /// The tables written in COPY's binary format.
    binary: Arc<BTreeMap<String, Binary>>,
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
            binary: Arc::default(),
        }
    }

    fn spooling(
        dir: &SpoolDir,
        part: usize,
        tables: &[(String, Vec<String>)],
        binary: &Arc<BTreeMap<String, Binary>>,
    ) -> Result<Sink> {
        let mut sink = Sink {
            everything: false,
            binary: binary.clone(),
            ..Sink::counting()
        };
        for (table, _) in tables {
            let file = File::create(dir.path(table, part)).map_err(|e| spool_failure(&e))?;
            sink.files
                .insert(table.clone(), BufWriter::with_capacity(1 << 20, file));
        }
        Ok(sink)
    }

    /// Sends `table` to `tx` in chunks instead of spooling it.
    fn stream_to(
        &mut self,
        table: String,
        columns: Vec<String>,
        tx: tokio::sync::mpsc::Sender<Vec<u8>>,
    ) {
        if self.binary.contains_key(&table) {
            self.chunk.extend_from_slice(copy_binary::HEADER);
        }
        self.stream = Some((table, columns, tx));
    }

    /// Appends `row` of `table` in that table's format.
    fn encode(
        &self,
        table: &str,
        columns: &[String],
        row: &crate::pure::fixture::Row,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let Some(binary) = self.binary.get(table) else {
            copy_line(columns, row, out);
            return Ok(());
        };
        binary.row(columns, row, out).map_err(|what| {
            Failure::new(
                ExitCode::Database,
                format!("a load-test row of {table} does not fit COPY's binary format ({what}) though the first story's rows did; nothing was committed; report this with the seed file"),
            )
        })
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
                    let mut chunk = std::mem::take(&mut self.chunk);
                    let encoded = self.encode(&t.table, columns, &row.values, &mut chunk);
                    self.chunk = chunk;
                    encoded?;
                } else if let Some((name, columns)) = spooled {
                    line.clear();
                    self.encode(name, columns, &row.values, &mut line)?;
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
        if let Some((table, _, _)) = &self.stream
            && self.binary.contains_key(table)
        {
            self.chunk.extend_from_slice(copy_binary::TRAILER);
        }
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
