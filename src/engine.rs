//! The steps every command shares: load the seed file, connect, read the
//! catalog and the fixture's accounts in one round trip, build and fit the
//! fixture, open the (locked or read-only) transaction, and drop cache keys.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::config::Config;
use crate::error::{ExitCode, Failure, Result};
use crate::io::cache::Cache;
use crate::io::db::{Db, Limits, users_query};
use crate::io::hint::{self, Hint};
use crate::io::sweep::Swept;
use crate::io::walk::Ahead;
use crate::pure::catalog::Catalog;
use crate::pure::credentials::Credentials;
use crate::pure::dependents::{Doomed, Mode, Walker};
use crate::pure::families::Families;
use crate::pure::fit::{self, Fit};
use crate::pure::fixture::{self, Account, Fixture, Tag};
use crate::pure::seedfile::SeedFile;
use crate::pure::snapshot::{self, Snapshot};
use crate::report::Report;
use crate::settings::Servers;

/// Every run of every command serialises on this one transaction-scoped lock,
/// which (unlike a session lock) survives a transaction pooler such as Neon's.
const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended('fictures-seed/fixture', 0))";

/// What a run's transaction may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A read-only snapshot, no lock: verify, doctor, dry runs.
    Read,
    /// Writes under the fixture lock, with bounded waits: seed, teardown.
    Write,
}

impl Access {
    /// Writes unless it is a dry run.
    pub fn unless_dry_run(dry_run: bool) -> Access {
        if dry_run { Access::Read } else { Access::Write }
    }
}

/// How to treat an adopted account that does not exist (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adoption {
    /// Seeding needs it: stop with an error.
    Strict,
    /// Reading or removing: carry on; nothing of it can be there.
    Lenient,
}

/// A connected run: the connection, the catalog it read, the fitted
/// fixture and what it was built from.
pub struct Session {
    pub db: Db,
    pub catalog: Catalog,
    pub fixture: Fixture,
    pub file: SeedFile,
    /// The passwords and key secret the fixture was built with.
    pub credentials: Credentials,
    pub notes: Vec<String>,
    /// The catalog and accounts came from a hint, which the transaction's
    /// first batch confirms.
    unconfirmed: Option<Unconfirmed>,
}

/// A remembered catalog and accounts, and the emails to read them again with.
struct Unconfirmed {
    hint: Hint,
    emails: Vec<String>,
    /// The hint's file name comes from these.
    queries: String,
    adoption: Adoption,
}

/// What a command is about to write to, which the target guard checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// Nothing: reads and dry runs go anywhere.
    Nothing,
    /// Only the app's cache (`invalidate`).
    Cache,
    /// The database and the cache (`seed`, `teardown`).
    Everything,
}

/// The start every fixture command shares: resolve the servers, apply the
/// guard to what the command writes, start connecting Redis, then connect
/// PostgreSQL and build and fit the fixture. The command waits for Redis
/// ([`Connecting::ready`]) only before it writes or reads the cache, so
/// Redis' handshake overlaps PostgreSQL's reads instead of delaying them.
pub async fn start(
    g: &Config,
    file: SeedFile,
    no_cache: bool,
    writes: Writes,
    adoption: Adoption,
    scale: u32,
) -> Result<(Connecting, Session)> {
    let servers = Servers::resolve(g, no_cache)?;
    if writes != Writes::Nothing {
        servers.guard(g, writes == Writes::Everything)?;
    }
    let cache = Connecting::spawn(g, &servers);
    match open(g, &servers, file, adoption, scale).await {
        Ok(session) => Ok((cache, session)),
        // A dead cache is the first thing to fix when both are down.
        Err(failure) => Err(cache.ready().await.err().unwrap_or(failure)),
    }
}

/// Redis connecting in the background (none with --no-cache).
pub struct Connecting(Option<tokio::task::JoinHandle<Result<Cache>>>);

impl Connecting {
    fn spawn(g: &Config, targets: &Servers) -> Connecting {
        Connecting(targets.redis.clone().map(|url| {
            let ca = g.redis_ca_cert.clone();
            let (timeout, attempts) = (g.connect_timeout, g.connect_attempts);
            tokio::spawn(
                async move { Cache::connect(&url, ca.as_deref(), timeout, attempts).await },
            )
        }))
    }

