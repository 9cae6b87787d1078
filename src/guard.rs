//! The target guard: writing commands touch loopback and Unix-socket servers
//! freely, other hosts only when an `--allow-host` pattern names them, and
//! production-looking targets only with a loudly named override. Pure: it
//! judges URLs before anything connects.

use std::net::IpAddr;
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

use crate::error::{ExitCode, Failure, Result};
use crate::pure::redact;

/// The override flag, named so nobody passes it by accident.
pub const PRODUCTION_OVERRIDE: &str = "--i-really-mean-production";

pub struct Rules<'a> {
    /// Glob patterns (`*` matches any run of characters) of allowed remote hosts.
    pub allow_hosts: &'a [String],
    /// Words that mark a host or database name as production.
    pub production_markers: &'a [String],
    pub production_override: bool,
}

/// One server the command is about to write to.
pub struct Endpoint<'a> {
    pub what: &'static str,
    pub url: &'a str,
    /// Host name or address; `None` for a Unix socket.
    pub host: Option<String>,
    pub database: Option<String>,
}

impl<'a> Endpoint<'a> {
    pub fn postgres(url: &'a str) -> Result<Endpoint<'a>> {
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            Failure::usage(format!(
                "database URL {} is not valid: {}; use postgres://user:password@host:port/database",
                redact::url(url),
                e
            ))
        })?;
        let socket = options.get_socket().is_some() || options.get_host().starts_with('/');
        Ok(Endpoint {
            what: "PostgreSQL",
            url,
            host: (!socket).then(|| options.get_host().to_string()),
            database: options.get_database().map(str::to_string),
        })
    }

    pub fn redis(url: &'a str) -> Result<Endpoint<'a>> {
        let parsed = url::Url::parse(url).map_err(|e| {
            Failure::usage(format!(
                "Redis URL {} is not valid: {e}; use redis://[user:password@]host:port/db or rediss:// for TLS",
                redact::url(url)
            ))
        })?;
        let socket = matches!(parsed.scheme(), "unix" | "redis+unix");
        Ok(Endpoint {
            what: "Redis",
            url,
            host: (!socket).then(|| parsed.host_str().unwrap_or("localhost").to_string()),
            database: None,
        })
    }
}

/// Refuses the write when a rule forbids it. The error names every rule that
/// matched and every flag needed, at once, so one corrected run gets through.
pub fn check(target: &Endpoint, rules: &Rules) -> Result<()> {
    let shown = redact::url(target.url);
    let production = target
        .host
        .iter()
        .chain(target.database.iter())
        .find_map(|name| production_marker(name, rules.production_markers).map(|m| (name, m)));
    let remote = target
        .host
        .as_ref()
        .filter(|h| !is_local(h) && !rules.allow_hosts.iter().any(|p| glob(p, h)));
    let mut why = Vec::new();
    let mut fix = Vec::new();
    if let Some(host) = remote {
        why.push(format!(
            "host `{host}` is not local and matches no --allow-host pattern"
        ));
        fix.push(format!(
            "pass --allow-host '{host}' (or a pattern such as '*.{}', or set FICTURES_SEED_ALLOW_HOSTS)",
            host.split_once('.').map_or(host.as_str(), |(_, rest)| rest)
        ));
    }
    match production {
        Some((name, marker)) if !rules.production_override => {
            why.push(format!(
                "`{name}` looks like production (marker `{marker}`)"
            ));
            fix.push(format!("pass {PRODUCTION_OVERRIDE}"));
        }
        // Said even with --quiet: nobody should write to production unawares.
        Some(_) if why.is_empty() => eprintln!(
            "warning: writing to production-looking {} at {shown} ({PRODUCTION_OVERRIDE})",
            target.what
        ),
        _ => {}
    }
    if why.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        ExitCode::Refused,
        format!(
            "refusing to write to {} at {shown}: {}; if you really mean to write there, {}",
            target.what,
            why.join(", and "),
            fix.join(" and ")
        ),
    ))
}

