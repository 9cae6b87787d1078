//! What fixture accounts sign in with: passwords and the API-key secret, read
//! from the environment variables the seed file names (never from code), and
//! everything derived from them deterministically, so the same seed file and
//! the same environment give byte-identical rows.

use std::collections::BTreeMap;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::auth::{api_key, password};
use crate::pure::redact::Secret;

#[derive(Debug, Default, Clone)]
pub struct Credentials {
    /// Account key → plaintext password.
    pub passwords: BTreeMap<String, Secret>,
    /// The secret API keys are derived from.
    pub key_secret: Option<Secret>,
    /// What could not be resolved, for the run's notes.
    pub notes: Vec<String>,
}

impl Credentials {
    /// The stored form of `plain` for `user_id`: the app's PBKDF2 format with
    /// a salt derived from the seed and the account, so it never changes.
    pub fn password_hash(seed: u64, user_id: &str, plain: &str) -> String {
        let digest = Sha256::new()
            .chain_update(b"fictures-seed/password-salt/v1")
            .chain_update(seed.to_le_bytes())
            .chain_update(user_id.as_bytes())
            .finalize();
        let mut salt = [0u8; password::SALT_LEN];
        salt.copy_from_slice(&digest[..password::SALT_LEN]);
        password::hash(plain, salt)
    }

    /// The API key `name` of `user_id`, derived from the key secret.
    pub fn api_key(&self, user_id: &str, name: &str) -> Option<api_key::ApiKey> {
        let secret = self.key_secret.as_ref()?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose().as_bytes()).ok()?;
        mac.update(format!("fictures-seed/api-key/v1/{user_id}/{name}").as_bytes());
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&mac.finalize().into_bytes());
        let key = api_key::from_secret(bytes);
        Some(key)
    }
}
