//! The catalog and accounts the last run read from a database, remembered on
//! disk so that the next run can build its reads at once and send them in the
//! same round trip as the catalog's version and the accounts that confirm
//! them. A copy the server disagrees with costs a second attempt, never a
//! wrong answer.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What a run read before its transaction: the catalog query's answer, the
/// catalog's version (`pure::catalog::VERSION`), and the accounts query's answer
/// (`null` when the catalog had no users table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hint {
    pub catalog: Value,
    pub version: String,
    pub users: Value,
}

/// Where hints live: `$FICTURES_SEED_CACHE_DIR` (empty turns them off), else
/// `$XDG_CACHE_HOME/fictures-seed`, else `$HOME/.cache/fictures-seed`.
fn dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = std::env::var_os("FICTURES_SEED_CACHE_DIR") {
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("fictures-seed"))
}

/// One file per database (its redacted URL) and per shape of the queries
/// whose answers it holds, so a new build never reads an old build's file.
fn path(database: &str, queries: &str) -> Option<PathBuf> {
    let digest = Sha256::new()
        .chain_update(database.as_bytes())
        .chain_update([0])
        .chain_update(queries.as_bytes())
        .finalize();
    let name = crate::pure::hex::hex(&digest[..12]);
    Some(dir()?.join(format!("catalog-{name}.json")))
}

/// The hint for `database`, when one was kept and still parses.
pub fn load(database: &str, queries: &str) -> Option<Hint> {
    let path = path(database, queries)?;
    let text = std::fs::read(&path).ok()?;
    match serde_json::from_slice(&text) {
        Ok(hint) => Some(hint),
        Err(e) => {
            tracing::debug!("ignoring the catalog hint {}: {e}", path.display());
            None
        }
    }
}

/// Keeps `hint` for the next run. A hint only saves a round trip, so a
/// directory that cannot be written is logged and otherwise ignored.
pub fn store(database: &str, queries: &str, hint: &Hint) {
    let Some(path) = path(database, queries) else {
        return;
    };
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| {
            let text = serde_json::to_vec(hint).expect("JSON values serialise");
            // Only this user's: it names the app's tables and accounts.
            crate::io::file::write_atomic(&path, &text, 0o600)
        });
    if let Err(e) = written {
        tracing::debug!("could not keep the catalog hint {}: {e}", path.display());
    }
}
