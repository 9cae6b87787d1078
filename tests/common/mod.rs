//! Test harness: real PostgreSQL and Redis from `scripts/stack.sh`. Each test
//! gets its own database, cloned from a template migrated by the tool itself,
//! and its own Redis logical database, so tests run in parallel in isolation.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

pub const STORY_1: &str = "LGAbU_uuQe56exjKNAQn3";
pub const STORY_2: &str = "E2d5Wt9opYf6y0midOc5r";
pub const STORY_3: &str = "H2d5lyQLC5qGxzG0YL322";
pub const WRITER: &str = "fxWriter0CacheTests01";
pub const READER: &str = "fxReader0CacheTests01";
/// The API-key secret every run gets unless a test overrides it (an empty
/// value means unset): the fixture's keys exist only where it is known.
pub const API_KEY_SECRET: &str = "key-secret-31415926";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where `scripts/test.sh` keeps the test stack's settings.
pub const STACK_ENV: &str = ".stack-test/env";

/// A setting of the stack `scripts/test.sh` started, read from its env file
/// only: never from the environment, where `REDIS_URL` or `DATABASE_URL` may
/// name the app's own servers, whose data the tests would flush.
pub fn stack_var(name: &str) -> String {
    let env = std::fs::read_to_string(repo().join(STACK_ENV)).unwrap_or_else(|_| {
        panic!("{STACK_ENV} is missing: run the tests with scripts/test.sh (it starts the test stack; KEEP_STACK=1 keeps it for `cargo test` afterwards)")
    });
    env.lines()
        .find_map(|l| l.strip_prefix(&format!("export {name}=")))
        .map(|v| v.trim_matches('\'').trim_matches('"').to_string())
        .unwrap_or_else(|| panic!("{name} is missing from {STACK_ENV}; run scripts/test.sh"))
}

fn with_database(url: &str, db: &str) -> String {
    let mut u = url::Url::parse(url).expect("stack URL parses");
    u.set_path(&format!("/{db}"));
    u.to_string()
}

/// psql against `url` with `args` (quiet, stopping at the first error),
/// fed `stdin` when given; the caller judges the outcome.
fn psql(url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql runs");
    let mut input = child.stdin.take().expect("piped stdin");
    let text = stdin.unwrap_or_default().to_string();
    // Written from a thread, so a long answer cannot stall a long script.
    let writer = std::thread::spawn(move || input.write_all(text.as_bytes()));
    let out = child.wait_with_output().expect("psql finishes");
    writer
        .join()
        .expect("the writer thread finishes")
        .expect("psql reads its input");
    out
}

/// A client's trimmed stdout, or a test failure showing its stderr.
fn succeeded(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .to_string()
}

/// psql against `url`: one statement per -c, unaligned tuples-only output.
pub fn psql_at(url: &str, sql: &str) -> String {
    succeeded(
        psql(url, &["-At", "-c", sql], None),
        &format!("psql ({sql})"),
    )
}

/// Name of a template migrated with the current migrations (hash of their text).
fn template() -> String {
    let mut files: Vec<_> = std::fs::read_dir(repo().join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut text = String::new();
    for f in files {
        text.push_str(&std::fs::read_to_string(f).unwrap());
    }
    let digest = format!("{:x}", md5_like(&text));
    let name = format!("fictures_tpl_{}", &digest[..12]);
    let admin = stack_var("STACK_PG_ADMIN_URL");
    let exists = psql_at(
        &admin,
        &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"),
    );
    if exists == "1" {
        return name;
    }
    // Build under a private name and rename: concurrent builders cannot collide.
    let building = unique(&format!("{name}_b"));
    psql_at(&admin, &format!("CREATE DATABASE {building}"));
    let out = Command::new(env!("CARGO_BIN_EXE_fictures-seed"))
        .args([
            "migrate",
            "--quiet",
            "--database-url",
            &with_database(&admin, &building),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let renamed = psql(
        &admin,
        &["-c", &format!("ALTER DATABASE {building} RENAME TO {name}")],
        None,
    );
    if !renamed.status.success() {
        psql_at(&admin, &format!("DROP DATABASE IF EXISTS {building}"));
    }
    name
}

/// A stable 64-bit FNV-1a hash (enough to name a template).
fn md5_like(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// `prefix` followed by a name nothing else of this run or of an earlier
/// one has (databases, roles, Redis users): the pid, the run's start and a
/// counter.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}{}_{}_{n}", std::process::id(), run_stamp())
}

/// This process's start, in seconds, for names that must not repeat across
/// runs: a later run reusing a pid would otherwise meet a database a killed
/// run left behind, or the catalog a finished run remembered for that name.
fn run_stamp() -> u64 {
    static STAMP: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *STAMP.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    })
}

/// Where the tests' runs remember catalogs (see `io::hint`).
pub fn hints() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("catalog-hints")
}

