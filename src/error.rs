//! Typed failures and the exit codes they map to.
//! Every failure the tool reports ends in one sentence saying what went wrong,
//! where, and what to do; the exit code tells scripts which kind it was.

use std::fmt;

/// The documented exit codes (README "Exit codes" mirrors this table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Ok = 0,
    Drift = 1,
    Usage = 2,
    Refused = 3,
    Connect = 4,
    Schema = 5,
    LockTimeout = 6,
    CacheAfterCommit = 7,
    Database = 8,
    Io = 9,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// Short machine-readable name used in `--json` error objects.
    pub fn name(self) -> &'static str {
        match self {
            ExitCode::Ok => "ok",
            ExitCode::Drift => "drift",
            ExitCode::Usage => "usage",
            ExitCode::Refused => "refused",
            ExitCode::Connect => "connect",
            ExitCode::Schema => "schema",
            ExitCode::LockTimeout => "lock_timeout",
            ExitCode::CacheAfterCommit => "cache_after_commit",
            ExitCode::Database => "database",
            ExitCode::Io => "io",
        }
    }
}

/// A failure with its exit code and a message that is already redacted.
#[derive(Debug)]
pub struct Failure {
    pub code: ExitCode,
    pub message: String,
}

impl Failure {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
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
