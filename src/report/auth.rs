//! What `auth` and `seed --auth-out` report: the storage-state files written.

use serde::Serialize;
use serde_json::Value;

/// The files written, for the report; secrets only with --show-secrets.
#[derive(Debug, Default, Serialize)]
pub struct AuthLine {
    pub dir: String,
    pub files: Vec<StateFile>,
}

#[derive(Debug, Serialize)]
pub struct StateFile {
    pub account: String,
    pub file: String,
    pub user_id: String,
    pub expires: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Value>,
}
