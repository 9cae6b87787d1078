//! The `.auth/*.json` files the app's test suite signs in with: Playwright
//! storage state (cookies and origins) plus the flat fields and the `profiles`
//! map other scripts read, all in one file so every reader is served.

use super::session;
use serde_json::{Map, Value, json};
use std::path::Path;
use url::Url;

/// The account a storage-state file signs in as, with everything the app's
/// non-Playwright scripts read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `users.id`.
    pub user_id: String,
    /// `users.email`.
    pub email: String,
    /// Plaintext password, for scripts that sign in through the form; `None`
    /// leaves it out of the file.
    pub password: Option<String>,
    /// `users.name`.
    pub name: String,
    /// `users.username`.
    pub username: String,
    /// `users.role`.
    pub role: String,
    /// The API key's plaintext (`fic_…`).
    pub api_key: String,
    /// `api_keys.id`.
    pub api_key_id: String,
    /// `api_keys.scopes`.
    pub api_key_scopes: Vec<String>,
}

/// Parses the app's base URL as a storage state (this module) needs it:
/// http or https with a host. The error is one sentence for the user.
///
/// # Errors
/// When `s` is not a URL, or not an http(s) URL with a host.
pub fn parse_base_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| {
        format!("base URL `{s}` is not a URL ({e}); use e.g. http://localhost:3000")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "base URL `{s}` must be http:// or https:// with a host, e.g. http://localhost:3000"
        ));
    }
    Ok(url)
}

/// One account's profile: the flat fields the app's scripts read plus its
/// Playwright storage state, signed in with the session cookie value
/// `session_token` until `expires` (unix seconds).
///
/// The scheme of `base_url` decides the cookie's name and `secure` flag, so
/// `session_token` must have been encrypted with
/// `session::cookie_name(base_url.scheme() == "https")`: the name is the
/// key's salt.
///
/// # Panics
/// If `base_url` has no host; [`parse_base_url`] rules that out.
#[must_use]
pub fn profile(
    base_url: &Url,
    account: &Account,
    session_token: &str,
    expires: i64,
) -> Map<String, Value> {
    let https = base_url.scheme() == "https";
    // Cookie domains carry no port; Playwright matches them by host alone.
    let domain = base_url
        .host_str()
        .expect("base URL has a host (see parse_base_url)");
    // The flags Auth.js sets on its own session cookie, so the browser treats
    // it exactly like one issued at sign-in.
    let cookies = json!([{
        "name": session::cookie_name(https),
        "value": session_token,
        "domain": domain,
        "path": "/",
        "expires": expires,
        "httpOnly": true,
        "secure": https,
        "sameSite": "Lax",
    }]);
    // Playwright rejects an origin entry without a `localStorage` array.
    let origins =
        json!([{ "origin": base_url.origin().ascii_serialization(), "localStorage": [] }]);

    let mut entry = Map::new();
    entry.insert("cookies".into(), cookies);
    entry.insert("origins".into(), origins);
    entry.insert("userId".into(), account.user_id.clone().into());
    entry.insert("email".into(), account.email.clone().into());
    if let Some(password) = &account.password {
        entry.insert("password".into(), password.clone().into());
    }
    entry.insert("name".into(), account.name.clone().into());
    entry.insert("username".into(), account.username.clone().into());
    entry.insert("role".into(), account.role.clone().into());
    entry.insert("apiKey".into(), account.api_key.clone().into());
    entry.insert("apiKeyId".into(), account.api_key_id.clone().into());
    entry.insert("apiKeyScopes".into(), account.api_key_scopes.clone().into());
    entry
}

/// One `.auth/*.json` document in all three shapes the app's readers expect:
/// the `default` profile's storage state and flat fields at the top (what
/// Playwright and the flat readers see), every profile under `profiles`, and
/// `defaultProfile`.
///
/// # Panics
/// If `profiles` lacks `default`; callers build both from the same accounts.
#[must_use]
pub fn document(default: &str, profiles: &Map<String, Value>) -> Value {
    let Some(Value::Object(top)) = profiles.get(default) else {
        panic!("the default profile `{default}` is one of the profiles");
    };
    let mut top = top.clone();
    top.insert("profiles".into(), Value::Object(profiles.clone()));
    top.insert("defaultProfile".into(), default.into());
    Value::Object(top)
}

