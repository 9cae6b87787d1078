//! Auth.js (next-auth v5) session cookies, minted without a browser: the
//! encrypted JWT that `@auth/core/jwt` `encode` writes, as a JWE in compact
//! form with `alg: dir` and `enc: A256CBC-HS512` (RFC 7516, RFC 7518 §5.2).

use aes::Aes256;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt as _, BlockModeEncrypt as _, KeyIvInit as _};
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256, Sha512};

/// The session cookie's name, which is also the HKDF salt of its key: Auth.js
/// adds the `__Secure-` prefix whenever the app is served over https.
#[must_use]
pub fn cookie_name(https: bool) -> &'static str {
    if https {
        "__Secure-authjs.session-token"
    } else {
        "authjs.session-token"
    }
}

/// The claims the app's session callbacks read from the token.
///
/// Field order is the JSON order, and matches what `encode` produces (the
/// token's own fields, then `iat`, `exp`, `jti`), so a minted cookie looks
/// like one the app issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// `users.id`, as Auth.js puts it in `sub`.
    pub sub: String,
    /// `users.id` again: the app's `jwt` callback copies it to `id`, and reads it from there.
    pub id: String,
    /// `users.email`.
    pub email: String,
    /// `users.name`.
    pub name: String,
    /// `users.role`: `reader`, `writer` or `manager`.
    pub role: String,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Expiry, unix seconds; Auth.js refuses the token 15 s after this.
    pub exp: i64,
    /// Token id (Auth.js uses a random UUID).
    pub jti: String,
}

const ENC: &str = "A256CBC-HS512";
const KEY_LEN: usize = 64;

/// The 64-byte content key, derived exactly as `getDerivedEncryptionKey` in
/// `@auth/core/jwt` does: the cookie name is both the salt and part of the info.
fn derive_key(secret: &str, cookie_name: &str) -> [u8; KEY_LEN] {
    let info = format!("Auth.js Generated Encryption Key ({cookie_name})");
    let mut key = [0u8; KEY_LEN];
    hkdf::Hkdf::<Sha256>::new(Some(cookie_name.as_bytes()), secret.as_bytes())
        .expand(info.as_bytes(), &mut key)
        .expect("64 bytes is far below HKDF-SHA256's 8160-byte limit");
    key
}

