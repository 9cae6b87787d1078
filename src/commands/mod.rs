//! One file per subcommand; each returns its report and exit code, and leaves
//! printing to `main`.

pub mod auth;
pub mod docs;
pub mod doctor;
pub mod init;
pub mod invalidate;
pub mod migrate;
pub mod seed;
pub mod teardown;
pub mod verify;

use crate::error::ExitCode;
use crate::report::Report;

/// What a command hands back to `main`.
pub type Outcome = (Report, ExitCode);
