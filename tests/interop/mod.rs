//! Independent implementations to check ours against: the real Auth.js
//! (`@auth/core`, run by Node) and Python's hashlib.
#![allow(dead_code)] // each test binary uses a different part

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

pub fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(secs).unwrap()
}

/// Runs tests/node/decode.mjs; `Ok(claims)` when Auth.js accepts the token,
/// `Err(stderr)` when it refuses it.
pub fn auth_js_decode(
    secret: &str,
    cookie: &str,
    token: &str,
) -> Result<serde_json::Value, String> {
    // Fail, never skip: a skipped interop test would let a broken cookie
    // format pass CI unnoticed.
    assert!(
        node_dir().join("node_modules/@auth/core/jwt.js").is_file(),
        "@auth/core is not installed for the interop test; run `npm ci --prefix tests/node`"
    );
    let mut child = Command::new("node")
        .arg(node_dir().join("decode.mjs"))
        .args([secret, cookie])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`node` must be on PATH for the Auth.js interop test");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("decode.mjs prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Runs a Python snippet with arguments and returns its trimmed stdout.
pub fn python(code: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("`python3` must be on PATH for the interop test");
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