    /// The connection, once up. Writing commands call this before their
    /// first write, so a dead cache stops them with nothing written.
    pub async fn ready(self) -> Result<Option<Cache>> {
        let Some(task) = self.0 else {
            return Ok(None);
        };
        match task.await {
            Ok(connected) => connected.map(Some),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

pub async fn open(
    g: &Config,
    targets: &Servers,
    file: SeedFile,
    adoption: Adoption,
    scale: u32,
) -> Result<Session> {
    let (mut target, fit) = inspect(g, targets, file, adoption, scale).await?;
    if let Some(failure) = fit.failure() {
        return Err(failure.unconfirmed(target.unconfirmed.is_some()));
    }
    target.notes.extend(fit.notes());
    Ok(target)
}

/// Connects, reads the catalog and the accounts, and builds and fits the
/// fixture, returning what fitting found instead of failing on it.
pub async fn inspect(
    g: &Config,
    targets: &Servers,
    file: SeedFile,
    adoption: Adoption,
    scale: u32,
) -> Result<(Session, Fit)> {
    let started = std::time::Instant::now();
    let mut emails: Vec<String> = file
        .accounts
        .values()
        .filter_map(|a| {
            a.get_ref()
                .email
                .clone()
                .or(a.get_ref().adopt_email.clone())
        })
        .collect();
    emails.sort();
    let queries = format!(
        "{}; {}; {}",
        crate::pure::catalog::VERSION,
        crate::pure::catalog::QUERY,
        users_query(&emails)
    );
    // With a remembered catalog nothing up to the first batch needs the
    // server, so the fixture is built on another core while the connection's
    // round trips run.
    let early = {
        let (database, queries) = (targets.database.clone(), queries.clone());
        let use_hint = g.catalog_hint;
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let remembered = use_hint
                .then(|| hint::load(&crate::pure::redact::url(&database), &queries))
                .flatten()
                .and_then(|h| Some((Catalog::from_json(&h.catalog).ok()?, h)))
                .map(|(catalog, hint)| {
                    let how = "remembered, to be confirmed with the state";
                    catalog_step(&catalog, how, started);
                    let built = prepare(&file, &catalog, &hint.users, adoption, scale);
                    (catalog, hint, built)
                });
            (file, remembered)
        })
    };
    let connected = Db::connect(
        &targets.database,
        Limits {
            connect: g.connect_timeout,
            attempts: g.connect_attempts,
        },
    )
    .await;
    if let Ok(db) = &connected {
        crate::steps::done("connect", &format!("PostgreSQL at {}", db.shown), started);
    }
    let (file, remembered) = match early.await {
        Ok(done) => done,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    let mut db = connected?;
    let (catalog, unconfirmed, prepared) = match remembered {
        Some((catalog, hint, built)) => {
            let unconfirmed = Unconfirmed {
                hint,
                emails,
                queries,
                adoption,
            };
            (catalog, Some(unconfirmed), built)
        }
        None => {
            let started = std::time::Instant::now();
            let read = db.catalog_and_users(&emails).await?;
            let hint = Hint {
                catalog: read.raw,
                version: read.version,
                users: read.users.clone(),
            };
            hint::store(&db.shown, &queries, &hint);
            catalog_step(&read.catalog, "and the accounts", started);
            let built = prepare(&file, &read.catalog, &read.users, adoption, scale);
            (read.catalog, None, built)
        }
    };
    let Prepared {
        fixture,
        fit,
        credentials,
        notes,
    } = prepared.map_err(|f| f.unconfirmed(unconfirmed.is_some()))?;
    let target = Session {
        db,
        catalog,
        fixture,
        file,
        credentials,
        notes,
        unconfirmed,
    };
    Ok((target, fit))
}

fn catalog_step(catalog: &Catalog, how: &str, started: std::time::Instant) {
    crate::steps::done(
        "catalog",
        &format!(
            "{} tables, {} foreign keys, {how}",
            catalog.tables.len(),
            catalog.foreign_keys.len()
        ),
        started,
    );
}

/// The fixture built for one catalog and the users it found, fitted.
struct Prepared {
    fixture: Fixture,
    fit: Fit,
    credentials: Credentials,
    notes: Vec<String>,
}

fn prepare(
    file: &SeedFile,
    catalog: &Catalog,
    users: &Value,
    adoption: Adoption,
    scale: u32,
) -> Result<Prepared> {
    let started = std::time::Instant::now();
    let mut notes = Vec::new();
    let accounts = resolve_accounts(file, users, adoption, &mut notes)?;
    // Its notes (a password variable not set) concern only seed and auth,
    // which add them to their own reports.
    let credentials = crate::settings::credentials(file);
    let mut fixture = fixture::build(file, &accounts, scale, &credentials);
    let fit = fit::fit(&mut fixture, catalog);
    let rows: usize = fixture.tables.iter().map(|t| t.rows.len()).sum();
    crate::steps::done("fixture", &format!("{rows} rows built and fitted"), started);
    Ok(Prepared {
        fixture,
        fit,
        credentials,
        notes,
    })
}

/// Matches the file's accounts with the users table: adopted ones by email,
/// and created ones checked against a different account holding their email.
fn resolve_accounts(
    file: &SeedFile,
    users: &Value,
    adoption: Adoption,
    notes: &mut Vec<String>,
) -> Result<fixture::Accounts> {
    let by_email = |email: &str| -> Vec<String> {
        users
            .as_array()
            .into_iter()
            .flatten()
            .filter(|u| u["email"] == email)
            .filter_map(|u| u["id"].as_str().map(String::from))
            .collect()
    };
    let mut accounts = fixture::created_accounts(file);
    for (key, spec) in &file.accounts {
        let spec = spec.get_ref();
        if let (Some(id), Some(email)) = (&spec.id, &spec.email) {
            let others: Vec<String> = by_email(email)
                .into_iter()
                .filter(|o| o != id.get_ref())
                .collect();
            if adoption == Adoption::Strict && !others.is_empty() {
                return Err(Failure::usage(format!(
                    "the users table already has an account with email {email} (id {}) that is not the fixture's {key} (id {}); adopt it with `adopt_email = \"{email}\"` under [accounts.{key}] in the seed file, or remove that account",
                    others.join(", "),
                    id.get_ref()
                )));
            }
        }
        let Some(email) = &spec.adopt_email else {
            continue;
        };
        let found = by_email(email);
        let id = match (found.as_slice(), adoption) {
            ([one], _) => one.clone(),
            ([], Adoption::Lenient) => {
                notes.push(format!("adopted account {email} ({key}) does not exist"));
                String::new()
            }
            ([], Adoption::Strict) => {
                return Err(Failure::usage(format!(
                    "accounts.{key} adopts {email}, but no account has that email; create it in the app first, or give the fixture its own {key} account in the seed file"
                )));
            }
            (many, _) => {
                return Err(Failure::usage(format!(
                    "accounts.{key} adopts {email}, but {} accounts have that email ({}); adoption needs exactly one, so remove the duplicates",
                    many.len(),
                    many.join(", ")
                )));
            }
        };
        accounts.insert(key.clone(), Account { id, adopted: true });
    }
    Ok(accounts)
}

impl Session {
    /// The catalog came from a hint that the first batch has yet to confirm.
    pub fn catalog_unconfirmed(&self) -> bool {
        self.unconfirmed.is_some()
    }

    /// Opens the transaction, reads the snapshot and walks from `walk_from`
    /// to the rows hanging off it. Writers take the fixture lock with
    /// bounded waits; readers get a read-only snapshot and take no lock. The
    /// walk's first two levels ride in the snapshot's batch, so a fixture
    /// with nothing else hanging off it is read in one round trip.
    pub async fn read(
        &mut self,
        g: &Config,
        access: Access,
        walk_from: &Fixture,
        mode: Mode,
    ) -> Result<(Snapshot, Doomed)> {
        let (state, ahead) = self.begin(g, access, walk_from).await?;
        let doomed =
            crate::io::walk::walk(&mut self.db, &self.catalog, walk_from, mode, ahead).await?;
        Ok((state, doomed))
    }

    /// Sweeps the load-test account's data inside the database (in the open
    /// write transaction), never taking adopted accounts; nothing without
    /// an account.
    pub async fn sweep_load_test(&mut self, mode: Mode) -> Result<Swept> {
        let account = self.file.scale.account_id();
        if account.is_empty() {
            return Ok(Swept::default());
        }
        let adopted = self.fixture.adopted_ids();
        let root = ("users", "id", account.as_str());
        crate::io::sweep::sweep(&mut self.db, &self.catalog, root, mode, adopted).await
    }

    async fn begin(
        &mut self,
        g: &Config,
        access: Access,
        walk_from: &Fixture,
    ) -> Result<(Snapshot, Ahead)> {
        let write = access == Access::Write;
        let started = std::time::Instant::now();
        // JIT compiling costs tens of milliseconds and the planner's row
        // guesses for json_to_recordset invite it; these statements
        // are small, so it never pays.
        let statement = format!(
            "SET LOCAL statement_timeout = {}; SET LOCAL jit = off",
            g.statement_timeout.as_millis()
        );
        // A remembered catalog is checked in this batch (its version, read
        // afresh), before the reads built from it: their answers count only
        // once it is confirmed.
        let check = self.unconfirmed.take();
        let mut reads: Vec<String> = Vec::new();
        if let Some(u) = &check {
            reads.push(crate::pure::catalog::VERSION.to_string());
            if !u.hint.users.is_null() {
                reads.push(users_query(&u.emails));
            }
        }
        reads.push(snapshot::query(
            &self.fixture,
            &self.catalog,
            &self.file.counter,
            !write,
        ));
        let walker = Walker {
            catalog: &self.catalog,
        };
        // Levels 0 and 1 in one statement where there is a level 1.
        let first = walker.first_level_query(walk_from);
        let roots = first
            .is_none()
            .then(|| walker.roots_query(walk_from))
            .flatten();
        reads.extend([&roots, &first].into_iter().flatten().cloned());
        let query = reads.join("; ");
        let sql = if write {
            format!(
                "BEGIN; SET LOCAL lock_timeout = {}; {statement}; {LOCK}; {query}",
                g.lock_timeout.as_millis()
            )
        } else {
            format!("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; {statement}; {query}")
        };
        let count = if write { 5 } else { 3 } + reads.len() as u64;
        let shown = self.db.shown.clone();
        let hinted = check.is_some();
        let answers = self
            .db
            .json_rows(sql, count, reads.len())
            .await
            .map_err(|f| {
                if f.code != ExitCode::LockTimeout {
                    // Reads built on a stale catalog fail in many ways (a
                    // dropped column, a narrower type, a new check), all
                    // before its version is read: whatever failed, a fresh
                    // catalog decides. A lost connection is not the
                    // catalog's doing, and is reported as it is.
                    let stale = hinted && f.code != ExitCode::Connect;
                    return f.unconfirmed(stale);
                }
                // The only lock this batch waits for is the fixture's advisory lock.
                Failure::new(
                    ExitCode::LockTimeout,
                    format!(
                        "another fictures-seed run holds the fixture lock on {shown}; nothing was written: wait for it to finish and run the command again, or raise --lock-timeout"
                    ),
                )
            })?;
        let mut answers = std::collections::VecDeque::from(answers);
        if let Some(u) = check {
            let version = answers.pop_front().unwrap_or(Value::Null);
            let users = if !u.hint.users.is_null() {
                answers.pop_front().unwrap_or(Value::Null)
            } else {
                Value::Null
            };
            // Other accounts (a teardown's, the app's sign-ups) only matter
            // when they change how the file's accounts resolve.
            let same_accounts = || {
                let mut notes = Vec::new();
                resolve_accounts(&self.file, &users, u.adoption, &mut notes)
                    .is_ok_and(|a| a == self.fixture.accounts)
            };
            if version != u.hint.version.as_str() || (users != u.hint.users && !same_accounts()) {
                return Err(Failure::schema(format!(
                    "the schema or the accounts of {shown} changed since this machine last read them; nothing was written: run the command again"
                ))
                .unconfirmed(true));
            }
            if users != u.hint.users {
                let hint = Hint { users, ..u.hint };
                hint::store(&shown, &u.queries, &hint);
            }
            crate::steps::done("catalog", "the remembered catalog is current", started);
        }
        let value = answers.pop_front().unwrap_or(Value::Null);
        let roots = roots.and_then(|_| answers.pop_front());
        let (roots, first) = match first.and_then(|_| answers.pop_front()) {
            Some(both) => {
                let (roots, first) = crate::pure::dependents::split_roots(both)
                    .map_err(|what| crate::error::unexpected(&shown, &what))?;
                (Some(roots), Some(first))
            }
            None => (roots, None),
        };
        let state = snapshot::parse(&self.fixture, &self.catalog, value)
            .map_err(|what| crate::error::unexpected(&shown, &what))?;
        let how = if write { "locked and read" } else { "read" };
        crate::steps::done("state", &format!("the fixture's rows {how}"), started);
        Ok((state, Ahead { roots, first }))
    }

    /// Runs `statements` (in the open transaction) in one round trip.
    pub async fn execute(&mut self, statements: Vec<String>) -> Result<Vec<(String, i64)>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let n = statements.len() as u64;
        self.db.counts(statements.join(";\n"), n).await
    }

    /// Runs `statements` and commits, all in one round trip.
    pub async fn commit(&mut self, statements: Vec<String>) -> Result<Vec<(String, i64)>> {
        let started = std::time::Instant::now();
        let n = statements.len() as u64 + 1;
        let mut sql = statements.join(";\n");
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        sql.push_str("COMMIT");
        crate::deadline::commit_sent();
        let shown = self.db.shown.clone();
        let counts = self.db.counts(sql, n).await.map_err(|f| {
            if f.code != ExitCode::Connect {
                return f;
            }
            // The COMMIT may have reached the server before the connection
            // dropped: nothing here can tell, so say so instead of guessing.
            Failure::new(
                ExitCode::Connect,
                format!(
                    "the connection to PostgreSQL at {shown} was lost while committing, so the changes may or may not be committed; run `fictures-seed verify` to see which and `fictures-seed invalidate` to clear the fixture's cache keys (running the command again is safe either way)"
                ),
            )
        })?;
        crate::steps::done("apply", &format!("{n} statements and COMMIT"), started);
        Ok(counts)
    }

    pub async fn rollback(&mut self) -> Result<()> {
        self.db.batch("ROLLBACK".into(), 1).await.map(|_| ())
    }

    /// The run's notes with the credentials' (a password variable not set),
    /// for the commands where passwords matter: seed and auth.
    pub fn notes_with_credentials(&self) -> Vec<String> {
        [&self.notes[..], &self.credentials.notes[..]].concat()
    }

    /// Fills the report's counters of work done.
    pub fn finish(&self, report: &mut Report, cache: Option<&Cache>, started: std::time::Instant) {
        report.statements = self.db.statements;
        report.round_trips = self.db.round_trips;
        report.redis_commands = cache.map_or(0, |c| c.commands);
        report.elapsed_ms = started.elapsed().as_millis();
    }

    /// Tags of every row of the fixture: the whole fixture's cache.
    pub fn all_tags(&self) -> BTreeSet<Tag> {
        self.fixture
            .tables
            .iter()
            .flat_map(|t| t.rows.iter().flat_map(|r| r.tags.iter().cloned()))
            .collect()
    }
}

/// What dropping cache keys is part of, which decides whether they go and
/// what a Redis failure means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyDrop {
    /// A dry run: the keys are only listed.
    List,
    /// `invalidate`: nothing was written to the database.
    Only,
    /// After a COMMIT: a failure leaves the committed data with a stale cache.
    AfterCommit,
}

