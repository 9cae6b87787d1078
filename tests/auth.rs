//! Auth fixtures through the command line, against real servers: stored
//! passwords verify with an independent PBKDF2, API-key hashes match SHA-256
//! of the plaintext, minted cookies decode with the real Auth.js, storage
//! states have Playwright's shape, and no secret is printed unless asked.

mod common;
mod interop;

use std::os::unix::fs::PermissionsExt;

use common::*;
use interop::{auth_js_decode, python};
use serde_json::Value;

const AUTH_SECRET: &str = "test-auth-secret-0f9e8d7c6b5a";
const WRITER_PW: &str = "writer-Pa55word!";
const MANAGER_PW: &str = "manager-Pa55word!";
const KEY_SECRET: &str = API_KEY_SECRET;

fn secrets() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AUTH_SECRET", AUTH_SECRET),
        ("FIXTURE_WRITER_PASSWORD", WRITER_PW),
        ("FIXTURE_MANAGER_PASSWORD", MANAGER_PW),
        ("FIXTURE_API_KEY_SECRET", KEY_SECRET),
    ]
}

fn assert_no_secrets(run: &Run, also: &[&str]) {
    let out = format!("{}{}", run.stdout(), run.stderr());
    for s in [AUTH_SECRET, WRITER_PW, MANAGER_PW, KEY_SECRET]
        .iter()
        .chain(also)
    {
        assert!(!out.contains(s), "`{s}` printed:\n{out}");
    }
}

