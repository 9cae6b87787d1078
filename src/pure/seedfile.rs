//! The seed file: its TOML shape, parsing with positions, and validation.
//! Everything here runs before any connection is made, so a bad file costs
//! nothing and every complaint names the file, line and field.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Failure, Result};
use crate::pure::ids;

/// A seed file as written, with source positions kept for error messages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    pub fixture: FixtureSection,
    pub accounts: BTreeMap<String, Spanned<AccountSpec>>,
    pub stories: StoryDefaults,
    #[serde(default)]
    pub story: Vec<Spanned<StorySpec>>,
    #[serde(default)]
    pub community: CommunitySpec,
    #[serde(default)]
    pub counter: Vec<CounterSpec>,
    #[serde(default)]
    pub tables: BTreeMap<String, TableSpec>,
    /// Enum type → logical label → the database's label (for renamed labels).
    #[serde(default)]
    pub labels: BTreeMap<String, BTreeMap<String, String>>,
    /// Extra rows per story that fixture rows must point at (parts, characters, ...).
    #[serde(default)]
    pub entity: Vec<Spanned<EntitySpec>>,
    /// Where each logical state of the fixture lives, when the app moved it
    /// (`story`, `chapter`, `scene`).
    #[serde(default)]
    pub states: BTreeMap<String, Spanned<StateSpec>>,
    #[serde(default)]
    pub scale: ScaleSpec,
    #[serde(default)]
    pub auth: AuthSpec,
}

/// Load-test data: stories of the fixture's shape, owned by their own account
/// so they never hang off the canonical fixture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleSpec {
    /// How many stories (`seed --scale N` overrides it).
    #[serde(default)]
    pub stories: u32,
    /// Title template; `{n}` is the story's number. Never "Cache Test Story".
    #[serde(default = "scale_title")]
    pub title: String,
    pub account: Option<AccountSpec>,
}

impl Default for ScaleSpec {
    fn default() -> Self {
        ScaleSpec {
            stories: 0,
            title: scale_title(),
            account: None,
        }
    }
}

impl ScaleSpec {
    pub fn account_id(&self) -> String {
        self.account
            .as_ref()
            .and_then(|a| a.id.as_ref())
            .map(|id| id.get_ref().clone())
            .unwrap_or_default()
    }
}

fn scale_title() -> String {
    "Load Test Story {n}".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureSection {
    pub seed: u64,
    pub base_time: Spanned<String>,
}

/// Either a created account (id, email, username, name, role) or an adopted one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    pub id: Option<Spanned<String>>,
    pub email: Option<String>,
    pub username: Option<Spanned<String>>,
    pub name: Option<String>,
    pub role: Option<Spanned<String>>,
    pub adopt_email: Option<String>,
    /// The account's password, literally (prefer `password_env`).
    pub password: Option<String>,
    /// The environment variable holding the account's password.
    pub password_env: Option<String>,
    /// API keys to create for the account, with their scopes.
    #[serde(default)]
    pub api_keys: Vec<ApiKeySpec>,
    /// File name of the account's Playwright storage state (default `<name>.json`).
    pub storage_state: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySpec {
    pub name: String,
    pub scopes: Vec<Spanned<String>>,
}

/// Where secrets come from and how long minted sessions live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSpec {
    /// The environment variable whose value API keys are derived from.
    #[serde(default = "key_secret_env")]
    pub key_secret_env: String,
    /// Session lifetime, like `30d` (the app's default).
    #[serde(default = "lifetime")]
    pub lifetime: String,
    /// The app's address, for cookie domains (`--base-url` overrides it).
    #[serde(default = "base_url")]
    pub base_url: String,
    /// The file the app's suite signs in with by default (`.auth/user.json`):
    /// the stories' owner's session, with every account's profile.
    #[serde(default = "default_file")]
    pub default_file: String,
}

impl Default for AuthSpec {
    fn default() -> Self {
        AuthSpec {
            key_secret_env: key_secret_env(),
            lifetime: lifetime(),
            base_url: base_url(),
            default_file: default_file(),
        }
    }
}

fn default_file() -> String {
    "user.json".into()
}

fn key_secret_env() -> String {
    "FIXTURE_API_KEY_SECRET".into()
}

fn lifetime() -> String {
    "30d".into()
}