/// A logical database of the server at `base` that no other test of this
/// run holds: the tests of a binary run side by side.
fn logical_database(base: &str) -> String {
    let counter = Command::new("redis-cli")
        .args(["-u", base, "INCR", "fictures-seed-tests:next-db"])
        .output()
        .unwrap();
    let n: u32 = String::from_utf8_lossy(&counter.stdout)
        .trim()
        .parse()
        .expect("redis INCR answers");
    let mut redis = url::Url::parse(base).unwrap();
    redis.set_path(&format!("/{}", n % 255 + 1));
    redis.to_string()
}

/// One test's private database and Redis logical database.
pub struct TestEnv {
    pub name: String,
    pub db_url: String,
    pub redis_url: String,
    admin: String,
}

impl TestEnv {
    /// A fresh migrated database and an empty Redis database.
    pub fn new() -> TestEnv {
        Self::create(Some(template()), "REDIS_URL")
    }

    /// A fresh database without any tables, for schema variants.
    pub fn empty() -> TestEnv {
        Self::create(None, "REDIS_URL")
    }

    /// A fresh migrated database, with the stack's Valkey server
    /// (`scripts/stack.sh up --valkey`) as its Redis.
    pub fn on_valkey() -> TestEnv {
        Self::create(Some(template()), "VALKEY_URL")
    }

    /// `redis` names the stack setting of the server to take a logical
    /// database of.
    fn create(template: Option<String>, redis: &str) -> TestEnv {
        let admin = stack_var("STACK_PG_ADMIN_URL");
        let name = unique("t_");
        let from = template
            .map(|t| format!(" TEMPLATE {t}"))
            .unwrap_or_default();
        // A template in use by a concurrent CREATE DATABASE refuses briefly: retry.
        let mut attempt = 0;
        loop {
            let out = psql(
                &admin,
                &["-c", &format!("CREATE DATABASE {name}{from}")],
                None,
            );
            if out.status.success() {
                break;
            }
            attempt += 1;
            assert!(
                attempt < 50,
                "CREATE DATABASE failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let env = TestEnv {
            db_url: with_database(&admin, &name),
            redis_url: logical_database(&stack_var(redis)),
            name,
            admin,
        };
        env.redis(&["FLUSHDB"]);
        env
    }

    /// Runs the tool with this test's URLs and nothing else from the environment.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    pub fn run_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        self.run_in(&repo(), args, vars)
    }