fn state(dir: &std::path::Path, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

#[test]
fn seeded_accounts_sign_in_with_what_the_app_accepts() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(".auth");
    let out_s = out.to_str().unwrap();
    let run = env
        .run_with(&["seed", "--auth-out", out_s], &secrets())
        .expect(0);

    // Playwright storage states, one per account, private.
    let writer = state(&out, "writer.json");
    let api_key = writer["apiKey"].as_str().unwrap().to_string();
    let cookie = writer["cookies"][0]["value"].as_str().unwrap().to_string();
    assert_no_secrets(&run, &[&api_key, &cookie]);
    for name in ["writer.json", "reader.json", "manager.json", "user.json"] {
        let mode = std::fs::metadata(out.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name}");
    }
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let c = &writer["cookies"][0];
    assert_eq!(c["name"], "authjs.session-token");
    assert_eq!(
        (
            c["domain"].as_str(),
            c["path"].as_str(),
            c["httpOnly"].as_bool(),
            c["secure"].as_bool(),
            c["sameSite"].as_str()
        ),
        (
            Some("localhost"),
            Some("/"),
            Some(true),
            Some(false),
            Some("Lax")
        )
    );
    assert!(c["expires"].as_i64().unwrap() > interop::now() + 29 * 24 * 3600);
    assert_eq!(
        writer["origins"],
        serde_json::json!([{ "origin": "http://localhost:3000", "localStorage": [] }])
    );
    assert_eq!(writer["userId"], WRITER);
    assert_eq!(writer["defaultProfile"], "writer");
    assert_eq!(writer["profiles"]["writer"]["cookies"], writer["cookies"]);

    // The real Auth.js decodes every cookie to the account; a wrong secret fails.
    for (file, id, role) in [
        ("writer.json", WRITER, "writer"),
        ("user.json", WRITER, "writer"),
        ("reader.json", READER, "reader"),
        ("manager.json", "fxManager0CacheTest01", "manager"),
    ] {
        let s = state(&out, file);
        let token = s["cookies"][0]["value"].as_str().unwrap();
        let claims = auth_js_decode(AUTH_SECRET, "authjs.session-token", token).unwrap();
        assert_eq!(
            (claims["id"].as_str(), claims["role"].as_str()),
            (Some(id), Some(role)),
            "{file}"
        );
        assert_eq!(claims["email"], s["email"]);
        assert!(auth_js_decode("some-other-secret", "authjs.session-token", token).is_err());
    }

    // The stored password verifies with Python's own PBKDF2.
    let stored = env.sql(&format!("SELECT password FROM users WHERE id = '{WRITER}'"));
    let ok = python(
        "import sys,base64,hashlib,hmac; raw=base64.b64decode(sys.argv[1]); \
         print(hmac.compare_digest(hashlib.pbkdf2_hmac('sha256', sys.argv[2].encode(), raw[:16], 100000, 32), raw[16:]))",
        &[&stored, WRITER_PW],
    );
    assert_eq!(ok, "True");
    assert_eq!(
        env.sql(&format!(
            "SELECT coalesce(password, 'none') FROM users WHERE id = '{READER}'"
        )),
        "none",
        "no variable, no password"
    );

    // The API key's stored hash is SHA-256 of the plaintext, computed independently.
    let hash = python(
        "import sys,hashlib; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())",
        &[&api_key],
    );
    assert_eq!(
        env.sql(&format!(
            "SELECT key_hash FROM api_keys WHERE user_id = '{WRITER}'"
        )),
        hash
    );
    assert_eq!(
        env.sql(&format!(
            "SELECT key_prefix FROM api_keys WHERE user_id = '{WRITER}'"
        )),
        &api_key[..16]
    );
    let scopes: Value = serde_json::from_str(
        &env.sql("SELECT scopes::text FROM api_keys WHERE user_id = 'fxManager0CacheTest01'"),
    )
    .unwrap();
    assert!(scopes.as_array().unwrap().iter().any(|s| s == "admin:all"));

    // Everything is idempotent and exact; verify prints no secret either.
    let again = env.run_with(&["seed", "--json"], &secrets()).expect(0);
    assert!(
        again.json()["tables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["update"] == 0 && t["insert"] == 0)
    );
    assert_no_secrets(&again, &[&api_key]);
    let verify = env.run_with(&["verify"], &secrets()).expect(0);
    assert_no_secrets(&verify, &[&api_key]);
    let teardown = env.run_with(&["teardown", "--json"], &secrets()).expect(0);
    assert_no_secrets(&teardown, &[&api_key]);
}

#[test]
fn a_hash_that_verifies_is_kept_and_a_wrong_one_is_drift() {
    let env = TestEnv::new();
    env.run_with(&["seed", "--quiet"], &secrets()).expect(0);
    // The app re-hashed the password with its own salt: still correct, so kept.
    let rehashed = python(
        "import sys,base64,hashlib; salt=b'0123456789abcdef'; print(base64.b64encode(salt + hashlib.pbkdf2_hmac('sha256', sys.argv[1].encode(), salt, 100000, 32)).decode())",
        &[WRITER_PW],
    );
    env.sql(&format!(
        "UPDATE users SET password = '{rehashed}' WHERE id = '{WRITER}'"
    ));
    env.run_with(&["verify", "--quiet"], &secrets()).expect(0);
    env.run_with(&["seed", "--quiet"], &secrets()).expect(0);
    assert_eq!(
        env.sql(&format!("SELECT password FROM users WHERE id = '{WRITER}'")),
        rehashed
    );
    // A password that no longer verifies is drift, and seed restores it.
    env.sql(&format!(
        "UPDATE users SET password = 'bogus' WHERE id = '{WRITER}'"
    ));
    let report = env
        .run_with(&["verify", "--json"], &secrets())
        .expect(1)
        .json();
    assert_eq!(report["findings"][0]["column"], "password");
    env.run_with(&["seed", "--quiet"], &secrets()).expect(0);
    env.run_with(&["verify", "--quiet"], &secrets()).expect(0);
}

#[test]
fn https_storage_state_and_shown_secrets() {
    let env = TestEnv::new();
    env.run_with(&["seed", "--quiet"], &secrets()).expect(0);
    let dir = tempfile::tempdir().unwrap();
    let run = env
        .run_with(
            &[
                "auth",
                "--out",
                dir.path().to_str().unwrap(),
                "--base-url",
                "https://staging.fictures.xyz",
                "--lifetime",
                "2h",
                "--json",
                "--show-secrets",
            ],
            &secrets(),
        )
        .expect(0);
    let writer = state(dir.path(), "writer.json");
    let c = &writer["cookies"][0];
    assert_eq!(c["name"], "__Secure-authjs.session-token");
    assert_eq!(
        (c["domain"].as_str(), c["secure"].as_bool()),
        (Some("staging.fictures.xyz"), Some(true))
    );
    assert!(c["expires"].as_i64().unwrap() < interop::now() + 2 * 3600 + 60);
    assert_eq!(
        writer["origins"][0]["origin"],
        "https://staging.fictures.xyz"
    );
    let claims = auth_js_decode(
        AUTH_SECRET,
        "__Secure-authjs.session-token",
        c["value"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(claims["id"], WRITER);
    // Asked for, the secrets are in the report.
    let report = run.json();
    let shown = report["auth"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["account"] == "writer")
        .unwrap()
        .clone();
    assert_eq!(shown["secrets"]["password"], WRITER_PW);
    assert_eq!(shown["secrets"]["apiKey"], writer["apiKey"]);
}

#[test]
fn auth_failures_are_clear() {
    let env = TestEnv::new();
    env.run_with(&["seed", "--quiet"], &secrets()).expect(0);
    let no_secret: Vec<_> = secrets()
        .into_iter()
        .filter(|(k, _)| *k != "AUTH_SECRET")
        .collect();
    let run = env
        .run_with(&["auth", "--out", "/tmp/never-written"], &no_secret)
        .expect(2);
    assert!(
        run.stderr()
            .contains("AUTH_SECRET (or NEXTAUTH_SECRET) is not set"),
        "{}",
        run.stderr()
    );
    // An unwritable output path: a regular file stands where the directory should be.
    let file = tempfile::NamedTempFile::new().unwrap();
    let out = file.path().join("sub");
    let run = env
        .run_with(&["auth", "--out", out.to_str().unwrap()], &secrets())
        .expect(9);
    assert!(
        run.stderr().contains("cannot write storage states into"),
        "{}",
        run.stderr()
    );
    assert_no_secrets(&run, &[]);
}
