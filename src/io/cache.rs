//! The app's Redis cache: finding the keys of some families (exact keys
//! directly, prefixed ones with a server-side scan in time-boxed steps),
//! removing them with UNLINK, never KEYS or FLUSHDB, and reading them for
//! the stale check. The cache is shared with everything else in that Redis.

use std::time::Duration;

use futures_util::future::try_join_all;
use redis::aio::MultiplexedConnection;

use crate::error::{ExitCode, Failure, Result};
use crate::pure::chains::{Chains, Next};
use crate::pure::families::Families;
use crate::pure::redact;
use crate::pure::wording::count;
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
    /// How a pass over the keyspace is split, from its size at connecting.
    chains: Chains,
    pub shown: String,
    pub commands: u64,
}

/// Keys checked per EXISTS pipeline and removed per UNLINK.
const BATCH: usize = 1000;

/// Server time one scan step may take, where the script's clock is the
/// wall's (TIME, on Redis 7.0). The app shares this Redis, and its
/// other clients wait while a script runs; 40 ms keeps every step under the
/// 50 ms a shared cache tolerates (the overshoot is one SCAN of
/// [`SCRIPT_COUNT`] buckets) while a keyspace of a million keys still takes
/// few round trips. BENCHMARKS.md has the figures behind the choice.
const SCRIPT_BUDGET: Duration = Duration::from_millis(40);

/// The same where the clock is the server's CPU time (`os.clock`, on Redis
/// 7.4+ and Valkey 8), which stands still while the server waits for a CPU
/// although its clients wait too: with this machine's two CPUs kept busy,
/// steps of 40 ms of CPU lasted up to 64 ms, steps of 25 ms up to 41 ms. It
/// caps a step's own length; the steps of a pass, 20 ms each with four
/// chains, stretch like any other work on a busy server.
const SCRIPT_CPU_BUDGET: Duration = Duration::from_millis(25);

/// Server time the steps of one pass's chains may take together. They queue
/// at the server one behind another, and another client's command waits for
/// those ahead of it: with four chains of 40 ms steps and Redis 50 ms away,
/// a PING every 5 ms waited up to 158 ms; of 20 ms steps, up to 44 ms, and
/// Redis was as busy with ours, so a pass took as long (BENCHMARKS.md).
const PASS_BUDGET: Duration = Duration::from_millis(80);

/// What ends a step in a pass of some chains.
#[derive(Debug, PartialEq, Eq)]
struct Budgets {
    /// On TIME.
    wall: Duration,
    /// On `os.clock`.
    cpu: Duration,
    /// SCANs, where the script's clock stands still.
    scans: u32,
}

/// A step's budgets in a pass of `chains` chains: their steps share
/// [`PASS_BUDGET`], and none passes a step's own.
fn step_budgets(chains: u32) -> Budgets {
    let wall = SCRIPT_BUDGET.min(PASS_BUDGET / chains);
    Budgets {
        wall,
        cpu: wall.min(SCRIPT_CPU_BUDGET),
        scans: (u128::from(STILL_CLOCK_SCANS) * wall.as_micros() / SCRIPT_BUDGET.as_micros())
            as u32,
    }
}

/// Buckets per SCAN inside the script, between two looks at the clock.
const SCRIPT_COUNT: u32 = 1000;

/// SCANs a step makes where the script's clock stands still (Redis 7.2 and
/// 7.3 and Valkey 7.2 freeze TIME and have no `os.clock`): 15 of
/// [`SCRIPT_COUNT`] buckets took 10–27 ms of Redis 7.0's time on a million
/// keys here, the most with `verify`'s pattern of every fixture id
/// (BENCHMARKS.md). A count does not follow the server's speed, so it keeps
/// room below the 50 ms a step may take. That is for a step of
/// [`SCRIPT_BUDGET`]; a shorter one makes fewer in proportion.
const STILL_CLOCK_SCANS: u32 = 15;

/// The most prefixes the dropping script takes. It rebuilds their table on
/// every step, before its time budget starts; a teardown of thousands of
/// load-test stories has ~100,000, which would make each step long and
/// large, so those are found with the read-only script and UNLINKed after.
const DROP_PREFIXES: usize = 2_000;

/// Buckets per plain SCAN when scripts are refused: about 10 ms of server
/// time per million keys on a slow machine.
const SCAN_COUNT: u32 = 10_000;