/// RFC 7638 JWK thumbprint of the key as an `oct` JWK, hashed with SHA-512
/// (Auth.js picks `sha{key bits}`). `encode` writes it as `kid`, and `decode`
/// uses it to choose among rotated secrets.
fn key_id(key: &[u8; KEY_LEN]) -> String {
    let jwk = format!(r#"{{"k":"{}","kty":"oct"}}"#, URL_SAFE_NO_PAD.encode(key));
    URL_SAFE_NO_PAD.encode(Sha512::digest(jwk.as_bytes()))
}

/// The A256CBC-HS512 authentication tag (RFC 7518 §5.2.2.1): the first half
/// of HMAC-SHA512 over AAD ‖ IV ‖ ciphertext ‖ AAD length in bits (64-bit BE).
fn mac(mac_key: &[u8], aad: &[u8], iv: &[u8], ciphertext: &[u8]) -> Hmac<Sha512> {
    let aad_bits = u64::try_from(aad.len()).expect("usize fits in u64") * 8;
    let mut mac = <Hmac<Sha512>>::new_from_slice(mac_key).expect("HMAC takes any key length");
    mac.update(aad);
    mac.update(iv);
    mac.update(ciphertext);
    mac.update(&aad_bits.to_be_bytes());
    mac
}

/// A256CBC-HS512 encryption; returns ciphertext and the 32-byte tag.
fn seal(key: &[u8; KEY_LEN], iv: [u8; 16], aad: &[u8], plaintext: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (mac_key, enc_key) = key.split_at(32);
    let ciphertext = cbc::Encryptor::<Aes256>::new_from_slices(enc_key, &iv)
        .expect("32-byte key and 16-byte IV")
        .encrypt_padded_vec::<Pkcs7>(plaintext);
    let tag = mac(mac_key, aad, &iv, &ciphertext).finalize().into_bytes();
    (ciphertext, tag[..32].to_vec())
}

/// A256CBC-HS512 decryption; `None` unless the tag checks out.
fn open(
    key: &[u8; KEY_LEN],
    iv: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Option<Vec<u8>> {
    let (mac_key, enc_key) = key.split_at(32);
    if iv.len() != 16 || tag.len() != 32 {
        return None;
    }
    // Check the tag (in constant time) before touching the padding, so the
    // decryption cannot serve as a padding oracle.
    mac(mac_key, aad, iv, ciphertext)
        .verify_truncated_left(tag)
        .ok()?;
    cbc::Decryptor::<Aes256>::new_from_slices(enc_key, iv)
        .ok()?
        .decrypt_padded_vec::<Pkcs7>(ciphertext)
        .ok()
}

/// Mints a session cookie value the app accepts as a signed-in session.
///
/// `secret` is the app's `AUTH_SECRET`; `cookie_name` must be the name the
/// cookie will be stored under (see [`cookie_name`]), because Auth.js salts
/// the key with it. The IV is the caller's so that output is reproducible.
#[must_use]
pub fn encrypt(secret: &str, cookie_name: &str, claims: &Claims, iv: [u8; 16]) -> String {
    let key = derive_key(secret, cookie_name);
    // Same fields in the same order as jose writes for `encode`, so the token
    // is byte-identical to one Auth.js would produce with this IV.
    let header = format!(r#"{{"alg":"dir","enc":"{ENC}","kid":"{}"}}"#, key_id(&key));
    let protected = URL_SAFE_NO_PAD.encode(header);
    let payload = serde_json::to_vec(claims).expect("Claims always serialises");
    let (ciphertext, tag) = seal(&key, iv, protected.as_bytes(), &payload);
    // `dir` has no encrypted key, hence the empty second part.
    format!(
        "{protected}..{}.{}.{}",
        URL_SAFE_NO_PAD.encode(iv),
        URL_SAFE_NO_PAD.encode(ciphertext),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// Decrypts a session cookie value and returns its claims as JSON, or `None`
/// when it was not made with this secret and cookie name, was altered, or is
/// not an `A256CBC-HS512` token.
///
/// Unlike Auth.js this does not look at `exp`: a caller that wants to tell an
/// expired session from a broken one reads `exp` itself.
#[must_use]
pub fn decrypt(secret: &str, cookie_name: &str, token: &str) -> Option<serde_json::Value> {
    let parts: Vec<&str> = token.split('.').collect();
    let [protected, encrypted_key, iv, ciphertext, tag] = parts[..] else {
        return None;
    };
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(protected).ok()?).ok()?;
    if header["alg"] != "dir" || header["enc"] != ENC || !encrypted_key.is_empty() {
        return None;
    }
    let key = derive_key(secret, cookie_name);
    // Auth.js accepts a token without `kid`; with one, it must name this key.
    if header.get("kid").is_some_and(|kid| *kid != key_id(&key)) {
        return None;
    }
    let plaintext = open(
        &key,
        &URL_SAFE_NO_PAD.decode(iv).ok()?,
        protected.as_bytes(),
        &URL_SAFE_NO_PAD.decode(ciphertext).ok()?,
        &URL_SAFE_NO_PAD.decode(tag).ok()?,
    )?;
    serde_json::from_slice::<serde_json::Value>(&plaintext)
        .ok()
        .filter(serde_json::Value::is_object)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "fictures-test-secret";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn claims() -> Claims {
        Claims {
            sub: "DbnFCRuBTm9B0FMfNB7kj".into(),
            id: "DbnFCRuBTm9B0FMfNB7kj".into(),
            email: "writer@fictures.xyz".into(),
            name: "Writer Ünïcode".into(),
            role: "writer".into(),
            iat: 1_700_000_000,
            exp: 1_702_592_000,
            jti: "6f1c1d52-3f0e-4c1a-9a43-3b2f8a1e0c77".into(),
        }
    }

    fn counting_iv() -> [u8; 16] {
        core::array::from_fn(|i| u8::try_from(i).unwrap())
    }

    #[test]
    fn cookie_names() {
        assert_eq!(cookie_name(false), "authjs.session-token");
        assert_eq!(cookie_name(true), "__Secure-authjs.session-token");
    }

    #[test]
    fn key_derivation_matches_auth_js() {
        // From @panva/hkdf (what @auth/core 0.41.3 calls) and jose's
        // calculateJwkThumbprint, run in tests/node:
        //   hkdf("sha256", "fictures-test-secret", salt,
        //        `Auth.js Generated Encryption Key (${salt})`, 64)
        //   calculateJwkThumbprint({kty: "oct", k: base64url(key)}, "sha512")
        let key = derive_key(SECRET, "authjs.session-token");
        assert_eq!(
            key.to_vec(),
            hex(
                "e422fc3713e24d14a03f99c9dd694cd0d9d9d497edd9ad63d83363dbb710d321\
                 c491bd572ed4845907788ed3c3fc1fd0a8bb884a5fa2e181e523f6210d755b8c"
            )
        );
        assert_eq!(
            key_id(&key),
            "fIK-w-mW5CBJejuvi-9GlUeR4Y2U0ZmohVDy2bJ1Dst9iX-2enaSItVeHAXf92dOotOUUpi1tjBuW8Qgz3CH8w"
        );
        let secure = derive_key(SECRET, "__Secure-authjs.session-token");
        assert_eq!(
            secure.to_vec(),
            hex(
                "cfa1a3a09018253c1544595a7f57f0ce7b03ce34484df04de634b4d03f5d0f41\
                 a2110bd91f2574b2fb93d26065a5535519995e0805f9f552790e12513b095c2e"
            )
        );
    }

    #[test]
    fn a256cbc_hs512_matches_rfc7518_appendix_b3() {
        let key: [u8; 64] = core::array::from_fn(|i| u8::try_from(i).unwrap());
        let iv: [u8; 16] = hex("1af38c2dc2b96ffdd86694092341bc04").try_into().unwrap();
        let plaintext = b"A cipher system must not be required to be secret, and it must be able to fall into the hands of the enemy without inconvenience";
        let aad = b"The second principle of Auguste Kerckhoffs";
        let (ciphertext, tag) = seal(&key, iv, aad, plaintext);
        assert_eq!(
            ciphertext,
            hex(
                "4affaaadb78c31c5da4b1b590d10ffbd3dd8d5d302423526912da037ecbcc7bd\
                 822c301dd67c373bccb584ad3e9279c2e6d12a1374b77f077553df829410446b\
                 36ebd97066296ae6427ea75c2e0846a11a09ccf5370dc80bfecbad28c73f09b3\
                 a3b75e662a2594410ae496b2e2e6609e31e6e02cc837f053d21f37ff4f51950b\
                 be2638d09dd7a4930930806d0703b1f6"
            )
        );
        assert_eq!(
            tag,
            hex("4dd3b4c088a7f45c216839645b2012bf2e6269a8c56a816dbc1b267761955bc5")
        );
        assert_eq!(open(&key, &iv, aad, &ciphertext, &tag).unwrap(), plaintext);
    }

    #[test]
    fn token_is_byte_identical_to_jose() {
        // jose 6 (as used by @auth/core 0.41.3's encode), run in tests/node with
        // the key and kid above and the same payload object in the same order:
        //   new EncryptJWT(payload)
        //     .setProtectedHeader({alg: "dir", enc: "A256CBC-HS512", kid})
        //     .setInitializationVector(Uint8Array.from({length: 16}, (_, i) => i))
        //     .encrypt(key)
        let expected = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIiwia2lkIjoiZklLLXctbVc1Q0JKZWp1dmktOUdsVWVSNFkyVTBabW9oVkR5MmJKMURzdDlpWC0yZW5hU0l0VmVIQVhmOTJkT290T1VVcGkxdGpCdVc4UWd6M0NIOHcifQ\
            ..AAECAwQFBgcICQoLDA0ODw\
            .QVlgKPCtMgTLdjcr5bsCYn1akNtN5plRqbvAG6Fpf_mNzgsZtUyK0awSeHk0BonsMLeEyLiX0ttB5boq90G3iZwH2finSdnDrLkg0cyO78OwH0lMmcgdtymzVBj8AOnXlPFRKHxUEEdfhBtWUP3SsQsiH-Ks0JBKh3uUbG-UCBauZ1ZPJoQBNV9VdnPiTxkXroJL5om7uPinfHdTK_PeOBCYogcejzP8MEP-sYXApAuV1RLnIJHwW3mUCdAHFvNNKVZt0AgC6crzwtvoG7SlSKEc1Ys2MxpmN5GLzDVNNic\
            .e4AhG1C0wpUD47UHocb8nhK0LbunWmWlEHldRjr5NjY";
        assert_eq!(
            encrypt(SECRET, "authjs.session-token", &claims(), counting_iv()),
            expected
        );
    }

    #[test]
    fn round_trip() {
        for name in [cookie_name(false), cookie_name(true)] {
            let token = encrypt(SECRET, name, &claims(), [9; 16]);
            let value = decrypt(SECRET, name, &token).unwrap();
            assert_eq!(serde_json::from_value::<Claims>(value).unwrap(), claims());
        }
    }

    #[test]
    fn wrong_secret_or_cookie_name_fails() {
        let token = encrypt(SECRET, cookie_name(false), &claims(), [9; 16]);
        assert_eq!(decrypt("another-secret", cookie_name(false), &token), None);
        assert_eq!(decrypt(SECRET, cookie_name(true), &token), None);
    }

    #[test]
    fn token_without_kid_still_decrypts() {
        // Auth.js decode accepts these, so ours does too; rebuild one by hand.
        let key = derive_key(SECRET, cookie_name(false));
        let protected = URL_SAFE_NO_PAD.encode(r#"{"alg":"dir","enc":"A256CBC-HS512"}"#);
        let (ct, tag) = seal(&key, [3; 16], protected.as_bytes(), br#"{"id":"x"}"#);
        let token = format!(
            "{protected}..{}.{}.{}",
            URL_SAFE_NO_PAD.encode([3; 16]),
            URL_SAFE_NO_PAD.encode(ct),
            URL_SAFE_NO_PAD.encode(tag)
        );
        assert_eq!(
            decrypt(SECRET, cookie_name(false), &token).unwrap()["id"],
            "x"
        );
    }

    #[test]
    fn tampering_and_garbage_fail() {
        let name = cookie_name(false);
        let token = encrypt(SECRET, name, &claims(), [9; 16]);
        let parts: Vec<&str> = token.split('.').collect();
        let with = |i: usize, s: &str| {
            let mut p = parts.clone();
            p[i] = s;
            p.join(".")
        };
        // Flip one ciphertext character and one tag character.
        let mut ct = parts[3].to_string();
        ct.replace_range(0..1, if ct.starts_with('A') { "B" } else { "A" });
        let mut tag = parts[4].to_string();
        tag.replace_range(0..1, if tag.starts_with('A') { "B" } else { "A" });
        let other_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"dir","enc":"A256GCM"}"#);
        for bad in [
            with(3, &ct),
            with(4, &tag),
            with(4, &parts[4][..20]),
            with(2, "AAAA"),
            with(1, "AAAA"),
            with(0, &other_header),
            with(0, "!!"),
            parts[..4].join("."),
            String::new(),
            "a.b.c.d.e".into(),
        ] {
            assert_eq!(decrypt(SECRET, name, &bad), None, "{bad}");
        }
    }
}