fn is_local(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The marker `name` contains as a whole word (split on anything but letters
/// and digits), so `prod-db` and `fictures_production` match but `products` does not.
fn production_marker<'m>(name: &str, markers: &'m [String]) -> Option<&'m str> {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::to_ascii_lowercase)
        .collect();
    markers
        .iter()
        .find(|m| words.iter().any(|w| w == &m.to_ascii_lowercase()))
        .map(String::as_str)
}

/// `*` matches any run of characters; everything else matches itself, ignoring case.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.to_ascii_lowercase(), text.to_ascii_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == t;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !t.starts_with(first) || !t[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &t[first.len()..t.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules<'a>(allow: &'a [String], markers: &'a [String], over: bool) -> Rules<'a> {
        Rules {
            allow_hosts: allow,
            production_markers: markers,
            production_override: over,
        }
    }

    fn verdict(url: &str, allow: &[&str], over: bool) -> std::result::Result<(), String> {
        let allow: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
        let markers = vec!["prod".to_string(), "production".to_string()];
        let target = if url.starts_with("postgres") {
            Endpoint::postgres(url)
        } else {
            Endpoint::redis(url)
        }
        .unwrap();
        check(&target, &rules(&allow, &markers, over)).map_err(|f| {
            assert_eq!(f.code, ExitCode::Refused);
            f.message
        })
    }

    #[test]
    fn local_targets_pass() {
        assert!(verdict("postgres://u:p@127.0.0.1:5432/fictures", &[], false).is_ok());
        assert!(verdict("postgres://localhost/fictures", &[], false).is_ok());
        assert!(verdict("postgres://u@[::1]:5432/x", &[], false).is_ok());
        assert!(verdict("postgres:///fictures?host=/var/run/postgresql", &[], false).is_ok());
        assert!(verdict("redis://127.0.0.1:6379/0", &[], false).is_ok());
    }

    #[test]
    fn remote_hosts_need_a_pattern() {
        let url = "postgres://u:hunter2@ep-cool-1.us-east-2.aws.neon.tech/neondb?sslmode=require";
        let e = verdict(url, &[], false).unwrap_err();
        assert!(
            e.contains("--allow-host 'ep-cool-1.us-east-2.aws.neon.tech'"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        assert!(verdict(url, &["*.neon.tech"], false).is_ok());
        assert!(verdict(url, &["*.example.com"], false).is_err());
        assert!(
            verdict(
                "rediss://default:pw@cache.upstash.io:6379",
                &["*.upstash.io"],
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn production_names_need_the_override() {
        let e = verdict(
            "postgres://u@db.internal/fictures_production",
            &["*"],
            false,
        )
        .unwrap_err();
        assert!(
            e.contains("marker `production`") && e.contains(PRODUCTION_OVERRIDE),
            "{e}"
        );
        assert!(verdict("postgres://u@prod-db.internal/app", &["*"], false).is_err());
        // Even local ones, and even when allowed by pattern.
        assert!(verdict("postgres://127.0.0.1/app_prod", &[], false).is_err());
        assert!(verdict("postgres://127.0.0.1/app_prod", &[], true).is_ok());
        assert!(verdict("postgres://127.0.0.1/products", &[], false).is_ok());
    }

    #[test]
    fn every_flag_needed_is_named_at_once() {
        let e = verdict("postgres://u@db.prod.example.com/app", &[], false).unwrap_err();
        assert!(e.contains("--allow-host 'db.prod.example.com'"), "{e}");
        assert!(e.contains(PRODUCTION_OVERRIDE), "{e}");
        assert!(
            e.contains("is not local") && e.contains("marker `prod`"),
            "{e}"
        );
    }

    #[test]
    fn globs() {
        assert!(glob("*.neon.tech", "ep-x.neon.tech"));
        assert!(!glob("*.neon.tech", "neon.tech.evil.com"));
        assert!(glob("db-*-staging.*", "db-eu-staging.example.com"));
        assert!(glob("EXACT.host", "exact.HOST"));
    }
}