/// A scan step of one chain ([`Chains`]): SCANs from ARGV[1] with MATCH
/// ARGV[2], ARGV[4] buckets at a time, until the keyspace ends, the cursor
/// leaves chain ARGV[6] of 2^ARGV[5], ARGV[3] microseconds have passed on
/// TIME or ARGV[8] on `os.clock`, or, where the script's clock stands still,
/// ARGV[7] SCANs are done; it returns the next cursor and the keys `take`
/// kept. The two scripts differ only in their header, which defines `take`.
/// The budget is counted on `os.clock` where the server has it, on TIME
/// elsewhere. `os.clock` is the server process's CPU time: it runs slow
/// while the server waits for a CPU (hence [`SCRIPT_CPU_BUDGET`]), and fast
/// while other threads work (Valkey's I/O threads spin), which only shortens
/// steps: with N busy threads a pass takes about N times the steps.
macro_rules! scan_step {
    ($header:literal) => {
        concat!($header, "\n", include_str!("scan_step.lua"))
    };
}

/// Returns every candidate; it reads only, so it may run on replicas and
/// under memory pressure.
const FIND_SCRIPT: &str = scan_step!(
    r"#!lua flags=no-writes
local function take(k) return true end"
);

/// UNLINKs and returns the candidates under one of the prefixes ARGV[9..]
/// (the rule of `Families::matches`), so dropping costs no round trip of its
/// own. The pattern alone also fits other entities' keys now and then.
const DROP_SCRIPT: &str = scan_step!(
    r"#!lua
local prefixes = {}
for i = 9, #ARGV do prefixes[ARGV[i]] = true end
local function take(k)
  local at = string.find(k, ':', 1, true)
  while at do
    if prefixes[string.sub(k, 1, at)] then redis.call('UNLINK', k) return true end
    at = string.find(k, ':', at + 1, true)
  end
  return false
end"
);

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
        // Without TCP_NODELAY, a command written while another is unanswered
        // (the exact keys' pipeline beside a scan step, a TLS handshake's
        // second record) waits for a delayed ACK, up to 40 ms.
        let info = redis::IntoConnectionInfo::into_connection_info(url).map_err(|e| fail(&e, 1))?;
        // Connecting costs the TCP (and TLS) handshake, AUTH when there is a
        // password, and one round trip: SELECT and PING, with DBSIZE and INFO
        // behind them. The PING's answer proves the server takes commands
        // now (not NOAUTH, LOADING, BUSY or MASTERDOWN, which AUTH and SELECT
        // pass). The database is selected here rather than in redis-rs'
        // setup, which would cost a round trip of its own; CLIENT SETINFO is
        // left out, as its answer is ignored and it would cost one too. The
        // connection is never re-established, so the SELECT holds for it.
        let setup = info.redis_settings().clone();
        let db = setup.db();
        let info = info
            .set_redis_settings(setup.set_db(0).set_skip_set_lib_name())
            .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
        let client = match ca_cert {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    Failure::usage(format!(
                        "cannot read the Redis CA certificate {}: {e}; pass a PEM file to --redis-ca-cert",
                        path.display()
                    ))
                })?;
                let certs = redis::TlsCertificates { client_tls: None, root_cert: Some(pem) };
                redis::Client::build_with_tls(info, certs)
            }
            None => redis::Client::open(info),
        }
        .map_err(|e| fail(&e, 1))?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let connect = || async {
            let mut con = client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            let mut asked = con.clone();
            let mut check = redis::pipe();
            if db != 0 {
                check.cmd("SELECT").arg(db).ignore();
            }
            check.cmd("PING");
            // The keyspace's size and the server's kind decide how passes are
            // split; a server that refuses to tell is walked by one chain.
            let mut about = redis::pipe();
            about.cmd("DBSIZE").cmd("INFO").arg("server");
            let (checked, about) = tokio::join!(
                check.query_async::<(String,)>(&mut con),
                about.query_async::<(u64, String)>(&mut asked)
            );
            checked?;
            let chains = match about {
                Ok((keys, info)) => {
                    let chains = Chains::for_keyspace(keys, &info);
                    tracing::debug!(
                        "Redis holds {keys} keys: passes over them run in {} chains",
                        chains.count()
                    );
                    chains
                }
                Err(e) => {
                    tracing::debug!("DBSIZE or INFO refused ({e}): passes run in 1 chain");
                    Chains::ONE
                }
            };
            Ok::<_, redis::RedisError>((con, chains))
        };
        let transient =
            |e: &redis::RedisError| e.is_io_error() || e.is_timeout() || e.is_connection_refusal();
        let (con, chains) = retry::connect(&shown, attempts, transient, connect)
            .await
            .map_err(|(e, made)| fail(&e, made))?;
        Ok(Cache {
            con,
            chains,
            shown,
            commands: 1,
        })
    }

    /// Every key of `families` that exists: the exact keys checked in one
    /// pipeline, the prefixed ones found by one pass over the keyspace with
    /// a MATCH pattern, the server doing the matching.
    pub async fn find(&mut self, families: &Families) -> redis::RedisResult<Vec<String>> {
        self.collect(families, false).await
    }

    /// Removes every key of `families` and returns those that existed. The
    /// exact keys are UNLINKed one by one in a pipeline (each answer says
    /// whether that key existed) and the scan's steps UNLINK what they find,
    /// so a small keyspace costs one round trip.
    pub async fn drop(&mut self, families: &Families) -> redis::RedisResult<Vec<String>> {
        self.collect(families, true).await
    }

    async fn collect(
        &mut self,
        families: &Families,
        drop: bool,
    ) -> redis::RedisResult<Vec<String>> {
        let mut found = Vec::new();
        if families.is_empty() {
            return Ok(found);
        }
        // The exact keys' pipeline and the first scan step travel together.
        let exact = families.exact_keys();
        let mut con = self.con.clone();
        let exact_step = async {
            let mut there = Vec::new();
            for chunk in exact.chunks(BATCH) {
                let mut pipe = redis::pipe();
                for k in chunk {
                    pipe.cmd(if drop { "UNLINK" } else { "EXISTS" }).arg(k);
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
        let pattern = families.pattern();
        // Only a set small enough for the dropping script is copied out.
        let prefixes = if drop && families.prefix_count() <= DROP_PREFIXES {
            families.prefixes()
        } else {
            Vec::new()
        };
        let (mut prefixed, mut pending) = (Vec::new(), Vec::new());
        let under = (!prefixes.is_empty()).then_some(prefixes.as_slice());
        let scan = async {
            if let Some(pattern) = &pattern {
                // tests/cache.rs reads this line.
                tracing::debug!("scanning with MATCH {pattern}");
                self.pass(pattern, under, |key, dropped| {
                    if dropped {
                        prefixed.push(key);
                    } else if families.matches(&key) {
                        // Found by the read-only script or by plain SCAN.
                        if drop { &mut pending } else { &mut prefixed }.push(key);
                    }
                })
                .await?;
            }
            Ok::<_, redis::RedisError>(())
        };
        let (there, scanned) = tokio::join!(exact_step, scan);
        scanned?;
        self.unlink(&pending).await?;
        found.extend(there?);
        found.extend(prefixed);
        found.extend(pending);
        self.commands += exact.len().div_ceil(BATCH) as u64;
        found.sort();
        found.dedup();
        Ok(found)
    }

    /// One pass over the keyspace for `pattern`, handing each candidate to
    /// `take` with whether it was already removed. A large keyspace is walked
    /// by several chains of steps at once ([`Chains`]), so round trips
    /// overlap; a server whose cursors turn out not to be Redis' is walked
    /// again by one chain from 0, the documented way.
    async fn pass(
        &mut self,
        pattern: &str,
        drop_under: Option<&[String]>,
        mut take: impl FnMut(String, bool),
    ) -> redis::RedisResult<()> {
        loop {
            let chains = self.chains;
            let walks = try_join_all(
                (0..chains.count()).map(|i| walk(self.con.clone(), chains, i, pattern, drop_under)),
            )
            .await?;
            let mut foreign = false;
            let steps: u64 = walks.iter().map(|w| w.steps).sum();
            // tests/cache.rs reads this line.
            tracing::debug!(
                "a pass took {} in {}",
                count(steps as usize, "step"),
                count(chains.count() as usize, "chain")
            );
            for w in walks {
                self.commands += w.steps;
                foreign |= w.foreign;
                w.keys.into_iter().for_each(|(k, dropped)| take(k, dropped));
            }
            if !foreign || chains == Chains::ONE {
                return Ok(());
            }
            tracing::debug!("SCAN cursors here are not Redis' own; scanning with one chain");
            self.chains = Chains::ONE;
        }
    }

    /// UNLINKs `keys` in pipelined batches.
    async fn unlink(&mut self, keys: &[String]) -> redis::RedisResult<()> {
        for chunk in keys.chunks(BATCH) {
            let _: u64 = redis::cmd("UNLINK")
                .arg(chunk)
                .query_async(&mut self.con)
                .await?;
            self.commands += 1;
        }
        Ok(())
    }

    /// TTL and string value of each key, in one pipelined round trip: a key
    /// of another type answers GET with WRONGTYPE, which only means it has
    /// no string value.
    pub async fn inspect(&mut self, keys: &[String]) -> redis::RedisResult<Vec<CachedKey>> {
        let mut out = Vec::new();
        for chunk in keys.chunks(BATCH) {
            let mut pipe = redis::pipe();
            pipe.ignore_errors();
            for k in chunk {
                pipe.cmd("TTL").arg(k).cmd("GET").arg(k);
            }
            let answers: Vec<redis::Value> = pipe.query_async(&mut self.con).await?;
            for (k, pair) in chunk.iter().zip(answers.chunks(2)) {
                let ttl: i64 = redis::from_redis_value_ref(&pair[0]).unwrap_or(-2);
                let value = match &pair[1] {
                    redis::Value::ServerError(_) => None,
                    v => redis::from_redis_value_ref::<Option<String>>(v)
                        .ok()
                        .flatten(),
                };
                out.push(CachedKey {
                    key: k.clone(),
                    ttl,
                    value,
                });
            }
            self.commands += 1;
        }
        out.retain(|k| k.ttl != -2);
        Ok(out)
    }
}

/// What one chain of a pass found.
#[derive(Default)]
struct Walk {
    /// Each candidate, with whether the step already removed it.
    keys: Vec<(String, bool)>,
    steps: u64,
    /// A cursor came back that is not Redis' ([`Next::Foreign`]).
    foreign: bool,
}

/// Chain `i` of a pass. Each step is a script that SCANs until its time
/// budget is spent or the chain's share ends, so a busy keyspace costs few
/// round trips and no step holds the shared server for long; with
/// `drop_under`, the script also UNLINKs the candidates under those
/// prefixes. Where scripts are refused (ACLs, hosted Redis, a full memory),
/// plain SCAN MATCH steps of a fixed size find the candidates.
async fn walk(
    mut con: MultiplexedConnection,
    chains: Chains,
    i: u32,
    pattern: &str,
    drop_under: Option<&[String]>,
) -> redis::RedisResult<Walk> {
    let budgets = step_budgets(chains.count());
    // Chains set off one step apart: sent together, their steps would be run
    // in one go and answered together, and the server would then wait a
    // whole round trip for the next ones, every time.
    if i > 0 {
        tokio::time::sleep(budgets.wall * i).await;
    }
    let mut walk = Walk::default();
    let mut cursor = chains.start(i).to_string();
    let mut scripted = true;
    loop {
        let step: redis::RedisResult<(String, Vec<String>)> = if scripted {
            redis::cmd("EVAL")
                .arg(if drop_under.is_some() {
                    DROP_SCRIPT
                } else {
                    FIND_SCRIPT
                })
                .arg(0)
                .arg(&cursor)
                .arg(pattern)
                .arg(budgets.wall.as_micros() as u64)
                .arg(SCRIPT_COUNT)
                .arg(chains.bits())
                .arg(i)
                .arg(budgets.scans)
                .arg(budgets.cpu.as_micros() as u64)
                .arg(drop_under.unwrap_or_default())
                .query_async(&mut con)
                .await
        } else {
            redis::cmd("SCAN")
                .arg(&cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(&mut con)
                .await
        };
        walk.steps += 1;
        let (next, keys) = match step {
            Ok(answer) => answer,
            Err(e) if scripted && e.kind() != redis::ErrorKind::Io && !e.is_timeout() => {
                tracing::debug!("scan script refused ({e}); scanning with SCAN MATCH");
                scripted = false;
                continue;
            }
            Err(e) => return Err(e),
        };
        let dropped = scripted && drop_under.is_some();
        walk.keys.extend(keys.into_iter().map(|k| (k, dropped)));
        match chains.after(i, &next) {
            Next::Go => cursor = next,
            Next::Done => return Ok(walk),
            Next::Foreign => {
                walk.foreign = true;
                return Ok(walk);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_share_the_pass_budget_up_to_a_step_s_own() {
        let budgets = |wall, cpu, scans| Budgets {
            wall: Duration::from_millis(wall),
            cpu: Duration::from_millis(cpu),
            scans,
        };
        assert_eq!(step_budgets(1), budgets(40, 25, 15));
        assert_eq!(step_budgets(2), budgets(40, 25, 15));
        assert_eq!(step_budgets(4), budgets(20, 20, 7));
    }
}
