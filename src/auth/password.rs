//! The app's password format for `users.password`: PBKDF2-HMAC-SHA256 with
//! 100,000 iterations, stored as standard base64 of the 16-byte salt followed
//! by the 32-byte derived key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// PBKDF2 iteration count the app hashes and verifies with.
pub const ITERATIONS: u32 = 100_000;
/// Salt length in bytes.
pub const SALT_LEN: usize = 16;
/// Derived key length in bytes.
pub const KEY_LEN: usize = 32;

fn derive(password: &str, salt: &[u8]) -> [u8; KEY_LEN] {
    pbkdf2::pbkdf2_hmac_array::<Sha256, KEY_LEN>(password.as_bytes(), salt, ITERATIONS)
}

/// Hashes `password` the way the app stores it: 64 characters of base64.
///
/// The salt is the caller's so that the seeder can derive it from the seed
/// file and write byte-identical rows on every run.
#[must_use]
pub fn hash(password: &str, salt: [u8; SALT_LEN]) -> String {
    let mut stored = [0u8; SALT_LEN + KEY_LEN];
    stored[..SALT_LEN].copy_from_slice(&salt);
    stored[SALT_LEN..].copy_from_slice(&derive(password, &salt));
    STANDARD.encode(stored)
}

/// Whether `password` matches a stored hash; `false` for anything that is
/// not the app's format (wrong length, bad base64, a bcrypt string, …).
#[must_use]
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(bytes) = STANDARD.decode(stored) else {
        return false;
    };
    if bytes.len() != SALT_LEN + KEY_LEN {
        return false;
    }
    let (salt, key) = bytes.split_at(SALT_LEN);
    // Constant time, so that a timing probe cannot learn the key byte by byte.
    derive(password, salt).ct_eq(key).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Computed independently with Python's hashlib:
    //   python3 -c "import hashlib,base64; s=bytes(range(16)); \
    //     print(base64.b64encode(s+hashlib.pbkdf2_hmac('sha256', \
    //     b'correct horse battery staple', s, 100000, 32)).decode())"
    const KAT_ASCII: &str = "AAECAwQFBgcICQoLDA0OD0nUnCX1l4RiCfDZLndwq2Thx16UtM5sUJJl7mcXXSoe";
    // Same with salt = 16 × 0xff and password 'pässwörd' encoded as UTF-8.
    const KAT_UTF8: &str = "/////////////////////+hsMwkeW+ZBF4ABmVNzq91zPz+yZ34JtxVbp+CBKZHI";

    fn counting_salt() -> [u8; 16] {
        core::array::from_fn(|i| u8::try_from(i).unwrap())
    }

    #[test]
    fn matches_python_hashlib() {
        assert_eq!(
            hash("correct horse battery staple", counting_salt()),
            KAT_ASCII
        );
        assert_eq!(hash("pässwörd", [0xff; 16]), KAT_UTF8);
    }

    #[test]
    fn stored_form_is_64_padded_base64_chars() {
        let stored = hash("x", [7; 16]);
        assert_eq!(stored.len(), 64);
        assert_eq!(STANDARD.decode(&stored).unwrap().len(), 48);
    }

    #[test]
    fn verify_round_trips_and_rejects_wrong_password() {
        assert!(verify("correct horse battery staple", KAT_ASCII));
        assert!(verify("pässwörd", KAT_UTF8));
        assert!(!verify("correct horse battery stapl", KAT_ASCII));
        assert!(!verify("", KAT_ASCII));
    }

    #[test]
    fn salt_changes_the_hash() {
        assert_ne!(hash("same", [1; 16]), hash("same", [2; 16]));
    }

    #[test]
    fn malformed_stored_values_are_rejected() {
        let too_short = &KAT_ASCII[..60];
        let unpadded = STANDARD.encode([0u8; 47]);
        let too_long = STANDARD.encode([0u8; 49]);
        let bcrypt = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";
        for stored in ["", "not base64!", too_short, &unpadded, &too_long, bcrypt] {
            assert!(
                !verify("correct horse battery staple", stored),
                "{stored:?}"
            );
        }
        // URL-safe alphabet is not the app's format even when it decodes.
        let url_safe = KAT_UTF8.replace('/', "_").replace('+', "-");
        assert!(!verify("pässwörd", &url_safe));
    }
}
