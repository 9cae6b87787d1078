//! `auth` (and `seed --auth-out`): mint an Auth.js session cookie for each
//! fixture account from AUTH_SECRET and write Playwright storage-state files,
//! so a test run starts signed in without anyone clicking through /login.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::auth::{session, storage_state};
use crate::cli::{AuthArgs, AuthOptions};
use crate::config::Config;
use crate::engine::{self, Adoption, Session, Writes};
use crate::error::{ExitCode, Failure, Result};
use crate::pure::ids;
use crate::pure::redact::Secret;
use crate::pure::seedfile::SeedFile;
use crate::pure::sql;
use crate::report::Report;
use crate::report::auth::{AuthLine, StateFile};

use super::Outcome;

pub async fn run(g: &Config, args: &AuthArgs) -> Result<Outcome> {
    let started = Instant::now();
    let file = crate::settings::seed_file(g.seed_file.as_deref())?;
    let plan = prepare(&file, &args.out, &args.options)?;
    let (_, mut target) =
        engine::start(g, file, true, Writes::Nothing, Adoption::Strict, 0).await?;
    let mut report = Report {
        command: "auth",
        notes: target.notes_with_credentials(),
        ..Report::default()
    };
    report.auth = Some(write_states(&mut target, &plan).await?);
    target.finish(&mut report, None, started);
    target.db.close().await;
    Ok((report, ExitCode::Ok))
}

/// Everything minting needs that can be checked before connecting, so a bad
/// input stops the run before the database or the cache is touched.
pub struct AuthPlan {
    secret: Secret,
    url: url::Url,
    lifetime: Duration,
    dir: PathBuf,
    show_secrets: bool,
}

