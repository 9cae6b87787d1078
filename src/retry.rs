//! Bounded retries with exponential backoff for connecting: servers that
//! refuse or reset a connection (a restart, a DNS hiccup) get a few more
//! chances, and the final error says how many were made.

use std::future::Future;
use std::time::Duration;

/// Runs `attempt` up to `attempts` times while `transient` says the error is
/// worth another try; returns the last error with the number of attempts made.
pub async fn connect<T, E, F, Fut>(
    what: &str,
    attempts: u32,
    transient: impl Fn(&E) -> bool,
    mut attempt: F,
) -> Result<T, (E, u32)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut delay = Duration::from_millis(200);
    let mut made = 1;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) if made < attempts && transient(&e) => {
                // Shown with -v: the final error alone says how many attempts were made.
                tracing::info!(
                    "connecting to {what} failed (attempt {made} of {attempts}): {}; retrying in {delay:?}",
                    e.to_string()
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                made += 1;
            }
            Err(e) => return Err((e, made)),
        }
    }
}

/// ` after N attempts`, or nothing for a single attempt.
pub fn attempts_note(made: u32) -> String {
    if made > 1 {
        format!(" after {made} attempts")
    } else {
        String::new()
    }
}