impl KeyDrop {
    /// After a writing command's COMMIT, or a listing on its dry run.
    pub fn after(dry_run: bool) -> KeyDrop {
        if dry_run {
            KeyDrop::List
        } else {
            KeyDrop::AfterCommit
        }
    }
}

/// Removes (or, with [`KeyDrop::List`], lists) the cache keys of `tags`.
pub async fn drop_keys(
    cache: Option<&mut Cache>,
    tags: &BTreeSet<Tag>,
    how: KeyDrop,
    report: &mut Report,
) -> Result<()> {
    let dry_run = how == KeyDrop::List;
    let line = report.cache.get_or_insert_with(Default::default);
    let Some(cache) = cache else {
        line.skipped = true;
        return Ok(());
    };
    let families = Families::of(tags);
    let started = std::time::Instant::now();
    let outcome = async {
        if dry_run {
            cache.find(&families).await
        } else {
            cache.drop(&families).await
        }
    }
    .await;
    match outcome {
        Ok(keys) => {
            let verb = if dry_run { "found" } else { "removed" };
            crate::steps::done("cache", &format!("{} keys {verb}", keys.len()), started);
            line.removed = keys.len();
            if dry_run || tracing::enabled!(tracing::Level::DEBUG) {
                line.keys = keys;
            }
            Ok(())
        }
        Err(e) if how == KeyDrop::AfterCommit => Err(Failure::new(
            ExitCode::CacheAfterCommit,
            format!(
                "the database changes are committed, but removing the fixture's keys from Redis at {} failed: {}; the app's cache may be stale, so run `fictures-seed invalidate` with the same options to clear only the fixture's keys",
                cache.shown, e
            ),
        )),
        Err(e) => Err(Failure::new(
            ExitCode::Connect,
            format!(
                "Redis at {} failed: {}; nothing was written; check Redis, or pass --no-cache",
                cache.shown, e
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_runs_read_and_list_while_real_runs_write_and_drop() {
        assert_eq!(Access::unless_dry_run(true), Access::Read);
        assert_eq!(Access::unless_dry_run(false), Access::Write);
        assert_eq!(KeyDrop::after(true), KeyDrop::List);
        assert_eq!(KeyDrop::after(false), KeyDrop::AfterCommit);
    }
}
