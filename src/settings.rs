//! Where the tool connects: `--env-file` (read like dotenv, never overriding
//! variables already set), then the app's own precedence for the database URL
//! (`DATABASE_URL`, `POSTGRES_URL_POOLED`, `POSTGRES_URL`) and `REDIS_URL`.

use std::path::Path;

use crate::error::{ExitCode, Failure, Result};
use crate::guard;
use crate::pure::credentials::Credentials;
use crate::pure::redact;
use crate::pure::redact::Secret;
use crate::pure::seedfile::{self, SeedFile};

/// The app's order of precedence for the Postgres connection string.
pub const DATABASE_VARS: [&str; 3] = ["DATABASE_URL", "POSTGRES_URL_POOLED", "POSTGRES_URL"];

/// Where a command connects, resolved once.
pub struct Servers {
    pub database: String,
    /// `None` with --no-cache.
    pub redis: Option<String>,
}

impl Servers {
    pub fn resolve(g: &crate::config::Config, no_cache: bool) -> Result<Servers> {
        Ok(Servers {
            database: database_url(g.database_url.as_deref())?,
            redis: redis_url(g.redis_url.as_deref(), no_cache)?,
        })
    }

    /// Applies the target guard to both servers before a command writes.
    pub fn guard(&self, g: &crate::config::Config, database: bool) -> Result<()> {
        let rules = guard::Rules {
            allow_hosts: &g.allow_hosts,
            production_markers: &g.production_markers,
            production_override: g.production_override,
        };
        if database {
            guard::check(&guard::Endpoint::postgres(&self.database)?, &rules)?;
        }
        if let Some(redis) = &self.redis {
            guard::check(&guard::Endpoint::redis(redis)?, &rules)?;
        }
        Ok(())
    }
}

/// Loads the `--env-file` named in `args` before the command line is parsed,
/// so its variables feed options that read the environment too.
pub fn preload_env_file(args: &[String]) -> Result<()> {
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let path = match arg.strip_prefix("--env-file=") {
            Some(p) => Some(p.to_string()),
            None if arg == "--env-file" => it.next().cloned(),
            None => None,
        };
        if let Some(path) = path {
            load_env_file(Path::new(&path))?;
        }
    }
    Ok(())
}

/// Loads `path` into the environment without overriding what is already set.
pub fn load_env_file(path: &Path) -> Result<()> {
    dotenvy::from_path(path).map_err(|e| match e {
        dotenvy::Error::Io(io) => Failure::usage(format!(
            "cannot read env file {}: {io}; pass an existing file to --env-file",
            path.display()
        )),
        // The line itself is never shown: it may hold a password.
        dotenvy::Error::LineParse(line, at) => Failure::usage(format!(
            "env file {} cannot be parsed at {}character {}; fix that line",
            path.display(),
            line_number(path, &line).map_or(String::new(), |n| format!("line {n}, ")),
            at + 1
        )),
        dotenvy::Error::EnvVar(e) => Failure::usage(format!(
            "env file {} refers to a variable that is not usable ({e}); fix the file",
            path.display()
        )),
        _ => Failure::usage(format!(
            "env file {} cannot be read; fix the file",
            path.display()
        )),
    })
}

/// The 1-based number of the line of `path` that starts `text`.
fn line_number(path: &Path, text: &str) -> Option<usize> {
    let first = text.lines().next()?;
    let file = std::fs::read_to_string(path).ok()?;
    file.lines().position(|l| l == first).map(|i| i + 1)
}

/// Reads and validates the seed file at `path`, or the built-in one; the
/// error names file, line, column and field.
pub fn seed_file(path: Option<&Path>) -> Result<SeedFile> {
    match path {
        Some(path) => load_file(path),
        None => seedfile::built_in(),
    }
}

fn load_file(path: &Path) -> Result<SeedFile> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(format!(
            "cannot read seed file {}: {e}; pass an existing file with --seed-file",
            path.display()
        ))
    })?;
    seedfile::parse(&text, &path.display().to_string())
}