/// Writes `value` as pretty JSON to `path` so that readers see the old file
/// or the new one, never half of one: a temporary file in the same directory
/// (mode 0600, since it holds a live session and a password), fsync, rename.
///
/// # Errors
/// Any I/O error, including a missing parent directory; the temporary file
/// is removed again.
pub fn write_atomic(path: &Path, value: &Value) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    crate::io::file::write_atomic(path, &bytes, 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(password: Option<&str>) -> Account {
        Account {
            user_id: "DbnFCRuBTm9B0FMfNB7kj".into(),
            email: "writer@fictures.xyz".into(),
            password: password.map(Into::into),
            name: "Writer".into(),
            username: "writer".into(),
            role: "writer".into(),
            api_key: "fic_AAECAwQFBgcI_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".into(),
            api_key_id: "key-1".into(),
            api_key_scopes: vec!["stories:read".into(), "stories:write".into()],
        }
    }

    /// A document for `account` alone, as the tests below need it.
    fn storage_state(url: &Url, name: &str, account: &Account, token: &str, expires: i64) -> Value {
        let mut profiles = Map::new();
        profiles.insert(
            name.to_string(),
            Value::Object(profile(url, account, token, expires)),
        );
        document(name, &profiles)
    }

    #[test]
    fn the_default_profile_is_on_top_and_every_profile_is_kept() {
        let url = parse_base_url("http://localhost:3000").unwrap();
        let mut reader = account(None);
        reader.user_id = "reader-id".into();
        reader.role = "reader".into();
        let mut profiles = Map::new();
        profiles.insert(
            "writer".into(),
            Value::Object(profile(&url, &account(None), "W", 1)),
        );
        profiles.insert(
            "reader".into(),
            Value::Object(profile(&url, &reader, "R", 1)),
        );
        let user = document("writer", &profiles);
        assert_eq!(user["userId"], "DbnFCRuBTm9B0FMfNB7kj");
        assert_eq!(user["cookies"][0]["value"], "W");
        assert_eq!(user["defaultProfile"], "writer");
        assert_eq!(user["profiles"]["reader"]["userId"], "reader-id");
        assert_eq!(user["profiles"]["writer"]["cookies"], user["cookies"]);
        let own = document("reader", &profiles);
        assert_eq!(own["cookies"][0]["value"], "R");
        assert_eq!(own["profiles"], user["profiles"]);
    }

    #[test]
    fn http_localhost() {
        let url = parse_base_url("http://localhost:3000/some/path").unwrap();
        let v = storage_state(&url, "writer", &account(Some("pw")), "TOKEN", 1_702_592_000);
        assert_eq!(
            v["cookies"],
            json!([{
                "name": "authjs.session-token", "value": "TOKEN", "domain": "localhost", "path": "/",
                "expires": 1_702_592_000, "httpOnly": true, "secure": false, "sameSite": "Lax",
            }])
        );
        assert_eq!(
            v["origins"],
            json!([{ "origin": "http://localhost:3000", "localStorage": [] }])
        );
        assert_eq!(v["userId"], "DbnFCRuBTm9B0FMfNB7kj");
        assert_eq!(v["password"], "pw");
        assert_eq!(v["apiKeyScopes"], json!(["stories:read", "stories:write"]));
        assert_eq!(v["defaultProfile"], "writer");
    }

    #[test]
    fn https_uses_secure_cookie_and_drops_default_port() {
        let url = parse_base_url("https://staging.fictures.xyz:443/").unwrap();
        let v = storage_state(&url, "manager", &account(None), "T", 1);
        let cookie = &v["cookies"][0];
        assert_eq!(cookie["name"], "__Secure-authjs.session-token");
        assert_eq!(cookie["secure"], true);
        assert_eq!(cookie["domain"], "staging.fictures.xyz");
        assert_eq!(v["origins"][0]["origin"], "https://staging.fictures.xyz");
        let other_port = parse_base_url("https://staging.fictures.xyz:8443").unwrap();
        let v2 = storage_state(&other_port, "manager", &account(None), "T", 1);
        assert_eq!(v2["cookies"][0]["domain"], "staging.fictures.xyz");
        assert_eq!(
            v2["origins"][0]["origin"],
            "https://staging.fictures.xyz:8443"
        );
    }

    #[test]
    fn all_three_shapes_in_one_file() {
        let url = parse_base_url("http://127.0.0.1:3000").unwrap();
        let v = storage_state(&url, "writer", &account(None), "T", 1);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "cookies",
                "origins",
                "userId",
                "email",
                "name",
                "username",
                "role",
                "apiKey",
                "apiKeyId",
                "apiKeyScopes",
                "profiles",
                "defaultProfile"
            ],
            "no password key when none is given"
        );
        let entry = &v["profiles"]["writer"];
        assert_eq!(entry["cookies"], v["cookies"]);
        assert_eq!(entry["origins"], v["origins"]);
        for field in [
            "userId",
            "email",
            "name",
            "username",
            "role",
            "apiKey",
            "apiKeyId",
            "apiKeyScopes",
        ] {
            assert_eq!(entry[field], v[field], "{field}");
        }
        assert!(entry.get("password").is_none());
        assert_eq!(v["cookies"][0]["domain"], "127.0.0.1");
    }

    #[test]
    fn base_url_must_be_http_with_host() {
        for bad in [
            "localhost:3000",
            "ftp://x",
            "file:///tmp",
            "not a url",
            "data:text/plain,x",
        ] {
            assert!(parse_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn write_atomic_writes_private_file_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("writer.json");
        std::fs::write(&path, "old").unwrap();
        let value = json!({ "cookies": [], "origins": [] });
        write_atomic(&path, &value).unwrap();
        let read: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(read, value);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["writer.json"], "no temporary file left behind");
    }

    #[test]
    fn write_atomic_reports_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("user.json");
        assert!(write_atomic(&path, &json!({})).is_err());
        assert!(write_atomic(Path::new("/"), &json!({})).is_err());
    }
}
