//! The bench's context: paths, URLs, the databases it creates (dropped at
//! the end), and running the tool, psql and pg_dump.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use serde_json::Value;
use url::Url;

/// Paths, URLs and the databases this run created (dropped on drop).
pub(crate) struct Ctx {
    pub(crate) root: PathBuf,
    pub(crate) bin: PathBuf,
    pub(crate) admin: Url,
    pub(crate) redis: Url,
    pub(crate) psql: PathBuf,
    pub(crate) pg_dump: PathBuf,
    pub(crate) work: tempfile::TempDir,
    pub(crate) prefix: String,
    pub(crate) template: String,
    pub(crate) delay: Duration,
    pub(crate) runs: usize,
    pub(crate) proxy_runs: usize,
    pub(crate) baseline_runs: usize,
    pub(crate) created: RefCell<Vec<String>>,
}

pub(crate) fn env_usize(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .with_context(|| format!("{name}={v} is not a number")),
        Err(_) => Ok(default),
    }
}

pub(crate) fn pg_program(name: &str) -> PathBuf {
    let dirs = [
        std::env::var("PG_BIN").ok(),
        Some("/usr/lib/postgresql/15/bin".to_string()),
    ];
    dirs.into_iter()
        .flatten()
        .map(|d| Path::new(&d).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// The address a server URL (`what`, for messages) names, `default_port`
/// where it has none.
pub(crate) fn addr_of(url: &Url, default_port: u16, what: &str) -> Result<SocketAddr> {
    let host = url
        .host_str()
        .with_context(|| format!("{what} has no host"))?;
    (host, url.port().unwrap_or(default_port))
        .to_socket_addrs()?
        .next()
        .with_context(|| format!("the host of {what} does not resolve"))
}

impl Ctx {
    pub(crate) fn new() -> Result<Ctx> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let bin = match std::env::var_os("FICTURES_SEED_BIN") {
            Some(p) => PathBuf::from(p),
            None => std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("target"))
                .join("release/fictures-seed"),
        };
        ensure!(
            bin.is_file(),
            "{} does not exist; build it with `cargo build --release` (scripts/bench.sh does)",
            bin.display()
        );
        let var = |name: &str| {
            std::env::var(name).with_context(|| {
                format!("{name} is not set; run `eval \"$(scripts/stack.sh up)\"` first, or use scripts/bench.sh")
            })
        };
        let admin = Url::parse(&var("STACK_PG_ADMIN_URL")?).context("STACK_PG_ADMIN_URL")?;
        let mut redis = Url::parse(&var("REDIS_URL")?).context("REDIS_URL")?;
        redis.set_path(&format!("/{}", env_usize("BENCH_REDIS_DB", 200)?));
        let prefix = format!("fsbench_{}_", std::process::id());
        Ok(Ctx {
            root,
            bin,
            admin,
            redis,
            psql: pg_program("psql"),
            pg_dump: pg_program("pg_dump"),
            work: tempfile::Builder::new().prefix("fsbench").tempdir()?,
            template: format!("{prefix}tpl"),
            prefix,
            delay: Duration::from_millis(env_usize("BENCH_DELAY_MS", 25)? as u64),
            runs: env_usize("BENCH_RUNS", 11)?.max(1),
            proxy_runs: env_usize("BENCH_PROXY_RUNS", 7)?.max(1),
            baseline_runs: env_usize("BENCH_BASELINE_RUNS", 3)?.max(1),
            created: RefCell::new(Vec::new()),
        })
    }

    pub(crate) fn header(&self) -> Result<String> {
        let date = Command::new("date")
            .args(["-u", "+%Y-%m-%d %H:%M UTC"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let mem_gib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
            .map(|kb| kb / 1024.0 / 1024.0)
            .unwrap_or(0.0);
        let cores = thread::available_parallelism().map_or(0, |n| n.get());
        // Other work on the machine skews wall times; say how busy it was.
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next().map(str::to_string))
            .unwrap_or_else(|| "?".into());
        let pg = self.psql_at(
            "postgres",
            "SELECT current_setting('server_version') || ', ssl=' || current_setting('ssl')",
        )?;
        Ok(format!(
            "## fictures-seed benchmark, {date}\n\n\
             Machine: {cores} CPUs ({cpu}), {mem_gib:.1} GiB RAM, load average {load} at the \
             start. PostgreSQL {pg}, local stack \
             (`scripts/stack.sh`, fsync off). Binary: `{}`. Redis: `{}`.\n",
            self.bin
                .strip_prefix(&self.root)
                .unwrap_or(&self.bin)
                .display(),
            self.redis
        ))
    }

    /// Flushes the bench's Redis database and makes the migrated template.
    pub(crate) fn prepare(&self) -> Result<()> {
        let out = Command::new("redis-cli")
            .args(["-u", self.redis.as_str(), "FLUSHDB"])
            .output()
            .context("running redis-cli")?;
        ensure!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "OK",
            "redis-cli FLUSHDB on {} failed: {}{}",
            self.redis,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "bench: creating template {} (fictures-seed migrate)",
            self.template
        );
        self.create_db(&self.template, None)?;
        let run = self.tool(&self.url(&self.template), self.redis.as_str(), &["migrate"])?;
        ensure!(run.code == 0, "migrate failed: {}", run.stderr);
        Ok(())
    }

    /// The URL of `db`, without TLS: the local figures measure the tool, not
    /// a handshake (part 5 measures TLS on purpose, with URLs of its own).
    pub(crate) fn url(&self, db: &str) -> String {
        let mut u = self.admin.clone();
        u.set_path(&format!("/{db}"));
        u.set_query(Some("sslmode=disable"));
        u.to_string()
    }

    /// The URL of `db` through a proxy on loopback `port`, without TLS (so the
    /// proxy sees the protocol and TLS handshakes do not add round trips).
    pub(crate) fn proxied_url(&self, db: &str, port: u16) -> Result<String> {
        let mut u = self.admin.clone();
        u.set_path(&format!("/{db}"));
        u.set_host(Some("127.0.0.1"))?;
        u.set_port(Some(port))
            .map_err(|()| anyhow!("cannot set port"))?;
        u.set_query(Some("sslmode=disable"));
        Ok(u.to_string())
    }

    pub(crate) fn pg_addr(&self) -> Result<SocketAddr> {
        addr_of(&self.admin, 5432, "STACK_PG_ADMIN_URL")
    }

    pub(crate) fn redis_addr(&self) -> Result<SocketAddr> {
        addr_of(&self.redis, 6379, "REDIS_URL")
    }

    pub(crate) fn name(&self, label: &str) -> String {
        format!("{}{label}", self.prefix)
    }

    /// Runs `sql` with psql on database `db`, returning unaligned tuples-only output.
    pub(crate) fn psql_at(&self, db: &str, sql: &str) -> Result<String> {
        let out = Command::new(&self.psql)
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url(db))
            .args(["-c", sql])
            .output()
            .with_context(|| format!("running {}", self.psql.display()))?;
        ensure!(
            out.status.success(),
            "psql on {db} failed for `{sql}`: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    pub(crate) fn create_db(&self, name: &str, template: Option<&str>) -> Result<()> {
        self.drop_db(name)?;
        let tpl = template
            .map(|t| format!(" TEMPLATE \"{t}\""))
            .unwrap_or_default();
        self.psql_at("postgres", &format!("CREATE DATABASE \"{name}\"{tpl}"))?;
        self.created.borrow_mut().push(name.to_string());
        Ok(())
    }

    /// A fresh database with the migrated, empty tables.
    pub(crate) fn fresh_db(&self, label: &str) -> Result<String> {
        let name = self.name(label);
        self.create_db(&name, Some(&self.template))?;
        Ok(name)
    }

    pub(crate) fn drop_db(&self, name: &str) -> Result<()> {
        self.psql_at(
            "postgres",
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        )?;
        self.created.borrow_mut().retain(|n| n != name);
        Ok(())
    }

    /// Runs `fictures-seed --json ARGS` against `db_url` and `redis`, timing it
    /// from spawn to exit.
    pub(crate) fn tool(&self, db_url: &str, redis: &str, args: &[&str]) -> Result<ToolRun> {
        self.tool_with(db_url, redis, args, &[])
    }

    /// [`Ctx::tool`] with more environment variables.
    pub(crate) fn tool_with(
        &self,
        db_url: &str,
        redis: &str,
        args: &[&str],
        vars: &[(&str, &str)],
    ) -> Result<ToolRun> {
        self.tool_as(&self.bin, db_url, redis, args, vars)
    }

    /// [`Ctx::tool_with`] with another build of the tool, to compare two.
    pub(crate) fn tool_as(
        &self,
        bin: &Path,
        db_url: &str,
        redis: &str,
        args: &[&str],
        vars: &[(&str, &str)],
    ) -> Result<ToolRun> {
        let mut cmd = Command::new(bin);
        cmd.current_dir(&self.root)
            // Catalogs are remembered (io::hint) for this bench run only.
            .env("FICTURES_SEED_CACHE_DIR", self.work.path().join("hints"))
            .envs(vars.iter().copied())
            .env("DATABASE_URL", db_url)
            .env("REDIS_URL", redis)
            // The fixture's API keys need their secret to be created.
            .env("FIXTURE_API_KEY_SECRET", "bench-only-api-key-secret")
            .env_remove("POSTGRES_URL_POOLED")
            .env_remove("POSTGRES_URL")
            .env_remove("FICTURES_SEED_LOG")
            .arg("--json")
            .args(args)
            .stdin(Stdio::null());
        let start = Instant::now();
        let out = cmd
            .output()
            .with_context(|| format!("running {}", bin.display()))?;
        let wall = start.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let json = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
        Ok(ToolRun {
            wall,
            code: out.status.code().unwrap_or(-1),
            json,
            stderr: format!("{stdout}{stderr}"),
        })
    }

    /// Rows per table (every table in `public` except sqlx's own), exact counts.
    pub(crate) fn row_counts(&self, db: &str) -> Result<BTreeMap<String, u64>> {
        let out = self.psql_at(
            db,
            "SELECT c.relname, (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM public.%I', c.relname), false, true, '')))[1]::text \
             FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace \
             WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> '_sqlx_migrations' ORDER BY 1",
        )?;
        out.lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (t, n) = l.split_once('|').context("unexpected psql output")?;
                Ok((t.to_string(), n.parse()?))
            })
            .collect()
    }

    /// Tables of `public` ordered parents before children (self references ignored).
    pub(crate) fn tables_in_fk_order(&self, db: &str) -> Result<Vec<String>> {
        let tables: BTreeSet<String> = self.row_counts(db)?.into_keys().collect();
        let edges = self.psql_at(
            db,
            "SELECT cl.relname, pf.relname FROM pg_constraint c \
             JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_class pf ON pf.oid = c.confrelid \
             JOIN pg_namespace ns ON ns.oid = cl.relnamespace \
             WHERE c.contype = 'f' AND ns.nspname = 'public'",
        )?;
        let mut parents: BTreeMap<String, BTreeSet<String>> = tables
            .iter()
            .map(|t| (t.clone(), BTreeSet::new()))
            .collect();
        for line in edges.lines().filter(|l| !l.is_empty()) {
            let (child, parent) = line.split_once('|').context("unexpected psql output")?;
            if child != parent
                && tables.contains(parent)
                && let Some(p) = parents.get_mut(child)
            {
                p.insert(parent.to_string());
            }
        }
        let mut order = Vec::new();
        while !parents.is_empty() {
            let ready: Vec<String> = parents
                .iter()
                .filter(|(_, p)| p.is_empty())
                .map(|(t, _)| t.clone())
                .collect();
            ensure!(
                !ready.is_empty(),
                "foreign keys form a cycle among {parents:?}"
            );
            for t in ready {
                parents.remove(&t);
                for p in parents.values_mut() {
                    p.remove(&t);
                }
                order.push(t);
            }
        }
        Ok(order)
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        let names: Vec<String> = self.created.borrow().clone();
        for name in names.iter().rev() {
            if let Err(e) = self.drop_db(name) {
                eprintln!("bench: could not drop database {name}: {e:#}");
            }
        }
    }
}