fn base_url() -> String {
    "http://localhost:3000".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoryDefaults {
    pub owner: Spanned<String>,
    pub genre: String,
    pub tone: Option<String>,
    pub chapters: Spanned<u32>,
    pub scenes_per_chapter: Spanned<u32>,
    pub published_chapters: Spanned<u32>,
    pub public_scenes: Spanned<u32>,
    pub chapter_title: String,
    pub scene_title: String,
    pub scene_words: Spanned<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorySpec {
    pub id: Spanned<String>,
    pub title: String,
    pub status: Spanned<String>,
    pub owner: Option<Spanned<String>>,
    pub genre: Option<String>,
    pub tone: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommunitySpec {
    #[serde(default)]
    pub posts: u32,
    #[serde(default)]
    pub post_authors: Vec<Spanned<String>>,
    #[serde(default)]
    pub replies_per_post: u32,
    #[serde(default)]
    pub reply_authors: Vec<Spanned<String>>,
    #[serde(default)]
    pub nested_replies: bool,
    #[serde(default)]
    pub post_likes_by: Vec<Spanned<String>>,
    #[serde(default)]
    pub story_likes_by: Vec<Spanned<String>>,
}

/// A denormalised counter column and the rows it counts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterSpec {
    pub table: String,
    pub column: String,
    pub rows_in: String,
    pub via: String,
}

/// Per-table adjustments of the generated rows.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// Written on insert, but neither verified nor restored.
    #[serde(default)]
    pub unowned: Vec<String>,
    /// Columns the table must have; others the fixture sets are skipped when absent.
    #[serde(default)]
    pub required: Vec<String>,
    /// Fixed values (`{id}` is replaced by the row's id, `{entity:TABLE[:N]}`
    /// by the id of the row's story's N-th entity); owned like generated ones.
    #[serde(default)]
    pub set: BTreeMap<String, toml::Value>,
    /// Generated values by generator name (see `FAKERS`).
    #[serde(default)]
    pub fake: BTreeMap<String, Spanned<String>>,
}

/// The tables the fixture generates itself (entities add more).
pub const GENERATED: [&str; 8] = [
    "users",
    "stories",
    "chapters",
    "scenes",
    "community_posts",
    "community_replies",
    "post_likes",
    "story_likes",
];

/// Generators `[tables.NAME.fake]` may name.
pub const FAKERS: [&str; 6] = ["word", "words", "title", "sentence", "paragraph", "name"];

/// Rows of another table created for every story, which fixture rows point at.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitySpec {
    pub table: String,
    /// How many per story (default 1); `{n}` counts them.
    #[serde(default = "one")]
    pub count: u32,
    /// Column → value; strings may use {id}, {n}, {story}, {owner}, {time},
    /// and {entity:TABLE[:N]} of an entity declared above.
    #[serde(default)]
    pub values: BTreeMap<String, toml::Value>,
    /// `table.column`s of fixture rows that must point at this entity (the first one).
    #[serde(default)]
    pub links: Vec<String>,
}

fn one() -> u32 {
    1
}

/// Where a logical state of the fixture is written: its column, the value
/// written for each logical state, and the column holding when it was reached.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSpec {
    /// The column that holds the state; `""` writes it nowhere.
    pub column: String,
    /// Logical state → the value written (unlisted ones are written as they are).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The timestamp column set when the state is the "on" one (published or
    /// public); `""` writes none. Default: where the fixture writes it today.
    pub at: Option<String>,
}

