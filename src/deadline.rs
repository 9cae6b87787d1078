//! The whole-run time limit (`--timeout`), kept by a watchdog thread so it
//! fires whatever the run is blocked on (a query, COPY, PBKDF2, a thread
//! join). What it says depends on how far the run got: before the COMMIT was
//! sent nothing was written; after, the outcome is unknown.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::{ExitCode, Failure};

static COMMIT_SENT: AtomicBool = AtomicBool::new(false);
/// Private scratch directories to remove when the run is cut short.
static SCRATCH: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Marks that a COMMIT is on its way to the server.
pub fn commit_sent() {
    COMMIT_SENT.store(true, Ordering::SeqCst);
}

/// Registers a scratch directory the watchdog removes if it ends the run.
pub fn register_scratch(dir: &Path) {
    if let Ok(mut dirs) = SCRATCH.lock() {
        dirs.push(dir.to_path_buf());
    }
}

/// Forgets a scratch directory its owner has removed.
pub fn forget_scratch(dir: &Path) {
    if let Ok(mut dirs) = SCRATCH.lock() {
        dirs.retain(|d| d != dir);
    }
}

/// The failure the run ends with when `timeout` passes.
pub fn expired(timeout: Duration) -> Failure {
    let limit = humantime::format_duration(timeout);
    if COMMIT_SENT.load(Ordering::SeqCst) {
        Failure::new(
            ExitCode::Connect,
            format!(
                "the run took longer than --timeout {limit} after the COMMIT was sent, so the changes may or may not be committed; run `fictures-seed verify` to see which and `fictures-seed invalidate` to clear the fixture's cache keys (running the command again is safe either way)"
            ),
        )
    } else {
        Failure::new(
            ExitCode::Database,
            format!(
                "the run took longer than --timeout {limit}; the open transaction is rolled back as the connection closes, so nothing was written; raise --timeout or check the servers"
            ),
        )
    }
}

/// Starts the watchdog: after `timeout` it removes scratch directories, hands
/// the failure to `report` (which prints it) and ends the process with its
/// code. Closing the process closes the connection, so the server rolls back
/// whatever was not committed.
pub fn start(timeout: Duration, report: impl FnOnce(Failure) -> ExitCode + Send + 'static) {
    std::thread::spawn(move || {
        std::thread::sleep(timeout);
        let failure = expired(timeout);
        if let Ok(dirs) = SCRATCH.lock() {
            for dir in dirs.iter() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        // `report` may end in another failure (a JUnit file it cannot write).
        let code = report(failure);
        std::process::exit(code.code());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_limit_says_how_far_the_run_got() {
        let before = expired(Duration::from_secs(5));
        assert_eq!(before.code, ExitCode::Database);
        assert!(
            before.message.contains("--timeout 5s")
                && before.message.contains("nothing was written")
        );
        commit_sent();
        let after = expired(Duration::from_secs(5));
        assert_eq!(after.code, ExitCode::Connect);
        assert!(after.message.contains("may or may not be committed"));
        assert!(!after.message.contains("nothing was written"));
    }
}