pub(crate) struct ToolRun {
    pub(crate) wall: Duration,
    pub(crate) code: i32,
    pub(crate) json: Value,
    /// stdout and stderr, for error messages.
    pub(crate) stderr: String,
}

impl ToolRun {
    pub(crate) fn ok(self, what: &str) -> Result<ToolRun> {
        ensure!(
            self.code == 0,
            "{what} exited with {}: {}",
            self.code,
            self.stderr.trim()
        );
        Ok(self)
    }

    pub(crate) fn counter(&self, key: &str) -> u64 {
        self.json[key].as_u64().unwrap_or(0)
    }

    /// Sum of `key` (insert, update, delete) over the report's tables.
    pub(crate) fn table_sum(&self, key: &str) -> u64 {
        self.json["tables"]
            .as_array()
            .map(|ts| ts.iter().map(|t| t[key].as_u64().unwrap_or(0)).sum())
            .unwrap_or(0)
    }
}

/// psql running the file `path` in one transaction against `url`, stopping
/// at the first error, without reading ~/.psqlrc.
pub(crate) fn psql_file(ctx: &Ctx, path: &Path, url: &str) -> Command {
    let mut cmd = Command::new(&ctx.psql);
    cmd.args([
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "--single-transaction",
        "-f",
    ])
    .arg(path)
    .arg("-d")
    .arg(url)
    .stdin(Stdio::null());
    cmd
}

pub(crate) fn psql_script(ctx: &Ctx, db: &str, path: &Path, script: &str) -> Result<()> {
    std::fs::write(path, script)?;
    let out = psql_file(ctx, path, &ctx.url(db))
        .output()
        .context("running psql")?;
    ensure!(
        out.status.success(),
        "psql -f {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