/// A logical state of the fixture and where it lives unless `[states]` moves it.
pub struct LogicalState {
    pub name: &'static str,
    pub table: &'static str,
    pub column: &'static str,
    /// Its states, the "on" one (which gets the timestamp) first.
    pub values: [&'static str; 2],
    /// Where the timestamp of the "on" state is written by default.
    pub at: Option<&'static str>,
}

/// The fixture's logical states: a story's status, a chapter being
/// published, a scene being public.
pub const LOGICAL_STATES: [LogicalState; 3] = [
    LogicalState {
        name: "story",
        table: "stories",
        column: "status",
        values: ["published", "writing"],
        at: None,
    },
    LogicalState {
        name: "chapter",
        table: "chapters",
        column: "status",
        values: ["published", "writing"],
        at: Some("published_at"),
    },
    LogicalState {
        name: "scene",
        table: "scenes",
        column: "visibility",
        values: ["public", "unlisted"],
        at: Some("published_at"),
    },
];

/// The logical story and chapter states; the database's labels are checked later.
pub const STATUSES: [&str; 2] = ["writing", "published"];
pub const ROLES: [&str; 3] = ["reader", "writer", "manager"];

/// The canonical seed file, built in: the default wherever the tool runs.
pub const BUILT_IN: &str = include_str!("../../seeds/cache-tests.toml");

/// The built-in seed file, parsed and validated.
pub fn built_in() -> Result<SeedFile> {
    parse(BUILT_IN, "built-in seed file")
}

/// Parses seed-file text; `origin` names it in messages.
pub fn parse(text: &str, origin: &str) -> Result<SeedFile> {
    let file: SeedFile = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| position(text, s.start))
            .unwrap_or_default();
        let message = e.message().trim().trim_end_matches('.').replace('\n', " ");
        Failure::usage(format!(
            "{origin}{at}: {message}; fix the seed file and run again"
        ))
    })?;
    if let Some(path) = toml::from_str::<toml::Value>(text)
        .ok()
        .and_then(|v| nul_in(&v, ""))
    {
        return Err(Failure::usage(format!(
            "{origin}: field `{path}` holds a NUL character (\\u0000), which PostgreSQL cannot store in text; remove it from the seed file"
        )));
    }
    Validator { text, origin }.check(&file)?;
    Ok(file)
}

/// The dotted path of the first string under `value` holding a NUL.
fn nul_in(value: &toml::Value, path: &str) -> Option<String> {
    let under = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        toml::Value::String(s) => s.contains('\0').then(|| path.to_string()),
        toml::Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_in(v, &under(&i.to_string()))),
        toml::Value::Table(t) => t.iter().find_map(|(k, v)| nul_in(v, &under(k))),
        _ => None,
    }
}

/// `{entity:TABLE}` / `{entity:TABLE:N}` references in a value, as (TABLE, N).
pub fn entity_refs(value: &toml::Value) -> Vec<(String, u32)> {
    match value {
        toml::Value::String(s) => s
            .split("{entity:")
            .skip(1)
            .filter_map(|rest| rest.split_once('}'))
            .map(|(inner, _)| match inner.rsplit_once(':') {
                Some((table, n)) if n.parse::<u32>().is_ok() => {
                    (table.to_string(), n.parse().unwrap_or(0))
                }
                _ => (inner.to_string(), 1),
            })
            .collect(),
        toml::Value::Array(a) => a.iter().flat_map(entity_refs).collect(),
        toml::Value::Table(t) => t.values().flat_map(entity_refs).collect(),
        _ => Vec::new(),
    }
}

fn unknown_entity(declared: &BTreeMap<&str, u32>, (table, n): &(String, u32)) -> Option<String> {
    match declared.get(table.as_str()) {
        None => Some(format!(
            "`{{entity:{table}}}` names no [[entity]] declared before it; add an [[entity]] with table = \"{table}\" above this use"
        )),
        Some(&count) if *n == 0 || *n > count => Some(format!(
            "`{{entity:{table}:{n}}}` is out of range: the [[entity]] for {table} makes {count} per story (1..={count})"
        )),
        Some(_) => None,
    }
}

fn plain_json_name(name: &str) -> bool {
    !name.contains('/') && name.ends_with(".json") && name != ".json"
}

/// `:line:column` of a byte offset, for messages.
fn position(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(":{line}:{column}")
}

