//! Typed failures and the exit codes they map to.
//! Every failure the tool reports ends in one sentence saying what went wrong,
//! where, and what to do; the exit code tells scripts which kind it was.

use std::fmt;

/// Declares the exit codes once: the enum, the names `--json` reports, and the
/// one-line meanings that `--help` ends with all come from this list.
macro_rules! exit_codes {
    ($($variant:ident = $code:literal, $name:literal, $meaning:literal;)+) => {
        /// The documented exit codes (README "Exit codes" tells the longer story).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ExitCode {
            $($variant = $code,)+
        }

        impl ExitCode {
            /// Every code, in order.
            pub const ALL: &[ExitCode] = &[$(ExitCode::$variant,)+];

            /// Short machine-readable name used in `--json` error objects.
            pub fn name(self) -> &'static str {
                match self {
                    $(ExitCode::$variant => $name,)+
                }
            }

            /// What the code means, in one line.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(ExitCode::$variant => $meaning,)+
                }
            }
        }
    };
}

exit_codes! {
    Ok = 0, "ok", "success (verify: the fixture is exact)";
    Drift = 1, "drift", "verify found differences from the fixture";
    Usage = 2, "usage", "usage or seed-file error; nothing was connected or written";
    Refused = 3, "refused", "the target guard refused a write target (remote or production-looking)";
    Connect = 4, "connect", "cannot connect to PostgreSQL or Redis, or the connection was lost";
    Schema = 5, "schema", "the database schema cannot hold the fixture";
    LockTimeout = 6, "lock_timeout", "timed out waiting for another run's fixture lock";
    CacheAfterCommit = 7, "cache_after_commit", "committed, but clearing the cache failed; run `fictures-seed invalidate`";
    Database = 8, "database", "any other database error; nothing was committed";
    Io = 9, "io", "a file could not be written (--out, --auth-out, --junit, init)";
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The table `--help` ends with.
    pub fn help_table() -> String {
        let mut out = String::from("Exit codes:\n");
        for code in ExitCode::ALL {
            out.push_str(&format!("  {:>2}  {}\n", code.code(), code.meaning()));
        }
        out
    }
}

/// A failure with its exit code and a message that is already redacted.
#[derive(Debug)]
pub struct Failure {
    pub code: ExitCode,
    pub message: String,
    /// The run built on a remembered catalog it had not yet confirmed
    /// (`io::hint`), so a run that reads the catalog afresh may succeed.
    pub unconfirmed: bool,
}

impl Failure {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            unconfirmed: false,
        }
    }

    /// Marks a failure met while building on an unconfirmed catalog hint.
    pub fn unconfirmed(mut self, yes: bool) -> Self {
        self.unconfirmed |= yes;
        self
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(ExitCode::Usage, message)
    }

    pub fn schema(message: impl Into<String>) -> Self {
        Failure::new(ExitCode::Schema, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

pub type Result<T> = std::result::Result<T, Failure>;

/// An answer of a shape the tool did not ask for: never read as a default
/// (an empty state would plan to insert everything), always an error.
pub fn unexpected(shown: &str, what: &str) -> Failure {
    Failure::new(
        ExitCode::Database,
        format!(
            "PostgreSQL at {shown} answered with {what}, which this tool does not understand; nothing was committed; report this with the output of `-vv`"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_in_order() {
        for (i, code) in ExitCode::ALL.iter().enumerate() {
            assert_eq!(code.code(), i as i32, "{code:?}");
        }
        let mut names: Vec<_> = ExitCode::ALL.iter().map(|c| c.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ExitCode::ALL.len());
    }

    #[test]
    fn the_help_table_has_a_line_per_code() {
        let table = ExitCode::help_table();
        assert_eq!(table.lines().count(), ExitCode::ALL.len() + 1, "{table}");
        assert!(
            table.contains("   9  a file could not be written"),
            "{table}"
        );
    }
}
