//! The Postgres edge: connecting (with bounded retries), sending batches of
//! statements in one round trip over the simple query protocol, counting what
//! was sent, and turning driver errors into one-sentence failures.

use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};

use crate::error::{ExitCode, Failure, Result};
use crate::pure::catalog::Catalog;
use crate::pure::redact;
use crate::retry;

/// A single connection plus the counters `--json` reports.
pub struct Db {
    conn: PgConnection,
    /// The URL with its password replaced, for messages.
    pub shown: String,
    pub statements: u64,
    pub round_trips: u64,
}

/// Connection limits; the defaults suit a remote staging database.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connect: Duration,
    pub attempts: u32,
}

impl Db {
    /// Connects, retrying refused/reset connections with exponential backoff.
    pub async fn connect(url: &str, limits: Limits) -> Result<Db> {
        let shown = redact::url(url);
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| {
                Failure::usage(format!(
                    "database URL {shown} is not valid: {}; use postgres://user:password@host:port/database",
                    e
                ))
            })?
            .application_name("fictures-seed")
            // No named statements survive a transaction pooler; none are needed.
            .statement_cache_capacity(0)
            .disable_statement_logging();
        let connect = || async {
            match tokio::time::timeout(limits.connect, options.connect()).await {
                Ok(result) => result,
                Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {:?}", limits.connect),
                ))),
            }
        };
        match retry::connect(&shown, limits.attempts, transient, connect).await {
            Ok(conn) => Ok(Db {
                conn,
                shown,
                statements: 0,
                round_trips: 0,
            }),
            Err((error, made)) => Err(connect_failure(&shown, &error, made)),
        }
    }

    /// Sends `sql` (holding `statements` statements) in one round trip and
    /// returns every row every statement produced.
    pub async fn batch(&mut self, sql: String, statements: u64) -> Result<Vec<PgRow>> {
        self.statements += statements;
        self.round_trips += 1;
        tracing::trace!(target: "sql", "{}", truncate(&sql, 400));
        sqlx::raw_sql(AssertSqlSafe(sql))
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| self.failure(&e))
    }

    /// Runs `sql`, whose last row's first column is JSON text, and parses it.
    pub async fn json(&mut self, sql: impl Into<String>, statements: u64) -> Result<Value> {
        let mut rows = self.json_rows(sql.into(), statements, 1).await?;
        Ok(rows.pop().unwrap_or(Value::Null))
    }

    /// Runs `sql`, whose last `last` statements each answer one row of JSON
    /// text in its first column, and parses those rows, in order.
    pub async fn json_rows(
        &mut self,
        sql: String,
        statements: u64,
        last: usize,
    ) -> Result<Vec<Value>> {
        let texts = self.texts(sql, statements, last).await?;
        texts.iter().map(|t| self.parse(t.as_deref())).collect()
    }

    /// [`Db::json_rows`] before parsing: the text as the server sent it.
    async fn texts(
        &mut self,
        sql: String,
        statements: u64,
        last: usize,
    ) -> Result<Vec<Option<String>>> {
        let rows = self.batch(sql, statements).await?;
        rows[rows.len().saturating_sub(last)..]
            .iter()
            .map(|row| row.try_get(0).map_err(|e| self.failure(&e)))
            .collect()
    }

    fn parse(&self, text: Option<&str>) -> Result<Value> {
        match text {
            None => Ok(Value::Null),
            Some(t) => serde_json::from_str(t)
                .map_err(|_| crate::error::unexpected(&self.shown, "JSON that does not parse")),
        }
    }

    /// Labelled counts from statements built with `sql::counted`.
    pub async fn counts(&mut self, sql: String, statements: u64) -> Result<Vec<(String, i64)>> {
        let rows = self.batch(sql, statements).await?;
        let mut out = Vec::new();
        for row in rows {
            match (
                row.try_get::<String, _>("label"),
                row.try_get::<i64, _>("n"),
            ) {
                (Ok(label), Ok(n)) => out.push((label, n)),
                _ => {
                    return Err(crate::error::unexpected(
                        &self.shown,
                        "a row count without its label",
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Closes politely (Terminate, and TLS' close_notify) without waiting
    /// for the server's side of it: over TLS the polite close ends by reading
    /// the server's close_notify, a round trip that changes nothing once
    /// Terminate is sent. A dropped connection rolls back whatever was open.
    pub async fn close(self) {
        let _ = tokio::time::timeout(CLOSE_WAIT, self.conn.close()).await;
    }

    fn failure(&self, error: &sqlx::Error) -> Failure {
        query_failure(&self.shown, error)
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Refused, reset, timed out or not resolvable: worth another attempt.
fn transient(error: &sqlx::Error) -> bool {
    use std::io::ErrorKind::*;
    match error {
        sqlx::Error::Io(io) => {
            matches!(
                io.kind(),
                ConnectionRefused
                    | ConnectionReset
                    | ConnectionAborted
                    | TimedOut
                    | NotConnected
                    | BrokenPipe
                    | UnexpectedEof
                    | Interrupted
            ) || io.to_string().contains("failed to lookup address")
        }
        sqlx::Error::Database(db) => db.code().as_deref() == Some("57P03"),
        _ => false,
    }
}

fn connect_failure(shown: &str, error: &sqlx::Error, attempts: u32) -> Failure {
    let detail = error.to_string();
    let code = sqlstate(error);
    let (exit, advice) = match code.as_deref() {
        Some("28P01") | Some("28000") => (
            ExitCode::Connect,
            "check the user name and password in the database URL",
        ),
        Some("3D000") => (
            ExitCode::Connect,
            "the database does not exist: create it, or fix the database name in the URL",
        ),
        _ if detail.contains("UnknownIssuer") || detail.contains("unknown issuer") => (
            ExitCode::Connect,
            "the server's certificate is not signed by a CA this machine trusts: name that CA's PEM file with sslrootcert=PATH in the database URL",
        ),
        _ => (
            ExitCode::Connect,
            "check that the server runs and the host, port and TLS settings are right",
        ),
    };
    let tries = retry::attempts_note(attempts);
    Failure::new(
        exit,
        format!("cannot connect to PostgreSQL at {shown}{tries}: {detail}; {advice}"),
    )
}

pub fn sqlstate(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) => db.code().map(|c| c.to_string()),
        _ => None,
    }
}

/// A failure for an error while running statements on an open connection.
/// Only errors a second attempt can get past (a lost connection, a
/// serialization failure, a deadlock, a lock wait, a server restarting) say to
/// run the command again; the rest would fail the same way.
pub fn query_failure(shown: &str, error: &sqlx::Error) -> Failure {
    let detail = match error {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    };
    let code = sqlstate(error);
    if let Some(code) = &code {
        tracing::debug!("PostgreSQL at {shown} answered SQLSTATE {code}: {detail}");
    }
    let (exit, advice) = match code.as_deref() {
        Some("55P03") => (
            ExitCode::LockTimeout,
            "another session (the app, a test, or a manual transaction) holds a lock on rows or tables the fixture writes; nothing was committed: wait for it to finish and run the command again, or raise --lock-timeout",
        ),
        Some("57014") => (
            ExitCode::Database,
            "a statement ran past --statement-timeout; raise it or check the server's load",
        ),
        Some("40001") | Some("40P01") => (
            ExitCode::Database,
            "the transaction met a concurrent one (serialization failure or deadlock) and was rolled back, so nothing was written; run the command again",
        ),
        Some(c) if c.starts_with("08") || c.starts_with("57P") || c == "53300" => (
            ExitCode::Connect,
            "the server dropped or refused the session; the transaction was rolled back, so run the command again",
        ),
        Some("25006") | Some("42501") => (
            ExitCode::Database,
            "the database role may not write here; connect as a role that can insert and delete",
        ),
        Some(c) if c.starts_with("42") || c == "22P02" => (
            ExitCode::Schema,
            "the database schema differs from what the seed file expects; nothing was committed; run `fictures-seed doctor` to see where",
        ),
        Some("23505") => (
            ExitCode::Database,
            "a row outside the fixture conflicts with it; nothing was committed, and running the command again would fail the same way until that row is changed",
        ),
        Some(c) if c.starts_with("23") => (
            ExitCode::Database,
            "a constraint of this database rejects a value or a delete of the fixture; nothing was committed, and running the command again would fail the same way: run `fictures-seed doctor`, and adjust the seed file or the constraint",
        ),
        Some(c) if c.starts_with("54") => (
            ExitCode::Database,
            "a PostgreSQL limit was exceeded, so running the command again would fail the same way; nothing was committed; report this with the output of `-vv`",
        ),
        None if matches!(
            error,
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_)
        ) =>
        {
            (
                ExitCode::Connect,
                "the connection was lost; the transaction was rolled back, so run the command again",
            )
        }
        _ => (
            ExitCode::Database,
            "nothing was committed, and running the command again would fail the same way; run `fictures-seed doctor`, and report this with the output of `-v` if it finds nothing",
        ),
    };
    Failure::new(
        exit,
        format!("PostgreSQL at {shown} failed: {detail}; {advice}"),
    )
}

/// The `users` rows with `emails`, as `{id, email}` objects in id order.
pub fn users_query(emails: &[String]) -> String {
    format!(
        "SELECT coalesce(json_agg(json_build_object('id', id, 'email', email) ORDER BY id), '[]')::text \
         FROM users WHERE email IN (SELECT json_array_elements_text({}))",
        crate::pure::sql::json(&Value::from(emails.to_vec()))
    )
}

/// How long closing waits for the server's side: enough for a local server
/// to finish the polite close, and far less than a remote round trip.
const CLOSE_WAIT: Duration = Duration::from_millis(10);

/// The catalog as read: its answer, its version (see
/// [`crate::pure::catalog::VERSION`]), the catalog, and the accounts (`null`
/// without a users table).
pub struct CatalogRead {
    pub raw: Value,
    pub version: String,
    pub catalog: Catalog,
    pub users: Value,
}

impl Db {
    /// Reads the catalog and the `users` rows with `emails` (see
    /// [`users_query`]) in one round trip. Without a `users` table that
    /// batch fails, and the catalog is read alone: there are no accounts.
    pub async fn catalog_and_users(&mut self, emails: &[String]) -> Result<CatalogRead> {
        use crate::pure::catalog::{QUERY, VERSION};
        let users = users_query(emails);
        // One statement, so the version and the catalog come from one
        // snapshot: a stamp newer than the catalog would confirm it wrongly.
        let both = format!("SELECT ({VERSION}), ({QUERY})");
        let (row, found) = match self.batch(format!("{both}; {users}"), 2).await {
            Ok(mut rows) if rows.len() == 2 => {
                let found: Option<String> = rows[1].try_get(0).map_err(|e| self.failure(&e))?;
                (rows.swap_remove(0), Some(self.parse(found.as_deref())?))
            }
            // Read apart, each failure is its own: no table means no
            // accounts, while a users table that cannot be read stops the run.
            _ => {
                let mut rows = self.batch(both, 1).await?;
                let row = rows.pop().ok_or_else(|| {
                    crate::error::unexpected(&self.shown, "no row for the catalog")
                })?;
                (row, None)
            }
        };
        let text =
            |i: usize| -> Result<Option<String>> { row.try_get(i).map_err(|e| self.failure(&e)) };
        let version = self.parse(text(0)?.as_deref())?;
        let text = text(1)?;
        let raw = self.parse(text.as_deref())?;
        let catalog = Catalog::from_json(&raw)?;
        // The table the catalog knows as `users`, not one further down the search path.
        let users = match found {
            _ if catalog.table("users").is_none() => Value::Null,
            Some(found) => found,
            None => self.json(users, 1).await?,
        };
        Ok(CatalogRead {
            raw,
            version: version.as_str().unwrap_or_default().to_string(),
            catalog,
            users,
        })
    }

    /// Versions already recorded in sqlx's `_sqlx_migrations` table.
    pub async fn applied_migrations(&mut self) -> Result<Vec<i64>> {
        // The table may not exist yet, and a query naming it would not parse.
        let exists = self
            .json(
                "SELECT (to_regclass('_sqlx_migrations') IS NOT NULL)::text",
                1,
            )
            .await?;
        if exists != serde_json::Value::Bool(true) {
            return Ok(Vec::new());
        }
        let value = self
            .json(
                "SELECT coalesce(json_agg(version), '[]')::text FROM _sqlx_migrations WHERE success",
                1,
            )
            .await?;
        Ok(value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_i64)
            .collect())
    }

    /// Applies pending embedded migrations (sqlx's own runner and bookkeeping).
    pub async fn migrate(&mut self, migrator: &sqlx::migrate::Migrator) -> Result<()> {
        let shown = self.shown.clone();
        migrator.run(&mut self.conn).await.map_err(|e| {
            Failure::new(
                ExitCode::Schema,
                format!(
                    "migrating the database at {shown} failed: {}; fix the database or the migration and run again",
                    e
                ),
            )
        })
    }
}

impl Db {
    /// Runs a `COPY … FROM STDIN`, sending every chunk that arrives on `rx`
    /// until its sender is done. Returns the rows copied.
    pub async fn copy_in(
        &mut self,
        statement: &str,
        rx: &mut tokio::sync::mpsc::Receiver<Vec<u8>>,
    ) -> Result<u64> {
        self.statements += 1;
        self.round_trips += 1;
        tracing::trace!(target: "sql", "{statement}");
        let shown = self.shown.clone();
        let fail = |e: &sqlx::Error| query_failure(&shown, e);
        let mut copy = self
            .conn
            .copy_in_raw(statement)
            .await
            .map_err(|e| fail(&e))?;
        while let Some(chunk) = rx.recv().await {
            copy.send(chunk).await.map_err(|e| fail(&e))?;
        }
        copy.finish().await.map_err(|e| fail(&e))
    }
}