struct Validator<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Validator<'_> {
    fn fail(&self, span: Range<usize>, field: &str, problem: String) -> Failure {
        Failure::usage(format!(
            "{}{}: field `{field}`: {problem}",
            self.origin,
            position(self.text, span.start)
        ))
    }

    fn check(&self, file: &SeedFile) -> Result<()> {
        let base = &file.fixture.base_time;
        if crate::pure::clock::parse_base(base.get_ref()).is_none() {
            return Err(self.fail(
                base.span(),
                "fixture.base_time",
                format!(
                    "`{}` is not a time like 2026-01-05T09:00:00; write it in that form",
                    base.get_ref()
                ),
            ));
        }
        let mut seen_ids = BTreeMap::new();
        self.check_accounts(file, &mut seen_ids)?;
        self.check_stories(file, &mut seen_ids)?;
        self.check_community(file)?;
        self.check_extensions(file)?;
        self.check_states(file)?;
        self.check_state_files(file)?;
        self.check_entity_refs(file)?;
        self.check_scale(file, &mut seen_ids)
    }

    fn check_scale(&self, file: &SeedFile, seen_ids: &mut BTreeMap<String, String>) -> Result<()> {
        let scale = &file.scale;
        if scale.title.starts_with("Cache Test Story") || !scale.title.contains("{n}") {
            return Err(Failure::usage(format!(
                "{}: field `scale.title`: `{}` must contain {{n}} and must not start with \"Cache Test Story\" (the app's cache test page lists every such story)",
                self.origin, scale.title
            )));
        }
        match &scale.account {
            Some(account) => {
                let id = account.id.as_ref().ok_or_else(|| {
                    Failure::usage(format!(
                        "{}: field `scale.account.id`: the load-test account needs an id",
                        self.origin
                    ))
                })?;
                if account.adopt_email.is_some()
                    || account.email.is_none()
                    || account.username.is_none()
                {
                    return Err(self.fail(id.span(), "scale.account", "the load-test account is created by the fixture: give it id, email, username, name and role".into()));
                }
                self.check_id(id, "scale.account.id", seen_ids)
            }
            None if scale.stories > 0 => Err(Failure::usage(format!(
                "{}: field `scale.account`: load-test stories need their own account; add a [scale.account] table",
                self.origin
            ))),
            None => Ok(()),
        }
    }

    fn check_states(&self, file: &SeedFile) -> Result<()> {
        let names: Vec<&str> = LOGICAL_STATES.iter().map(|s| s.name).collect();
        for (name, spec) in &file.states {
            let Some(state) = LOGICAL_STATES.iter().find(|s| s.name == name) else {
                return Err(self.fail(
                    spec.span(),
                    &format!("states.{name}"),
                    format!(
                        "`{name}` is not a state of the fixture; use one of {}",
                        names.join(", ")
                    ),
                ));
            };
            if let Some(label) = spec
                .get_ref()
                .labels
                .keys()
                .find(|l| !state.values.contains(&l.as_str()))
            {
                return Err(self.fail(
                    spec.span(),
                    &format!("states.{name}.labels"),
                    format!(
                        "`{label}` is not a {name} state; the {name} states are {}",
                        state.values.join(" and ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `{entity:TABLE}` and `{entity:TABLE:N}` must name an `[[entity]]`
    /// declared before their use, within its count, in rows that belong to a story.
    fn check_entity_refs(&self, file: &SeedFile) -> Result<()> {
        let counts = |upto: usize| -> BTreeMap<&str, u32> {
            file.entity[..upto]
                .iter()
                .map(|e| (e.get_ref().table.as_str(), e.get_ref().count))
                .collect()
        };
        let all = counts(file.entity.len());
        for (table, spec) in &file.tables {
            let field = format!("tables.{table}.set");
            for value in spec.set.values() {
                for r in entity_refs(value) {
                    let problem = if matches!(table.as_str(), "users" | "api_keys") {
                        Some(format!(
                            "`{{entity:{}}}` needs a row that belongs to a story, and {table} rows belong to none",
                            r.0
                        ))
                    } else {
                        unknown_entity(&all, &r)
                    };
                    if let Some(problem) = problem {
                        return Err(Failure::usage(format!(
                            "{}: field `{field}`: {problem}",
                            self.origin
                        )));
                    }
                }
            }
        }
        for (i, entity) in file.entity.iter().enumerate() {
            let before = counts(i);
            for value in entity.get_ref().values.values() {
                for r in entity_refs(value) {
                    if let Some(problem) = unknown_entity(&before, &r) {
                        return Err(self.fail(
                            entity.span(),
                            &format!("entity[{i}].values"),
                            problem,
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn check_extensions(&self, file: &SeedFile) -> Result<()> {
        for (table, spec) in &file.tables {
            for (column, faker) in &spec.fake {
                if !FAKERS.contains(&faker.get_ref().as_str()) {
                    return Err(self.fail(
                        faker.span(),
                        &format!("tables.{table}.fake.{column}"),
                        format!(
                            "`{}` is not a generator; use one of {}",
                            faker.get_ref(),
                            FAKERS.join(", ")
                        ),
                    ));
                }
            }
        }
        let mut declared: BTreeSet<&str> = GENERATED.into_iter().chain(["api_keys"]).collect();
        for (i, entity) in file.entity.iter().enumerate() {
            let e = entity.get_ref();
            // Rows of one table from two places would share ids and labels.
            if !declared.insert(e.table.as_str()) {
                return Err(self.fail(
                    entity.span(),
                    &format!("entity[{i}].table"),
                    format!(
                        "the fixture already has rows of `{}` (generated, or an [[entity]] above); give that [[entity]] a larger count instead of a second one",
                        e.table
                    ),
                ));
            }
            if e.count == 0 {
                return Err(self.fail(
                    entity.span(),
                    &format!("entity[{i}].count"),
                    "must be at least 1".into(),
                ));
            }
            for link in &e.links {
                let ok = link
                    .split_once('.')
                    .is_some_and(|(t, c)| GENERATED.contains(&t) && !c.is_empty());
                if !ok {
                    return Err(self.fail(
                        entity.span(),
                        &format!("entity[{i}].links"),
                        format!(
                            "`{link}` must be TABLE.COLUMN of a generated table ({})",
                            GENERATED.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_accounts(
        &self,
        file: &SeedFile,
        seen_ids: &mut BTreeMap<String, String>,
    ) -> Result<()> {
        let mut usernames = BTreeSet::new();
        for (key, account) in &file.accounts {
            let field = |f: &str| format!("accounts.{key}.{f}");
            let spec = account.get_ref();
            let created = [
                spec.id.is_some(),
                spec.email.is_some(),
                spec.username.is_some(),
                spec.name.is_some(),
                spec.role.is_some(),
            ];
            self.check_auth(key, account)?;
            if spec.adopt_email.is_some() {
                if created.iter().any(|&c| c)
                    || spec.password.is_some()
                    || spec.password_env.is_some()
                {
                    return Err(self.fail(
                        account.span(),
                        &field("adopt_email"),
                        "an adopted account is used as-is: remove id, email, username, name, role and any password, or remove adopt_email".into(),
                    ));
                }
                continue;
            }
            if !created.iter().all(|&c| c) {
                return Err(self.fail(
                    account.span(),
                    &format!("accounts.{key}"),
                    "a created account needs id, email, username, name and role (or only adopt_email to use an existing account)".into(),
                ));
            }
            let (id, username, role) = (
                spec.id.as_ref().unwrap(),
                spec.username.as_ref().unwrap(),
                spec.role.as_ref().unwrap(),
            );
            self.check_id(id, &field("id"), seen_ids)?;
            if !ROLES.contains(&role.get_ref().as_str()) {
                return Err(self.fail(
                    role.span(),
                    &field("role"),
                    format!(
                        "`{}` is not a role; use one of {}",
                        role.get_ref(),
                        ROLES.join(", ")
                    ),
                ));
            }
            if username.get_ref().is_empty() || username.get_ref().chars().count() > 50 {
                return Err(self.fail(
                    username.span(),
                    &field("username"),
                    "a username must be 1 to 50 characters (users.username is varchar(50))".into(),
                ));
            }
            if !usernames.insert(username.get_ref().clone()) {
                return Err(self.fail(
                    username.span(),
                    &field("username"),
                    format!(
                        "username `{}` is used twice; usernames are unique",
                        username.get_ref()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_auth(&self, key: &str, account: &Spanned<AccountSpec>) -> Result<()> {
        let spec = account.get_ref();
        if spec.password.is_some() && spec.password_env.is_some() {
            return Err(self.fail(
                account.span(),
                &format!("accounts.{key}.password"),
                "give either password or password_env, not both".into(),
            ));
        }
        let mut names = BTreeSet::new();
        for k in &spec.api_keys {
            if !names.insert(k.name.as_str()) {
                return Err(self.fail(
                    account.span(),
                    &format!("accounts.{key}.api_keys"),
                    format!("two API keys are named `{}`; names identify keys", k.name),
                ));
            }
            for scope in &k.scopes {
                if !crate::auth::api_key::is_scope(scope.get_ref()) {
                    return Err(self.fail(
                        scope.span(),
                        &format!("accounts.{key}.api_keys"),
                        format!(
                            "`{}` is not a scope the app knows; use some of {}",
                            scope.get_ref(),
                            crate::auth::api_key::SCOPES.join(", ")
                        ),
                    ));
                }
            }
        }
        if let Some(file) = &spec.storage_state
            && !plain_json_name(file)
        {
            return Err(self.fail(
                account.span(),
                &format!("accounts.{key}.storage_state"),
                format!("`{file}` must be a plain file name ending in .json (the directory comes from --out)"),
            ));
        }
        Ok(())
    }

    /// Every storage-state file name is distinct, the default file included,
    /// so no account's session overwrites another's.
    fn check_state_files(&self, file: &SeedFile) -> Result<()> {
        let default = &file.auth.default_file;
        if !plain_json_name(default) {
            return Err(Failure::usage(format!(
                "{}: field `auth.default_file`: `{default}` must be a plain file name ending in .json (the directory comes from --out)",
                self.origin
            )));
        }
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        seen.insert(default.clone(), "auth.default_file".into());
        for (key, account) in &file.accounts {
            let name = account
                .get_ref()
                .storage_state
                .clone()
                .unwrap_or_else(|| format!("{key}.json"));
            if let Some(other) = seen.insert(name.clone(), format!("accounts.{key}")) {
                return Err(self.fail(
                    account.span(),
                    &format!("accounts.{key}.storage_state"),
                    format!("`{name}` is also the file of {other}; give each account its own file"),
                ));
            }
        }
        Ok(())
    }

    fn check_stories(
        &self,
        file: &SeedFile,
        seen_ids: &mut BTreeMap<String, String>,
    ) -> Result<()> {
        let d = &file.stories;
        self.check_account_ref(file, &d.owner, "stories.owner")?;
        for (value, field) in [
            (&d.chapters, "stories.chapters"),
            (&d.scenes_per_chapter, "stories.scenes_per_chapter"),
            (&d.scene_words, "stories.scene_words"),
        ] {
            if *value.get_ref() == 0 {
                return Err(self.fail(value.span(), field, "must be at least 1".into()));
            }
        }
        for (value, limit, field, of) in [
            (
                &d.published_chapters,
                &d.chapters,
                "stories.published_chapters",
                "stories.chapters",
            ),
            (
                &d.public_scenes,
                &d.scenes_per_chapter,
                "stories.public_scenes",
                "stories.scenes_per_chapter",
            ),
        ] {
            if value.get_ref() > limit.get_ref() {
                return Err(self.fail(
                    value.span(),
                    field,
                    format!(
                        "{} is more than {of} ({})",
                        value.get_ref(),
                        limit.get_ref()
                    ),
                ));
            }
        }
        if file.story.is_empty() {
            return Err(Failure::usage(format!(
                "{}: field `story`: the file lists no stories; add at least one [[story]] table",
                self.origin
            )));
        }
        let mut titles = BTreeSet::new();
        for (i, story) in file.story.iter().enumerate() {
            let s = story.get_ref();
            let field = |f: &str| format!("story[{i}].{f}");
            self.check_id(&s.id, &field("id"), seen_ids)?;
            if !STATUSES.contains(&s.status.get_ref().as_str()) {
                return Err(self.fail(
                    s.status.span(),
                    &field("status"),
                    format!(
                        "`{}` is not a story status; use writing or published (a database that renamed a label is mapped in the seed file, not here)",
                        s.status.get_ref()
                    ),
                ));
            }
            if let Some(owner) = &s.owner {
                self.check_account_ref(file, owner, &field("owner"))?;
            }
            if s.title.is_empty() || s.title.chars().count() > 255 {
                return Err(self.fail(
                    story.span(),
                    &field("title"),
                    "a title must be 1 to 255 characters".into(),
                ));
            }
            if !titles.insert(s.title.clone()) {
                return Err(self.fail(
                    story.span(),
                    &field("title"),
                    format!("title `{}` is used twice; the app's test page tells stories apart by title", s.title),
                ));
            }
        }
        // Derived ids must not collide with each other or with the explicit ones.
        for story in &file.story {
            let sid = story.get_ref().id.get_ref();
            for c in 1..=*d.chapters.get_ref() {
                let cid = ids::chapter(sid, c);
                let mut all = vec![cid.clone()];
                all.extend((1..=*d.scenes_per_chapter.get_ref()).map(|n| ids::scene(&cid, n)));
                for id in all {
                    if let Some(other) =
                        seen_ids.insert(id.clone(), format!("a part of story {sid}"))
                    {
                        return Err(self.fail(
                            story.get_ref().id.span(),
                            "story.id",
                            format!("derived id {id} collides with {other}; change one of the ids"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn check_community(&self, file: &SeedFile) -> Result<()> {
        let c = &file.community;
        let lists = [
            (&c.post_authors, "community.post_authors"),
            (&c.reply_authors, "community.reply_authors"),
            (&c.post_likes_by, "community.post_likes_by"),
            (&c.story_likes_by, "community.story_likes_by"),
        ];
        for (list, field) in lists {
            let mut seen = BTreeSet::new();
            for who in list {
                self.check_account_ref(file, who, field)?;
                if !seen.insert(who.get_ref()) && field.ends_with("_by") {
                    return Err(self.fail(
                        who.span(),
                        field,
                        format!(
                            "`{}` is listed twice; an account likes a thing once",
                            who.get_ref()
                        ),
                    ));
                }
            }
        }
        if c.posts > 0 && c.post_authors.is_empty() {
            return Err(Failure::usage(format!(
                "{}: field `community.post_authors`: {} posts need at least one author; name accounts in post_authors",
                self.origin, c.posts
            )));
        }
        if c.replies_per_post > 0 && c.reply_authors.is_empty() {
            return Err(Failure::usage(format!(
                "{}: field `community.reply_authors`: replies need at least one author; name accounts in reply_authors",
                self.origin
            )));
        }
        Ok(())
    }

    fn check_account_ref(&self, file: &SeedFile, who: &Spanned<String>, field: &str) -> Result<()> {
        if file.accounts.contains_key(who.get_ref()) {
            return Ok(());
        }
        let known: Vec<_> = file.accounts.keys().map(String::as_str).collect();
        Err(self.fail(
            who.span(),
            field,
            format!(
                "`{}` is not an account of this file; use one of {}",
                who.get_ref(),
                known.join(", ")
            ),
        ))
    }

    fn check_id(
        &self,
        id: &Spanned<String>,
        field: &str,
        seen: &mut BTreeMap<String, String>,
    ) -> Result<()> {
        if let Err(problem) = ids::check(id.get_ref()) {
            return Err(self.fail(id.span(), field, problem));
        }
        if let Some(other) = seen.insert(id.get_ref().clone(), field.to_string()) {
            return Err(self.fail(
                id.span(),
                field,
                format!(
                    "id {} is already used by `{other}`; ids must be unique",
                    id.get_ref()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message the built-in file gives with `edit` applied.
    fn rejected(edit: impl Fn(String) -> String) -> String {
        let text = edit(BUILT_IN.to_string());
        assert_ne!(text, BUILT_IN, "the edit must change the file");
        let failure = parse(&text, "t.toml").expect_err("the edit makes the file invalid");
        assert_eq!(failure.code, crate::error::ExitCode::Usage);
        failure.message
    }

    fn line_of(needle: &str) -> usize {
        BUILT_IN.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    #[test]
    fn the_built_in_file_is_valid_and_has_the_suite_s_three_stories() {
        let file = built_in().unwrap();
        let ids: Vec<&str> = file
            .story
            .iter()
            .map(|s| s.get_ref().id.get_ref().as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "LGAbU_uuQe56exjKNAQn3",
                "E2d5Wt9opYf6y0midOc5r",
                "H2d5lyQLC5qGxzG0YL322"
            ]
        );
        assert_eq!(file.auth.default_file, "user.json");
    }

    #[test]
    fn an_unknown_key_names_its_line() {
        let e = rejected(|s| s.replace("scene_words = 320", "scene_words = 320\nscene_wrds = 1"));
        assert!(
            e.starts_with(&format!("t.toml:{}:", line_of("scene_words") + 1)),
            "{e}"
        );
        assert!(e.contains("unknown field `scene_wrds`"), "{e}");
    }

    #[test]
    fn a_nul_character_is_refused_where_it_is() {
        let e = rejected(|s| s.replace("Cache Test Story 1", "Cache\\u0000Story"));
        assert!(e.contains("field `story.0.title` holds a NUL"), "{e}");
    }

    #[test]
    fn a_bad_base_time_is_named() {
        let e = rejected(|s| s.replace("2026-01-05T09:00:00", "next tuesday"));
        assert!(e.contains("field `fixture.base_time`"), "{e}");
    }

    #[test]
    fn a_zero_count_is_refused() {
        let e = rejected(|s| s.replace("chapters = 5", "chapters = 0"));
        assert!(
            e.contains("field `stories.chapters`: must be at least 1"),
            "{e}"
        );
    }

    #[test]
    fn ids_must_be_21_character_nanoids_and_unique() {
        let e = rejected(|s| s.replace("LGAbU_uuQe56exjKNAQn3", "short"));
        assert!(e.contains("5 characters"), "{e}");
        let e = rejected(|s| s.replace("E2d5Wt9opYf6y0midOc5r", "LGAbU_uuQe56exjKNAQn3"));
        assert!(e.contains("LGAbU_uuQe56exjKNAQn3"), "{e}");
    }

    #[test]
    fn account_references_must_exist() {
        let e = rejected(|s| s.replace("owner = \"writer\"", "owner = \"ghost\""));
        assert!(e.contains("ghost"), "{e}");
    }

    #[test]
    fn states_and_their_labels_are_checked() {
        let e = rejected(|s| s + "\n[states.paragraph]\ncolumn = \"x\"\n");
        assert!(e.contains("use one of story, chapter, scene"), "{e}");
        let e = rejected(|s| s + "\n[states.story]\ncolumn = \"x\"\nlabels = { public = \"y\" }\n");
        assert!(
            e.contains("the story states are published and writing"),
            "{e}"
        );
    }

    #[test]
    fn entity_references_are_parsed_with_and_without_a_position() {
        let v = toml::Value::Array(vec![
            toml::Value::String("{entity:settings}".into()),
            toml::Value::String("a {entity:parts:2} b".into()),
        ]);
        assert_eq!(
            entity_refs(&v),
            [("settings".to_string(), 1), ("parts".to_string(), 2)]
        );
        assert!(entity_refs(&toml::Value::Integer(3)).is_empty());
    }

    #[test]
    fn entity_references_must_name_a_declared_entity_in_range() {
        let e = rejected(|s| s + "\n[tables.scenes.set]\nsetting_id = \"{entity:settings}\"\n");
        assert!(e.contains("names no [[entity]]"), "{e}");
        let with =
            |s: String| s + "\n[[entity]]\ntable = \"settings\"\nvalues = { name = \"S\" }\n";
        let e =
            rejected(|s| with(s) + "\n[tables.scenes.set]\nsetting_id = \"{entity:settings:2}\"\n");
        assert!(e.contains("out of range"), "{e}");
    }

    #[test]
    fn storage_state_files_are_distinct_plain_json_names() {
        let e = rejected(|s| {
            s.replace(
                "storage_state = \"reader.json\"",
                "storage_state = \"writer.json\"",
            )
        });
        assert!(e.contains("is also the file of accounts."), "{e}");
        let e = rejected(|s| {
            s.replace(
                "default_file = \"user.json\"",
                "default_file = \"a/b.json\"",
            )
        });
        assert!(e.contains("field `auth.default_file`"), "{e}");
    }

    #[test]
    fn an_entity_table_the_fixture_already_fills_is_refused() {
        let settings = "\n[[entity]]\ntable = \"settings\"\nvalues = { name = \"S\" }\n";
        let e = rejected(|s| s + settings + settings);
        assert!(e.contains("field `entity[1].table`"), "{e}");
        assert!(e.contains("already has rows of `settings`"), "{e}");
        let e = rejected(|s| s + "\n[[entity]]\ntable = \"scenes\"\n");
        assert!(e.contains("already has rows of `scenes`"), "{e}");
    }

    #[test]
    fn links_and_fakers_are_known_ones() {
        let e = rejected(|s| s + "\n[[entity]]\ntable = \"parts\"\nlinks = [\"nowhere\"]\n");
        assert!(
            e.contains("must be TABLE.COLUMN of a generated table"),
            "{e}"
        );
        let e = rejected(|s| s + "\n[tables.scenes.fake]\nsummary = \"lorem\"\n");
        assert!(e.contains("`lorem` is not a generator"), "{e}");
    }

    #[test]
    fn api_key_scopes_are_the_app_s() {
        let e = rejected(|s| s.replacen("\"stories:read\"", "\"stories:all\"", 1));
        assert!(
            e.contains("`stories:all` is not a scope the app knows"),
            "{e}"
        );
    }

    #[test]
    fn the_scale_title_stays_off_the_cache_test_page() {
        let e = rejected(|s| s.replace("Load Test Story {n}", "Cache Test Story {n}"));
        assert!(e.contains("field `scale.title`"), "{e}");
    }
}
