//! The app's Redis cache: finding the keys of some families (exact keys
//! directly, prefixed ones with a server-side scan in time-boxed steps),
//! removing them with UNLINK, never KEYS or FLUSHDB, and reading them for
//! the stale check. The cache is shared with everything else in that Redis.

use std::time::Duration;

use redis::aio::MultiplexedConnection;

use crate::error::{ExitCode, Failure, Result};
use crate::pure::families::Families;
use crate::pure::redact;
use crate::retry;

/// A key as `verify` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CachedKey {
    pub key: String,
    /// Seconds to live; -1 without expiry.
    pub ttl: i64,
    /// The value when it is a string (the app stores JSON strings).
    #[serde(skip)]
    pub value: Option<String>,
}

pub struct Cache {
    con: MultiplexedConnection,
    pub shown: String,
    pub commands: u64,
}

/// Keys checked per EXISTS pipeline and removed per UNLINK.
const BATCH: usize = 1000;

/// Server time one scan step may take. The app shares this Redis, and its
/// other clients wait while a script runs; 40 ms keeps every step under the
/// 50 ms a shared cache tolerates (the overshoot is one SCAN of
/// [`SCRIPT_COUNT`] buckets) while a keyspace of a million keys still takes
/// few round trips. BENCHMARKS.md has the figures behind the choice.
const SCRIPT_BUDGET: Duration = Duration::from_millis(40);

/// Buckets per SCAN inside the script, between two looks at the clock.
const SCRIPT_COUNT: u32 = 1000;

/// Buckets per plain SCAN when scripts are refused: about 10 ms of server
/// time per million keys on a slow machine.
const SCAN_COUNT: u32 = 10_000;