/// Checks the secret, base URL, lifetime and output directory (created if
/// missing, and proven writable).
pub fn prepare(file: &SeedFile, dir: &Path, options: &AuthOptions) -> Result<AuthPlan> {
    let secret = ["AUTH_SECRET", "NEXTAUTH_SECRET"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .map(Secret::new)
        .ok_or_else(|| {
            Failure::usage(
                "AUTH_SECRET (or NEXTAUTH_SECRET) is not set; set it to the app's secret, for instance with --env-file pointing at the app's .env.local",
            )
        })?;
    let auth = &file.auth;
    let base = options
        .base_url
        .clone()
        .unwrap_or_else(|| auth.base_url.clone());
    let url = storage_state::parse_base_url(&base).map_err(|e| {
        Failure::usage(format!(
            "--base-url {base}: {e}; give the app's address like http://localhost:3000"
        ))
    })?;
    let lifetime = match options.lifetime {
        Some(l) => l,
        None => humantime::parse_duration(&auth.lifetime).map_err(|_| {
            Failure::usage(format!(
                "[auth] lifetime `{}` is not a duration; write it like 30d or 12h",
                auth.lifetime
            ))
        })?,
    };
    if lifetime.is_zero() {
        return Err(Failure::usage(
            "the session lifetime is zero, so every minted session would be expired; give a lifetime like 30d",
        ));
    }
    create_dir(dir)?;
    Ok(AuthPlan {
        secret,
        url,
        lifetime,
        dir: dir.to_path_buf(),
        show_secrets: options.show_secrets,
    })
}

/// Mints a session per account and writes every storage-state file: one per
/// account, and the default file (`user.json`) for the stories' owner, each
/// holding every account's profile.
pub async fn write_states(target: &mut Session, plan: &AuthPlan) -> Result<AuthLine> {
    let users = read_users(target).await?;
    let credentials = &target.credentials;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64;
    let expires = now + plan.lifetime.as_secs() as i64;
    let https = plan.url.scheme() == "https";
    let mut profiles = serde_json::Map::new();
    let mut minted = Vec::new();
    for (key, spec) in &target.file.accounts {
        let spec = spec.get_ref();
        let id = target.fixture.accounts[key].id.clone();
        let user = users.get(&id).ok_or_else(|| {
            Failure::usage(format!(
                "account `{key}` (id {id}) is not in the database; run `fictures-seed seed` first"
            ))
        })?;
        let text = |f: &str| {
            user.get(f)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let claims = session::Claims {
            sub: id.clone(),
            id: id.clone(),
            email: text("email"),
            name: text("name"),
            role: text("role"),
            iat: now,
            exp: expires,
            jti: ids::derive(&[
                "session",
                &id,
                &now.to_string(),
                &rand::random::<u64>().to_string(),
            ]),
        };
        let token = session::encrypt(
            plan.secret.expose(),
            session::cookie_name(https),
            &claims,
            rand::random(),
        );
        let api = spec
            .api_keys
            .first()
            .and_then(|k| Some((k, credentials.api_key(&id, &k.name)?)));
        let account = storage_state::Account {
            user_id: id.clone(),
            email: claims.email.clone(),
            password: credentials
                .passwords
                .get(key)
                .map(|p| p.expose().to_string()),
            name: claims.name.clone(),
            username: text("username"),
            role: claims.role.clone(),
            api_key: api
                .as_ref()
                .map(|(_, a)| a.plaintext.clone())
                .unwrap_or_default(),
            api_key_id: api
                .as_ref()
                .map(|(k, _)| ids::derive(&["api-key", &id, &k.name]))
                .unwrap_or_default(),
            api_key_scopes: api
                .as_ref()
                .map(|(k, _)| k.scopes.iter().map(|s| s.get_ref().clone()).collect())
                .unwrap_or_default(),
        };
        profiles.insert(
            key.clone(),
            Value::Object(storage_state::profile(&plan.url, &account, &token, expires)),
        );
        let secrets = plan.show_secrets.then(|| {
            serde_json::json!({ "cookie": token, "password": account.password, "apiKey": account.api_key })
        });
        let name = spec
            .storage_state
            .clone()
            .unwrap_or_else(|| format!("{key}.json"));
        minted.push((key.clone(), name, id, secrets));
    }
    // The suite's default file signs in as whoever owns the stories.
    let owner = target.file.stories.owner.get_ref();
    minted.push((
        owner.clone(),
        target.file.auth.default_file.clone(),
        target.fixture.accounts[owner].id.clone(),
        None,
    ));
    let mut line = AuthLine {
        dir: plan.dir.display().to_string(),
        files: Vec::new(),
    };
    for (key, name, user_id, secrets) in minted {
        let path = plan.dir.join(&name);
        let state = storage_state::document(&key, &profiles);
        storage_state::write_atomic(&path, &state).map_err(|e| {
            Failure::new(
                ExitCode::Io,
                format!(
                    "cannot write {}: {e}; choose a writable directory with --out",
                    path.display()
                ),
            )
        })?;
        line.files.push(StateFile {
            account: key,
            file: path.display().to_string(),
            user_id,
            expires,
            secrets,
        });
    }
    Ok(line)
}

/// The accounts' rows as the database holds them (adopted ones included).
async fn read_users(target: &mut Session) -> Result<serde_json::Map<String, Value>> {
    let ids: Vec<Value> = target
        .fixture
        .accounts
        .values()
        .map(|a| Value::from(a.id.clone()))
        .collect();
    let v = target
        .db
        .json(
            format!(
                "SELECT coalesce(json_object_agg(id, json_build_object('email', email, 'name', name, 'username', username, 'role', role)), '{{}}')::text \
                 FROM users WHERE id IN (SELECT json_array_elements_text({}))",
                sql::json(&Value::Array(ids))
            ),
            1,
        )
        .await?;
    match v {
        Value::Object(users) => Ok(users),
        _ => Err(crate::error::unexpected(
            &target.db.shown,
            "accounts that are not an object",
        )),
    }
}

/// Creates `dir` when missing (mode 0700: it will hold live sessions) and
/// proves it writable; an existing directory keeps its mode.
fn create_dir(dir: &Path) -> Result<()> {
    let fail = |e: std::io::Error| {
        Failure::new(
            ExitCode::Io,
            format!(
                "cannot write storage states into {}: {e}; choose a writable directory with --out",
                dir.display()
            ),
        )
    };
    if !dir.is_dir() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(fail)?;
    }
    // A probe file, so an unwritable directory stops the run before it writes anything.
    crate::io::file::probe(dir).map_err(fail)
}