/// Reads the passwords and key secret the seed file points at.
pub fn credentials(file: &SeedFile) -> Credentials {
    let mut c = Credentials::default();
    for (key, spec) in &file.accounts {
        let spec = spec.get_ref();
        let value = match (&spec.password, &spec.password_env) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(var)) => {
                let v = std::env::var(var).ok().filter(|v| !v.is_empty());
                if v.is_none() {
                    c.notes.push(format!(
                        "${var} is not set, so account `{key}` gets no password"
                    ));
                }
                v
            }
            (None, None) => None,
        };
        if let Some(p) = value {
            c.passwords.insert(key.clone(), Secret::new(p));
        }
    }
    let wants_keys = file
        .accounts
        .values()
        .any(|a| !a.get_ref().api_keys.is_empty());
    let var = &file.auth.key_secret_env;
    c.key_secret = std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Secret::new);
    match &c.key_secret {
        Some(_) => {}
        None if wants_keys => c
            .notes
            .push(format!("${var} is not set, so no API key can be created; stored fixture keys are kept and checked on all but their hash")),
        None => {}
    }
    c
}

/// The database URL: the flag, else the first of the app's variables that is set.
pub fn database_url(flag: Option<&str>) -> Result<String> {
    let found = flag.map(str::to_string).or_else(|| {
        DATABASE_VARS
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
    });
    let url = found.ok_or_else(|| {
        Failure::usage(
            "no database given: set DATABASE_URL (or POSTGRES_URL_POOLED / POSTGRES_URL), pass --database-url, or point --env-file at the app's .env.local",
        )
    })?;
    expect_scheme(
        &url,
        "database",
        &["postgres", "postgresql"],
        "this tool speaks only PostgreSQL: use postgres://user:password@host:port/database",
    )?;
    Ok(url)
}

/// A URL of another kind (mysql://, http://) is a usage error here, not a
/// connection to attempt and fail later with a misleading message.
fn expect_scheme(url: &str, what: &str, schemes: &[&str], fix: &str) -> Result<()> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme {
        Some(s) if schemes.contains(&s.as_str()) => Ok(()),
        Some(s) => Err(Failure::usage(format!(
            "the {what} URL {} is a `{s}` URL; {fix}",
            redact::url(url)
        ))),
        None => Err(Failure::usage(format!(
            "the {what} URL {} has no scheme; {fix}",
            redact::url(url)
        ))),
    }
}

/// The Redis URL, or `None` when `--no-cache` makes it unnecessary.
pub fn redis_url(flag: Option<&str>, no_cache: bool) -> Result<Option<String>> {
    if no_cache {
        return Ok(None);
    }
    let url = flag
        .map(str::to_string)
        .or_else(|| std::env::var("REDIS_URL").ok().filter(|s| !s.is_empty()))
        .ok_or_else(|| {
            Failure::new(
                ExitCode::Usage,
                "no Redis given: set REDIS_URL or pass --redis-url (or --no-cache to skip cache invalidation, leaving the app's cache possibly stale)",
            )
        })?;
    expect_scheme(
        &url,
        "Redis",
        &["redis", "rediss", "unix", "redis+unix"],
        "use redis://[user:password@]host:port/db, or rediss:// for TLS",
    )?;
    Ok(Some(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheme(url: &str) -> std::result::Result<(), String> {
        expect_scheme(
            url,
            "database",
            &["postgres", "postgresql"],
            "use postgres://",
        )
        .map_err(|f| {
            assert_eq!(f.code, ExitCode::Usage);
            f.message
        })
    }

    #[test]
    fn postgres_urls_pass_in_either_spelling_and_case() {
        assert!(scheme("postgres://u@h/db").is_ok());
        assert!(scheme("postgresql://u@h/db").is_ok());
        assert!(scheme("POSTGRES://u@h/db").is_ok());
    }

    #[test]
    fn another_kind_of_url_is_named_without_its_password() {
        let e = scheme("mysql://root:hunter2@h/db").unwrap_err();
        assert!(e.contains("is a `mysql` URL"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        assert!(scheme("h:5432/db").unwrap_err().contains("has no scheme"));
    }

    #[test]
    fn a_missing_file_is_a_usage_error_naming_it() {
        let failure = seed_file(Some(Path::new("/nonexistent/seed.toml"))).unwrap_err();
        assert_eq!(failure.code, crate::error::ExitCode::Usage);
        assert!(
            failure
                .message
                .contains("cannot read seed file /nonexistent/seed.toml")
        );
    }

    #[test]
    fn a_malformed_env_file_line_is_named_by_number_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "A=1\nB='unterminated secret\n").unwrap();
        let e = load_env_file(&path).unwrap_err();
        assert_eq!(e.code, ExitCode::Usage);
        assert!(e.message.contains("line 2"), "{}", e.message);
        assert!(!e.message.contains("secret"), "{}", e.message);
        let missing = load_env_file(&dir.path().join("nope")).unwrap_err();
        assert!(
            missing.message.contains("cannot read env file"),
            "{}",
            missing.message
        );
    }
}
