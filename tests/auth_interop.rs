//! Proves the auth fixtures are what the app accepts, by checking them with
//! independent implementations: the real Auth.js library (Node) for session
//! cookies and Python's hashlib for password and API-key hashes.

mod interop;

use fictures_seed::auth::{Claims, api_key, cookie_name, password, session};
use interop::{auth_js_decode, now, python};

const SECRET: &str = "interop-secret-6c3f0b7e2a9d4158";

fn claims(exp: i64) -> Claims {
    Claims {
        sub: "DbnFCRuBTm9B0FMfNB7kj".into(),
        id: "DbnFCRuBTm9B0FMfNB7kj".into(),
        email: "writer@fictures.xyz".into(),
        name: "Writer".into(),
        role: "writer".into(),
        iat: now(),
        exp,
        jti: "0d6c0f1e-8a43-4b6e-9f0a-5d2c7b1e3a90".into(),
    }
}

#[test]
fn auth_js_decodes_our_session_cookie() {
    for https in [false, true] {
        let name = cookie_name(https);
        let token = session::encrypt(SECRET, name, &claims(now() + 30 * 24 * 3600), [0x5a; 16]);
        let decoded =
            auth_js_decode(SECRET, name, &token).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded["id"], "DbnFCRuBTm9B0FMfNB7kj", "{name}");
        assert_eq!(decoded["sub"], "DbnFCRuBTm9B0FMfNB7kj", "{name}");
        assert_eq!(decoded["email"], "writer@fictures.xyz", "{name}");
        assert_eq!(decoded["role"], "writer", "{name}");
        // And ours reads back exactly what Auth.js read.
        assert_eq!(session::decrypt(SECRET, name, &token), Some(decoded));
    }
}

#[test]
fn auth_js_refuses_wrong_secret_wrong_cookie_name_and_expired() {
    let name = cookie_name(false);
    let token = session::encrypt(SECRET, name, &claims(now() + 3600), [1; 16]);
    assert!(auth_js_decode("some-other-secret", name, &token).is_err());
    // The cookie name salts the key: an http cookie is no good under https.
    assert!(auth_js_decode(SECRET, cookie_name(true), &token).is_err());
    // Auth.js checks exp (15 s tolerance), so the seeder must mint future ones.
    let expired = session::encrypt(SECRET, name, &claims(now() - 3600), [1; 16]);
    let err = auth_js_decode(SECRET, name, &expired).unwrap_err();
    assert!(err.contains("exp"), "{err}");
}

#[test]
fn python_hashlib_verifies_our_password_hash() {
    let stored = password::hash("Writer-pass-2024!", [0x42; 16]);
    let verdict = python(
        "import base64,hashlib,hmac,sys\n\
         raw = base64.b64decode(sys.argv[2], validate=True)\n\
         assert len(raw) == 48\n\
         dk = hashlib.pbkdf2_hmac('sha256', sys.argv[1].encode(), raw[:16], 100000, 32)\n\
         print('ok' if hmac.compare_digest(dk, raw[16:]) else 'mismatch')",
        &["Writer-pass-2024!", &stored],
    );
    assert_eq!(verdict, "ok");
    // And the other way round: a hash Python makes verifies with ours.
    let from_python = python(
        "import base64,hashlib,sys\n\
         salt = bytes(range(100, 116))\n\
         print(base64.b64encode(salt + hashlib.pbkdf2_hmac('sha256', sys.argv[1].encode(), salt, 100000, 32)).decode())",
        &["Manager-pass"],
    );
    assert!(password::verify("Manager-pass", &from_python));
    assert!(!password::verify("manager-pass", &from_python));
}

#[test]
fn python_agrees_on_api_key_format_and_hash() {
    let secret: [u8; 32] = core::array::from_fn(|i| u8::try_from(i * 7 + 3).unwrap());
    let key = api_key::from_secret(secret);
    let expected = python(
        "import base64,hashlib,sys\n\
         b = base64.urlsafe_b64encode(bytes.fromhex(sys.argv[1])).rstrip(b'=').decode()\n\
         k = 'fic_' + b[:12] + '_' + b\n\
         print(k, 'fic_' + b[:12], hashlib.sha256(k.encode()).hexdigest())",
        &[&secret
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()],
    );
    assert_eq!(
        expected,
        format!("{} {} {}", key.plaintext, key.prefix, key.hash)
    );
}
