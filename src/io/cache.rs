//! The app's Redis cache: which keys belong to which fixture entities (the
//! families of cache-keys.md), and removing them with SCAN + UNLINK, never
//! KEYS or FLUSHDB, since the cache is shared with everything else.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use redis::aio::MultiplexedConnection;

use crate::error::{ExitCode, Failure, Result};
use crate::pure::fixture::{Kind, Tag};
use crate::pure::redact;
use crate::retry;

/// Lists that can hold any story, dropped whenever a fixture entity changes.
const GLOBAL_LISTS: [&str; 3] = [
    "stories:published",
    "community:stories:all",
    "community:stories:all:optimized",
];

/// The set of keys belonging to some entities: exact keys and key prefixes.
#[derive(Debug, Default, Clone)]
pub struct Families {
    exact: HashSet<String>,
    prefixes: HashSet<String>,
}

impl Families {
    /// The families of `tags`, plus the global lists when there is any tag.
    pub fn of(tags: &BTreeSet<Tag>) -> Families {
        let mut f = Families::default();
        for (kind, id) in tags {
            match kind {
                Kind::Story => {
                    f.exact(&[
                        format!("story:{id}"),
                        format!("story:read:{id}"),
                        format!("comments:story:{id}"),
                        format!("comments:story:{id}:public"),
                    ]);
                    f.prefix(&[
                        format!("story:{id}:"),
                        format!("community:story:{id}:"),
                        format!("fictures:studio:story:{id}:"),
                        format!("fictures:cache-test:story:{id}:"),
                    ]);
                }
                Kind::Chapter => {
                    f.exact(&[
                        format!("chapter:{id}"),
                        format!("chapter:scenes:{id}"),
                        format!("comments:chapter:{id}"),
                        format!("comments:chapter:{id}:public"),
                    ]);
                    f.prefix(&[format!("chapter:{id}:")]);
                }
                Kind::Scene => {
                    f.exact(&[
                        format!("scene:{id}"),
                        format!("comments:scene:{id}"),
                        format!("comments:scene:{id}:public"),
                    ]);
                    f.prefix(&[format!("scene:{id}:")]);
                }
                Kind::Part => f.exact(&[format!("part:{id}")]),
                Kind::Character => f.exact(&[format!("character:{id}")]),
                Kind::Setting => f.exact(&[format!("setting:{id}")]),
                Kind::User => {
                    f.exact(&[
                        format!("user:{id}"),
                        format!("user:{id}:stories"),
                        format!("fictures:studio:stories:user:{id}"),
                    ]);
                    f.prefix(&[format!("user:{id}:stories:")]);
                }
            }
        }
        if !tags.is_empty() {
            f.exact(&GLOBAL_LISTS.map(String::from));
        }
        f
    }

    fn exact(&mut self, keys: &[String]) {
        self.exact.extend(keys.iter().cloned());
    }

    fn prefix(&mut self, prefixes: &[String]) {
        self.prefixes.extend(prefixes.iter().cloned());
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }

    /// Whether `key` belongs to one of the families. Prefixes all end at a
    /// `:`, so only the prefixes of `key` ending at one of its colons are tried.
    pub fn matches(&self, key: &str) -> bool {
        self.exact.contains(key)
            || key
                .match_indices(':')
                .any(|(i, _)| self.prefixes.contains(&key[..=i]))
    }
}

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

/// Keys fetched per SCAN step and removed per UNLINK.
const BATCH: usize = 1000;

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

    /// Every key of `families`, found with one full SCAN of the keyspace.
    pub async fn scan(&mut self, families: &Families) -> redis::RedisResult<Vec<String>> {
        let mut found = Vec::new();
        if families.is_empty() {
            return Ok(found);
        }
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(BATCH)
                .query_async(&mut self.con)
                .await?;
            self.commands += 1;
            found.extend(keys.into_iter().filter(|k| families.matches(k)));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        found.sort();
        found.dedup();
        Ok(found)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_match_only_their_entities() {
        let tags: BTreeSet<Tag> = [
            (Kind::Story, "S1".to_string()),
            (Kind::User, "U1".to_string()),
        ]
        .into();
        let f = Families::of(&tags);
        for key in [
            "story:S1",
            "story:S1:chapters:public",
            "community:story:S1:posts:public",
            "user:U1:stories",
            "user:U1:stories:with-first-chapter",
            "stories:published",
            "fictures:studio:story:S1:x",
        ] {
            assert!(f.matches(key), "{key}");
        }
        for key in [
            "story:S2",
            "story:S10",
            "user:U2:stories",
            "session:abc",
            "user:U1:settings",
        ] {
            assert!(!f.matches(key), "{key}");
        }
    }
}
