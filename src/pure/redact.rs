//! Keeping secrets out of what the tool prints, by structure rather than by
//! searching text: a secret lives in a [`Secret`], whose `Debug` and
//! `Display` show `***`, and a URL is shown only through [`url`], which drops
//! its password. Nothing is rewritten after the fact, so a password such as
//! `1` can never corrupt a message or a JSON report.

use std::fmt;

/// A password, token or key. It prints as `***`; only [`Secret::expose`]
/// gives the value, for the places that must use it (hashing, signing, the
/// storage-state files, `--show-secrets`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A URL for display, with its password (if any) replaced by `***`. Text
/// that is not a URL is shown only by its scheme, since it may hold anything.
pub fn url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => match raw.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://… (not a valid URL)"),
            None => "(not a URL)".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn urls_lose_only_their_password() {
        assert_eq!(
            url("postgres://app:1@db.example.com:5432/fictures_1?sslmode=require"),
            "postgres://app:***@db.example.com:5432/fictures_1?sslmode=require"
        );
        assert_eq!(url("redis://127.0.0.1:6379/1"), "redis://127.0.0.1:6379/1");
        // An unescaped @ in a password still parses; the password still goes.
        assert_eq!(
            url("postgres://app:p@ss@host/db"),
            "postgres://app:***@host/db"
        );
        assert_eq!(
            url("postgres://app:pw@[bad/db"),
            "postgres://… (not a valid URL)"
        );
        assert_eq!(url("host=x password=y"), "(not a URL)");
    }
}
