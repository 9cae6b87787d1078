//! The steps of a run as `-v` shows them: each one's name, what it did and
//! how long it took, on stderr through tracing (`-vv` adds the SQL).

use std::time::Instant;

/// Logs that step `name` finished, `detail` saying what it did, timed from `since`.
pub fn done(name: &str, detail: &str, since: Instant) {
    tracing::debug!(
        "{name}: {detail} in {:.1} ms",
        since.elapsed().as_secs_f64() * 1e3
    );
}