    /// Runs the tool from `dir`, as a user elsewhere (the app's repository) would.
    pub fn run_in(&self, dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fictures-seed"));
        cmd.current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self.db_url)
            .env("REDIS_URL", &self.redis_url)
            .env("FIXTURE_API_KEY_SECRET", API_KEY_SECRET)
            // Runs after the first build on the catalog they remember, as a
            // user's do; each test's database has a file of its own.
            .env("FICTURES_SEED_CACHE_DIR", hints())
            .args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        Run(cmd.output().expect("the tool runs"))
    }

    pub fn sql(&self, sql: &str) -> String {
        psql_at(&self.db_url, sql)
    }

    /// Runs a psql script (any length, `\gexec` allowed) fed on stdin;
    /// unaligned tuples-only output.
    pub fn script(&self, sql: &str) -> String {
        succeeded(
            psql(&self.db_url, &["-At", "-f", "-"], Some(sql)),
            "psql script",
        )
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.sql(sql)
            .parse()
            .unwrap_or_else(|_| panic!("not a count: {sql}"))
    }

    pub fn redis(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-u", &self.redis_url])
            .args(args)
            .output()
            .unwrap();
        succeeded(out, "redis-cli")
    }

    /// Sorted keys of this test's Redis database (small databases only).
    pub fn redis_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .redis(&["--scan"])
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        keys.sort();
        keys
    }

    /// A digest of every row of every table, to prove a run changed nothing
    /// (or exactly what it should). Table order and row order are fixed.
    pub fn checksum(&self) -> String {
        let tables = self.sql(
            "SELECT string_agg(quote_ident(relname), ' ' ORDER BY relname) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND relkind = 'r' AND relname <> '_sqlx_migrations'",
        );
        let parts: Vec<String> = tables
            .split(' ')
            .map(|t| {
                format!(
                    "SELECT '{t}' || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '-') FROM {t} x"
                )
            })
            .collect();
        self.sql(&parts.join(" UNION ALL "))
    }

    /// Per-table checksums, for a readable assertion failure.
    pub fn checksums(&self) -> Vec<String> {
        let mut v: Vec<String> = self.checksum().lines().map(String::from).collect();
        v.sort();
        v
    }

    /// Every key and its DUMP, to prove Redis was not touched.
    pub fn redis_snapshot(&self) -> Vec<(String, String)> {
        self.redis_keys()
            .into_iter()
            .map(|k| {
                let v = self.redis(&["GET", &k]);
                (k, v)
            })
            .collect()
    }

    /// Rows that belong to nobody in the fixture ("foreign" data), in every
    /// table the migrations create: the tool must never change them.
    pub fn add_foreign_rows(&self) {
        self.script(&std::fs::read_to_string(repo().join("tests/data/foreign.sql")).unwrap());
    }

    /// `teardown --dry-run --json`, then `teardown --json`: the dry run must
    /// predict the real per-table counts. Returns the real report.
    pub fn teardown_as_predicted(&self) -> Value {
        let dry = self
            .run(&["teardown", "--dry-run", "--json"])
            .expect(0)
            .json();
        let real = self.run(&["teardown", "--json"]).expect(0).json();
        assert_eq!(
            dry["tables"], real["tables"],
            "the dry run predicts the real counts"
        );
        real
    }

    /// Writes a seed file into a temporary directory and returns its path.
    pub fn seed_file(&self, dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = psql(&self.admin, &["-c", &drop], None);
        // In the background, so a test that filled a million keys frees them
        // without holding up the tests beside it.
        let _ = Command::new("redis-cli")
            .args(["-u", &self.redis_url, "FLUSHDB", "ASYNC"])
            .output();
    }
}

/// Runs the tool from `dir` with `args` and nothing from the environment but
/// `PATH`: for commands that reach no server (help, documents).
pub fn offline<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Run {
    Run(Command::new(env!("CARGO_BIN_EXE_fictures-seed"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(args)
        .output()
        .expect("the tool runs"))
}

/// Rows deleted per table in a report, tables without deletes left out.
pub fn deletes(report: &Value) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    for line in report["tables"].as_array().expect("a tables list") {
        let n = line["delete"].as_u64().expect("a delete count");
        if n > 0 {
            *out.entry(line["table"].as_str().unwrap().to_string())
                .or_insert(0) += n;
        }
    }
    out
}

/// A finished run of the tool.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout()).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            )
        })
    }
    /// Asserts the exit code, showing both streams when it differs.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// The names in a directory, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The canonical seed file's text, for tests that derive variants of it.
pub fn canonical_seed() -> String {
    std::fs::read_to_string(repo().join("seeds/cache-tests.toml")).unwrap()
}
