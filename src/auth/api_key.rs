//! The app's API key format (`api_keys` table): `fic_<12>_<base64url secret>`,
//! where `<12>` repeats the secret's first 12 characters, and the row stores
//! only that prefix and the SHA-256 of the whole key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Every scope the app's API accepts. Only `*` is a wildcard in the app
/// (`admin:all` is checked by a single admin route), so seeded keys must list
/// the scopes they need explicitly.
pub const SCOPES: [&str; 14] = [
    "stories:read",
    "stories:write",
    "stories:delete",
    "stories:publish",
    "chapters:read",
    "chapters:write",
    "chapters:delete",
    "analytics:read",
    "ai:use",
    "community:read",
    "community:write",
    "settings:read",
    "settings:write",
    "admin:all",
];

/// Whether `s` is one of [`SCOPES`].
#[must_use]
pub fn is_scope(s: &str) -> bool {
    SCOPES.contains(&s)
}

/// One API key in all the forms the app and its tests need. Its `Debug`
/// leaves out the plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// What a client sends as `Authorization: Bearer <plaintext>`; never stored by the app.
    pub plaintext: String,
    /// `api_keys.key_prefix`: `fic_` and 12 characters (16 in all).
    pub prefix: String,
    /// `api_keys.key_hash`: lowercase hex SHA-256 of `plaintext` (64 characters).
    pub hash: String,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("plaintext", &"***")
            .field("prefix", &self.prefix)
            .field("hash", &self.hash)
            .finish()
    }
}

/// Builds the key for a 32-byte secret the caller chose (the seeder derives
/// it from the seed file so reruns keep the same key).
#[must_use]
pub fn from_secret(secret: [u8; 32]) -> ApiKey {
    let body = URL_SAFE_NO_PAD.encode(secret);
    // 32 bytes always encode to 43 ASCII characters, so slicing at 12 is safe.
    let prefix = format!("fic_{}", &body[..12]);
    let plaintext = format!("{prefix}_{body}");
    ApiKey {
        hash: key_hash(&plaintext),
        prefix,
        plaintext,
    }
}

/// `api_keys.key_hash` for a plaintext key: lowercase hex SHA-256.
#[must_use]
pub fn key_hash(plaintext: &str) -> String {
    crate::pure::hex::sha256(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_key() {
        // Computed independently with Python:
        //   python3 -c "import base64,hashlib; b=base64.urlsafe_b64encode(bytes(range(32))).rstrip(b'=').decode(); \
        //     k='fic_'+b[:12]+'_'+b; print(k); print(hashlib.sha256(k.encode()).hexdigest())"
        let key = from_secret(core::array::from_fn(|i| u8::try_from(i).unwrap()));
        assert_eq!(
            key.plaintext,
            "fic_AAECAwQFBgcI_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
        );
        assert_eq!(key.prefix, "fic_AAECAwQFBgcI");
        assert_eq!(
            key.hash,
            "bca153bb9adaa3d33aeaddce5b32f12983432e8760d3a07fbbd446acf613d794"
        );
    }

    #[test]
    fn shape_fits_the_columns() {
        // 0xfb/0xff bytes exercise the URL-safe characters `-` and `_`.
        let key = from_secret([0xfb; 32]);
        assert_eq!(key.plaintext.len(), 60);
        assert_eq!(key.prefix.len(), 16, "key_prefix is varchar(16)");
        assert_eq!(key.hash.len(), 64, "key_hash is varchar(64)");
        assert!(key.plaintext.starts_with(&format!("{}_", key.prefix)));
        assert!(!key.plaintext.contains('='));
        assert!(!key.plaintext.contains('+') && !key.plaintext.contains('/'));
        let body = &key.plaintext[17..];
        assert_eq!(&key.prefix[4..], &body[..12]);
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap(), [0xfb; 32]);
        assert!(
            key.hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    #[test]
    fn different_secrets_give_different_keys() {
        assert_ne!(from_secret([1; 32]), from_secret([2; 32]));
        assert_eq!(from_secret([1; 32]), from_secret([1; 32]));
    }

    #[test]
    fn scopes() {
        assert!(SCOPES.iter().all(|s| is_scope(s)));
        assert!(is_scope("admin:all"));
        for bad in ["*", "", "stories", "Stories:read", "stories:read ", "admin"] {
            assert!(!is_scope(bad), "{bad:?}");
        }
    }
}