/// SCANs from ARGV[1] with MATCH ARGV[2], ARGV[4] buckets at a time, until
/// the keyspace ends or ARGV[3] microseconds have passed; returns the next
/// cursor and the matches. It reads only, so it may run on replicas and
/// under memory pressure.
const SCAN_SCRIPT: &str = r"#!lua flags=no-writes
local function now() local t = redis.call('TIME') return t[1] * 1000000 + t[2] end
local started, cursor, found = now(), ARGV[1], {}
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', ARGV[2], 'COUNT', ARGV[4])
  cursor = r[1]
  for _, k in ipairs(r[2]) do found[#found + 1] = k end
until cursor == '0' or now() - started >= tonumber(ARGV[3])
return {cursor, found}
";

impl Cache {
    /// Connects and checks that Redis answers PING.
    pub async fn connect(
        url: &str,
        ca_cert: Option<&std::path::Path>,
        timeout: Duration,
        attempts: u32,
    ) -> Result<Cache> {
        let shown = redact::url(url);
        let fail = |e: &dyn std::fmt::Display, made: u32| {
            let detail = e.to_string();
            let advice = if detail.contains("UnknownIssuer") || detail.contains("unknown issuer") {
                "the server's certificate is not signed by a CA this machine trusts: pass that CA's PEM file with --redis-ca-cert"
            } else {
                "start it, fix REDIS_URL / --redis-url, or pass --no-cache to skip cache invalidation"
            };
            Failure::new(
                ExitCode::Connect,
                format!(
                    "cannot reach Redis at {shown}{}: {detail}; {advice}",
                    retry::attempts_note(made),
                ),
            )
        };
        let client = match ca_cert {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    Failure::usage(format!(
                        "cannot read the Redis CA certificate {}: {e}; pass a PEM file to --redis-ca-cert",
                        path.display()
                    ))
                })?;
                let certs = redis::TlsCertificates { client_tls: None, root_cert: Some(pem) };
                redis::Client::build_with_tls(url, certs)
            }
            None => redis::Client::open(url),
        }
        .map_err(|e| fail(&e, 1))?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let connect = || async {
            let mut con = client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            let _: String = redis::cmd("PING").query_async(&mut con).await?;
            Ok::<_, redis::RedisError>(con)
        };
        let transient =
            |e: &redis::RedisError| e.is_io_error() || e.is_timeout() || e.is_connection_refusal();
        let con = retry::connect(&shown, attempts, transient, connect)
            .await
            .map_err(|(e, made)| fail(&e, made))?;
        Ok(Cache {
            con,
            shown,
            commands: 1,
        })
    }

    /// Every key of `families` that exists: the exact keys checked in one
    /// pipeline, the prefixed ones found by one pass over the keyspace per
    /// MATCH pattern, with the server doing the matching.
    pub async fn scan(&mut self, families: &Families) -> redis::RedisResult<Vec<String>> {
        let mut found = Vec::new();
        if families.is_empty() {
            return Ok(found);
        }
        // The exact keys' pipeline and the first scan step travel together.
        let exact = families.exact_keys();
        let mut con = self.con.clone();
        let exists = async {
            let mut there = Vec::new();
            for chunk in exact.chunks(BATCH) {
                let mut pipe = redis::pipe();
                for k in chunk {
                    pipe.cmd("EXISTS").arg(k);
                }
                let answers: Vec<bool> = pipe.query_async(&mut con).await?;
                there.extend(
                    chunk
                        .iter()
                        .zip(answers)
                        .filter(|(_, t)| *t)
                        .map(|(k, _)| k.clone()),
                );
            }
            Ok::<_, redis::RedisError>(there)
        };
        let patterns = families.patterns();
        let mut prefixed = Vec::new();
        let scan = async {
            for pattern in &patterns {
                self.pass(pattern, |key| {
                    if families.matches(&key) {
                        prefixed.push(key);
                    }
                })
                .await?;
            }
            Ok::<_, redis::RedisError>(())
        };
        let (there, scanned) = tokio::join!(exists, scan);
        scanned?;
        found.extend(there?);
        found.extend(prefixed);
        self.commands += exact.len().div_ceil(BATCH) as u64;
        found.sort();
        found.dedup();
        Ok(found)
    }

    /// One pass over the keyspace for `pattern`, handing each candidate to
    /// `take`. Each step is a script that SCANs until its time budget is
    /// spent, so a busy keyspace costs few round trips and no step holds
    /// the shared server for long. Where scripts are refused (ACLs, hosted
    /// Redis), plain SCAN MATCH steps of a fixed size do the same work.
    async fn pass(
        &mut self,
        pattern: &str,
        mut take: impl FnMut(String),
    ) -> redis::RedisResult<()> {
        let mut cursor = "0".to_string();
        let mut scripted = true;
        loop {
            let step: redis::RedisResult<(String, Vec<String>)> = if scripted {
                redis::cmd("EVAL")
                    .arg(SCAN_SCRIPT)
                    .arg(0)
                    .arg(&cursor)
                    .arg(pattern)
                    .arg(SCRIPT_BUDGET.as_micros() as u64)
                    .arg(SCRIPT_COUNT)
                    .query_async(&mut self.con)
                    .await
            } else {
                redis::cmd("SCAN")
                    .arg(&cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT)
                    .query_async(&mut self.con)
                    .await
            };
            self.commands += 1;
            let (next, keys) = match step {
                Ok(answer) => answer,
                Err(e) if scripted && e.kind() != redis::ErrorKind::Io && !e.is_timeout() => {
                    tracing::debug!("scan script refused ({e}); scanning with SCAN MATCH");
                    scripted = false;
                    continue;
                }
                Err(e) => return Err(e),
            };
            keys.into_iter().for_each(&mut take);
            if next == "0" {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// UNLINKs `keys` in pipelined batches; returns how many were removed.
    pub async fn unlink(&mut self, keys: &[String]) -> redis::RedisResult<u64> {
        let mut removed = 0;
        for chunk in keys.chunks(BATCH) {
            let n: u64 = redis::cmd("UNLINK")
                .arg(chunk)
                .query_async(&mut self.con)
                .await?;
            self.commands += 1;
            removed += n;
        }
        Ok(removed)
    }

    /// TTL and string value of each key, in two pipelined round trips.
    pub async fn inspect(&mut self, keys: &[String]) -> redis::RedisResult<Vec<CachedKey>> {
        let mut out = Vec::new();
        for chunk in keys.chunks(BATCH) {
            let mut pipe = redis::pipe();
            for k in chunk {
                pipe.cmd("TTL").arg(k).cmd("TYPE").arg(k);
            }
            let answers: Vec<redis::Value> = pipe.query_async(&mut self.con).await?;
            let mut pipe = redis::pipe();
            let mut strings = Vec::new();
            for (i, k) in chunk.iter().enumerate() {
                let ttl: i64 = redis::from_redis_value_ref(&answers[2 * i]).unwrap_or(-2);
                let kind: String =
                    redis::from_redis_value_ref(&answers[2 * i + 1]).unwrap_or_default();
                if kind == "string" {
                    pipe.cmd("GET").arg(k);
                    strings.push(out.len());
                }
                out.push(CachedKey {
                    key: k.clone(),
                    ttl,
                    value: None,
                });
            }
            let values: Vec<Option<String>> = pipe.query_async(&mut self.con).await?;
            for (slot, value) in strings.into_iter().zip(values) {
                out[slot].value = value;
            }
            self.commands += 2;
        }
        out.retain(|k| k.ttl != -2);
        Ok(out)
    }
}
