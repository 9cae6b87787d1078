//! The canonical fixture: the exact rows the seed file describes, per table,
//! parents before children. Pure: the same file and the same account ids give
//! the same rows, byte for byte.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use crate::pure::clock;
use crate::pure::credentials::Credentials;
use crate::pure::ids;
use crate::pure::seedfile::{AccountSpec, CommunitySpec, SeedFile};
use crate::pure::text::Text;

/// One row as column → value, in the JSON form PostgreSQL reads and writes.
pub type Row = Map<String, Value>;

/// The app's cache entity kinds a row can belong to (see cache-keys.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Story,
    Chapter,
    Scene,
    User,
    Part,
    Character,
    Setting,
}

impl Kind {
    /// The kind whose rows live in `table`, for rows found outside the fixture.
    pub fn of_table(table: &str) -> Option<Kind> {
        match table {
            "stories" => Some(Kind::Story),
            "chapters" => Some(Kind::Chapter),
            "scenes" => Some(Kind::Scene),
            "users" => Some(Kind::User),
            "parts" => Some(Kind::Part),
            "characters" => Some(Kind::Character),
            "settings" => Some(Kind::Setting),
            _ => None,
        }
    }
}

/// An entity whose cache family a change to a row must drop.
pub type Tag = (Kind, String);

#[derive(Debug, Clone)]
pub struct FixtureRow {
    pub values: Row,
    /// The entities whose cached data shows this row (itself and its ancestors).
    pub tags: Vec<Tag>,
    /// Column → plaintext password: any stored hash that verifies is exact.
    pub passwords: BTreeMap<String, crate::pure::redact::Secret>,
    /// Columns this run cannot compute (their secret is not set): a stored
    /// row keeps its values, and a missing one cannot be created.
    pub kept: Vec<String>,
    /// What creating the row needs when `kept` is not empty, for messages.
    pub needs: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TableRows {
    pub table: String,
    /// Columns that identify a row (the table's primary key).
    pub key: Vec<String>,
    /// Columns the table must have; the others may be absent and are then skipped.
    pub required: Vec<String>,
    /// Columns written on insert but neither verified nor restored.
    pub unowned: Vec<String>,
    /// Columns that hold a logical state of the fixture → that state's name.
    pub states: BTreeMap<String, &'static str>,
    pub rows: Vec<FixtureRow>,
}

/// Columns the app itself writes in normal use (see the schema sheet's
/// "What the app's tests and settings rely on"): a test run changes them, so
/// they are written on insert but never drift. The seed file can add more.
const APP_WRITES: [(&str, &str); 3] = [
    // The cache test page PATCHes view_count, which bumps updated_at.
    ("stories", "updated_at"),
    // Bumped on every request made with the key.
    ("api_keys", "updated_at"),
    ("api_keys", "last_used_at"),
];

impl TableRows {
    fn new(table: &str, key: &[&str], required: &[&str]) -> Self {
        TableRows {
            table: table.into(),
            key: key.iter().map(|s| s.to_string()).collect(),
            required: required.iter().map(|s| s.to_string()).collect(),
            unowned: APP_WRITES
                .iter()
                .filter(|(t, _)| *t == table)
                .map(|(_, c)| c.to_string())
                .collect(),
            states: BTreeMap::new(),
            rows: Vec::new(),
        }
    }

    fn push(&mut self, values: Value, tags: Vec<Tag>) {
        let Value::Object(values) = values else {
            unreachable!("fixture rows are built as JSON objects")
        };
        self.rows.push(FixtureRow {
            values,
            tags,
            passwords: BTreeMap::new(),
            kept: Vec::new(),
            needs: None,
        });
    }

    /// The columns the fixture writes, in first-seen order.
    pub fn columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = Vec::new();
        for row in &self.rows {
            for c in row.values.keys() {
                if !columns.contains(c) {
                    columns.push(c.clone());
                }
            }
        }
        columns
    }

    /// The columns the fixture writes and restores: all but the key and
    /// those the app writes (`unowned`), in first-seen order.
    pub fn owned(&self) -> Vec<String> {
        self.columns()
            .into_iter()
            .filter(|c| !self.key.contains(c) && !self.unowned.contains(c))
            .collect()
    }

    /// The key of a row as one string, for maps and messages.
    pub fn key_of(&self, row: &Row) -> String {
        key_string(&self.key, row)
    }
}

/// A TOML value as JSON, with `fill` applied to every string in it.
fn toml_json(value: &toml::Value, fill: &dyn Fn(&str) -> String) -> Value {
    match value {
        toml::Value::String(s) => Value::String(fill(s)),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(|v| toml_json(v, fill)).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_json(v, fill)))
                .collect(),
        ),
    }
}

/// The id of the `n`-th `[[entity]]` row of `table` in story `story`.
fn entity_id(table: &str, story: &str, n: u32) -> String {
    ids::derive(&["entity", table, story, &n.to_string()])
}

/// `text` with every `{entity:TABLE}` / `{entity:TABLE:N}` replaced by the id
/// of that entity row of `story` (the seed file's validator vouches for them).
fn fill_entities(text: &str, story: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{entity:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "{entity:".len()..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &after[..end];
        let (table, n) = match inner.rsplit_once(':').map(|(t, n)| (t, n.parse::<u32>())) {
            Some((table, Ok(n))) => (table, n),
            _ => (inner, 1),
        };
        out.push_str(&entity_id(table, story, n));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The story a row belongs to, from its cache tags.
fn story_of(tags: &[Tag]) -> Option<&str> {
    tags.iter()
        .find(|(k, _)| *k == Kind::Story)
        .map(|(_, id)| id.as_str())
}

pub fn key_string(key: &[String], row: &Row) -> String {
    key.iter()
        .map(|k| match row.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "null".into(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// An account the fixture uses: created by it, or adopted as-is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub adopted: bool,
}

/// Account key (as the seed file names it) → the account.
pub type Accounts = BTreeMap<String, Account>;

#[derive(Debug, Clone)]
pub struct Fixture {
    /// Parents before children once fitted to the catalog: inserts go in this order.
    pub tables: Vec<TableRows>,
    pub accounts: Accounts,
    /// The text generator's seed and the base time, for values inferred later.
    pub seed: u64,
    pub base: NaiveDateTime,
    /// Enum type → logical label → database label.
    pub labels: BTreeMap<String, BTreeMap<String, String>>,
}

impl Fixture {
    pub fn table(&self, name: &str) -> Option<&TableRows> {
        self.tables.iter().find(|t| t.table == name)
    }

    /// Adds the load-test account as a users row, so the walk from fixture
    /// rows reaches every scale row through it (teardown).
    pub fn add_scale_account(&mut self, id: &str) {
        if id.is_empty() {
            return;
        }
        if let Some(users) = self.tables.iter_mut().find(|t| t.table == "users")
            && !users
                .rows
                .iter()
                .any(|r| r.values.get("id") == Some(&Value::from(id)))
        {
            users.push(json!({ "id": id }), vec![(Kind::User, id.to_string())]);
        }
    }

    /// The ids of the adopted accounts: never the fixture's to remove.
    pub fn adopted_ids(&self) -> Vec<String> {
        self.accounts
            .values()
            .filter(|a| a.adopted)
            .map(|a| a.id.clone())
            .collect()
    }

    /// The fixture without the load-test account, whose dependants are
    /// load-test data rather than extras: the roots for finding extras.
    pub fn canonical(&self, scale_account: &str) -> Fixture {
        let mut canonical = self.clone();
        for t in canonical.tables.iter_mut().filter(|t| t.table == "users") {
            t.rows
                .retain(|r| r.values.get("id") != Some(&Value::from(scale_account)));
        }
        canonical
    }
}

/// The accounts the file creates itself; adopted ones are resolved against the
/// database by the caller and added to the map before `build`.
pub fn created_accounts(file: &SeedFile) -> Accounts {
    file.accounts
        .iter()
        .filter_map(|(key, spec)| {
            let id = spec.get_ref().id.as_ref()?;
            Some((
                key.clone(),
                Account {
                    id: id.get_ref().clone(),
                    adopted: false,
                },
            ))
        })
        .collect()
}

/// Builds the canonical fixture. `accounts` must hold every account of the
/// file; `scale` is the number of load-test stories (only their account is
/// part of these rows: the stories themselves are streamed by `scale`).
pub fn build(
    file: &SeedFile,
    accounts: &Accounts,
    scale: u32,
    credentials: &Credentials,
) -> Fixture {
    let mut builder = Builder::new(file, accounts, scale);
    builder.credentials = credentials;
    builder.build()
}

/// The rows of load-test story `n` (1-based), with `[[entity]]` rows and
/// `[tables]` adjustments applied; the users table stays empty. With
/// `tables`, just those tables' rows are complete (others may be missing).
pub fn scale_story(
    file: &SeedFile,
    accounts: &Accounts,
    n: u32,
    tables: Option<&[String]>,
) -> Fixture {
    // Everything in a load-test story is by the load-test account, so no
    // scale row hangs off the canonical accounts (verify and prune ignore them).
    let mut accounts = accounts.clone();
    accounts.insert(
        SCALE_ACCOUNT.into(),
        Account {
            id: file.scale.account_id(),
            adopted: false,
        },
    );
    let only = |list: &Vec<toml::Spanned<String>>| -> Vec<toml::Spanned<String>> {
        if list.is_empty() {
            vec![]
        } else {
            vec![toml::Spanned::new(0..0, SCALE_ACCOUNT.to_string())]
        }
    };
    let c = &file.community;
    let community = CommunitySpec {
        posts: c.posts,
        post_authors: only(&c.post_authors),
        replies_per_post: c.replies_per_post,
        reply_authors: only(&c.reply_authors),
        nested_replies: c.nested_replies,
        post_likes_by: only(&c.post_likes_by),
        story_likes_by: only(&c.story_likes_by),
    };
    let mut builder = Builder::new(file, &accounts, 0);
    builder.community = &community;
    builder.only = tables;
    let mut tables = empty_tables();
    let d = &file.stories;
    builder.story(
        &StoryInput {
            index: file.story.len() + n as usize,
            id: ids::derive(&["scale-story", &n.to_string()]),
            title: file.scale.title.replace("{n}", &format!("{n:06}")),
            status: "published",
            owner: file.scale.account_id(),
            genre: &d.genre,
            tone: d.tone.as_ref(),
        },
        &mut tables,
    );
    builder.finish(tables)
}

/// The eight tables the fixture generates, empty, in insertion order.
fn empty_tables() -> Vec<TableRows> {
    vec![
        TableRows::new("users", &["id"], &["id", "email"]),
        TableRows::new("stories", &["id"], &["id", "title", "author_id"]),
        TableRows::new("chapters", &["id"], &["id", "story_id", "order_index"]),
        TableRows::new("scenes", &["id"], &["id", "chapter_id", "order_index"]),
        TableRows::new("community_posts", &["id"], &["id", "story_id", "author_id"]),
        TableRows::new(
            "community_replies",
            &["id"],
            &["id", "post_id", "author_id"],
        ),
        TableRows::new("post_likes", &["post_id", "user_id"], &[]),
        TableRows::new("story_likes", &["user_id", "story_id"], &[]),
    ]
}

/// One story to generate, from a `[[story]]` table or from scale mode.
struct StoryInput<'a> {
    index: usize,
    id: String,
    title: String,
    status: &'a str,
    owner: String,
    genre: &'a String,
    tone: Option<&'a String>,
}

/// Load-test accounts sign in with nothing.
static NO_CREDENTIALS: Credentials = Credentials {
    passwords: BTreeMap::new(),
    key_secret: None,
    notes: Vec::new(),
};

/// The key load-test rows use for their account.
const SCALE_ACCOUNT: &str = "\0scale";

struct Builder<'a> {
    /// Generate only these tables' rows (and the cheap parents they need).
    only: Option<&'a [String]>,
    file: &'a SeedFile,
    credentials: &'a Credentials,
    community: &'a CommunitySpec,
    accounts: &'a Accounts,
    base: NaiveDateTime,
    scale: u32,
}

/// Minutes after the base time at which each story's rows begin.
const STORY_SPACING: i64 = 24 * 60;

impl<'a> Builder<'a> {
    fn id_of(&self, account: &str) -> &str {
        &self.accounts[account].id
    }

    fn at(&self, minutes: i64) -> Value {
        Value::String(clock::at(self.base, minutes))
    }

    fn text(&self, entity: &str, purpose: &str) -> Text {
        Text::new(self.file.fixture.seed, entity, purpose)
    }

    fn build(&self) -> Fixture {
        let mut tables = empty_tables();
        self.users(&mut tables[0]);
        for (i, story) in self.file.story.iter().enumerate() {
            let story = story.get_ref();
            let owner = story.owner.as_ref().unwrap_or(&self.file.stories.owner);
            self.story(
                &StoryInput {
                    index: i,
                    id: story.id.get_ref().clone(),
                    title: story.title.clone(),
                    status: story.status.get_ref(),
                    owner: self.id_of(owner.get_ref()).to_string(),
                    genre: story.genre.as_ref().unwrap_or(&self.file.stories.genre),
                    tone: story.tone.as_ref().or(self.file.stories.tone.as_ref()),
                },
                &mut tables,
            );
        }
        if self.scale > 0
            && let Some(account) = &self.file.scale.account
        {
            let id = self.file.scale.account_id();
            tables[0].push(self.user_row(account, &id), vec![(Kind::User, id.clone())]);
        }
        tables.extend(self.api_keys());
        self.finish(tables)
    }

    /// Whether rows of `table` are generated (scale mode builds one table a pass).
    fn wants(&self, table: &str) -> bool {
        self.only.is_none_or(|ts| ts.iter().any(|t| t == table))
    }

    fn new(file: &'a SeedFile, accounts: &'a Accounts, scale: u32) -> Self {
        Builder {
            only: None,
            file,
            credentials: &NO_CREDENTIALS,
            community: &file.community,
            accounts,
            base: clock::parse_base(file.fixture.base_time.get_ref())
                .expect("validated when the seed file was loaded"),
            scale,
        }
    }

    /// Entities, states and `[tables]` adjustments, then the fixture itself.
    fn finish(&self, mut tables: Vec<TableRows>) -> Fixture {
        self.entities(&mut tables);
        self.place_states(&mut tables);
        for t in &mut tables {
            if let Some(spec) = self.file.tables.get(&t.table) {
                self.apply(spec, t);
            }
        }
        Fixture {
            tables,
            accounts: self.accounts.clone(),
            seed: self.file.fixture.seed,
            base: self.base,
            labels: self.file.labels.clone(),
        }
    }

    /// Rows of `[[entity]]` tables for every story, and the fixture columns
    /// that point at each story's first one.
    fn entities(&self, tables: &mut Vec<TableRows>) {
        for spec in &self.file.entity {
            let spec = spec.get_ref();
            let mut rows = TableRows::new(&spec.table, &["id"], &["id"]);
            let mut first: BTreeMap<String, String> = BTreeMap::new();
            for (i, story) in tables[1].rows.iter().enumerate() {
                let sid = story.values["id"].as_str().unwrap_or_default().to_string();
                let owner = story.values["author_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let start = (i as i64 + 1) * STORY_SPACING;
                for n in 1..=spec.count {
                    let id = entity_id(&spec.table, &sid, n);
                    let fill = |text: &str| {
                        fill_entities(text, &sid)
                            .replace("{id}", &id)
                            .replace("{n}", &n.to_string())
                            .replace("{story}", &sid)
                            .replace("{owner}", &owner)
                            .replace("{time}", &clock::at(self.base, start))
                    };
                    let mut values = Row::new();
                    values.insert("id".into(), Value::String(id.clone()));
                    for (column, value) in &spec.values {
                        values.insert(column.clone(), toml_json(value, &fill));
                    }
                    let mut tags = story.tags.clone();
                    if let Some(kind) = Kind::of_table(&spec.table) {
                        tags.push((kind, id.clone()));
                    }
                    rows.rows.push(FixtureRow {
                        values,
                        tags,
                        passwords: BTreeMap::new(),
                        kept: Vec::new(),
                        needs: None,
                    });
                    first.entry(sid.clone()).or_insert(id);
                }
            }
            for link in &spec.links {
                let Some((table, column)) = link.split_once('.') else {
                    continue;
                };
                for t in tables.iter_mut().filter(|t| t.table == table) {
                    for row in &mut t.rows {
                        let story = row.tags.iter().find(|(k, _)| *k == Kind::Story);
                        if let Some(id) = story.and_then(|(_, s)| first.get(s)) {
                            row.values
                                .insert(column.to_string(), Value::String(id.clone()));
                        }
                    }
                }
            }
            tables.push(rows);
        }
    }

    /// Moves each logical state (and its timestamp) to where `[states]` says
    /// it lives now, with that column's values. The state's column is
    /// recorded, so fitting can name the edit when the database lacks it.
    fn place_states(&self, tables: &mut [TableRows]) {
        for state in &crate::pure::seedfile::LOGICAL_STATES {
            let Some(t) = tables.iter_mut().find(|t| t.table == state.table) else {
                continue;
            };
            let Some(spec) = self.file.states.get(state.name).map(|s| s.get_ref()) else {
                t.states.insert(state.column.to_string(), state.name);
                continue;
            };
            if !spec.column.is_empty() {
                t.states.insert(spec.column.clone(), state.name);
            }
            let at = spec.at.as_deref().or(state.at).filter(|a| !a.is_empty());
            for row in &mut t.rows {
                let logical = row.values.remove(state.column);
                let reached = state.at.and_then(|a| row.values.remove(a));
                let on = logical.as_ref().and_then(Value::as_str) == Some(state.values[0]);
                if !spec.column.is_empty() {
                    let written = match logical {
                        Some(Value::String(l)) => {
                            Value::String(spec.labels.get(&l).cloned().unwrap_or(l))
                        }
                        other => other.unwrap_or(Value::Null),
                    };
                    row.values.insert(spec.column.clone(), written);
                }
                if let Some(at) = at {
                    // A state that had no timestamp of its own (a story's) is
                    // reached when its row was created.
                    let when = match reached {
                        Some(v) => v,
                        None if on => row.values.get("created_at").cloned().unwrap_or(Value::Null),
                        None => Value::Null,
                    };
                    row.values.insert(at.to_string(), when);
                }
            }
        }
    }

    /// `[tables.NAME]`: ownership, required columns, fixed and generated values.
    fn apply(&self, spec: &crate::pure::seedfile::TableSpec, t: &mut TableRows) {
        for column in &spec.unowned {
            if !t.unowned.contains(column) {
                t.unowned.push(column.clone());
            }
        }
        t.required.extend(spec.required.iter().cloned());
        for row in &mut t.rows {
            let key = key_string(&t.key, &row.values);
            let story = story_of(&row.tags).unwrap_or_default().to_string();
            for (column, value) in &spec.set {
                let v = toml_json(value, &|text: &str| {
                    fill_entities(text, &story).replace("{id}", &key)
                });
                row.values.insert(column.clone(), v);
            }
            for (column, faker) in &spec.fake {
                let mut text = self.text(&key, column);
                let v = match faker.get_ref().as_str() {
                    "word" => text.title(1, 2).to_lowercase(),
                    "words" => text.title(2, 5).to_lowercase(),
                    "title" | "name" => text.title(2, 4),
                    "paragraph" => text.prose(60),
                    _ => text.sentence(6, 14),
                };
                row.values.insert(column.clone(), Value::String(v));
            }
        }
    }

    /// Rows of one story, its chapters, scenes and (when published) community.
    fn story(&self, story: &StoryInput, tables: &mut [TableRows]) {
        let start = (story.index as i64 + 1) * STORY_SPACING;
        let sid = story.id.as_str();
        let owner = story.owner.clone();
        let story_tags = vec![(Kind::Story, sid.to_string()), (Kind::User, owner.clone())];
        let mut summary = self.text(sid, "summary");
        tables[1].push(
            json!({
                "id": sid,
                "title": story.title,
                "genre": story.genre,
                "status": story.status,
                "author_id": owner,
                "summary": summary.sentence(12, 24),
                "tone": story.tone,
                "created_at": self.at(start),
                "updated_at": self.at(start),
            }),
            story_tags.clone(),
        );
        let [
            _,
            _,
            chapters,
            scenes,
            posts,
            replies,
            post_likes,
            story_likes,
        ] = tables
        else {
            unreachable!("empty_tables makes the eight generated tables")
        };
        self.chapters(sid, &owner, start, &story_tags, chapters, scenes);
        let community = [
            "community_posts",
            "community_replies",
            "post_likes",
            "story_likes",
        ];
        if story.status == "published" && community.iter().any(|t| self.wants(t)) {
            self.community(
                sid,
                start,
                &story_tags,
                [posts, replies, post_likes, story_likes],
            );
        }
    }

    fn users(&self, users: &mut TableRows) {
        for (key, spec) in &self.file.accounts {
            if self.accounts[key].adopted {
                continue;
            }
            let id = self.id_of(key);
            let mut row = self.user_row(spec.get_ref(), id);
            let plain = self.credentials.passwords.get(key);
            if let Some(plain) = plain {
                let hash = Credentials::password_hash(self.file.fixture.seed, id, plain.expose());
                row["password"] = Value::String(hash);
            }
            users.push(row, vec![(Kind::User, id.to_string())]);
            if let (Some(plain), Some(last)) = (plain, users.rows.last_mut()) {
                last.passwords.insert("password".into(), plain.clone());
            }
        }
    }

    /// API keys of every account. Their id does not depend on the secret, so
    /// without it the rows are still the fixture's: a stored key keeps its
    /// hash and prefix, and only a missing one cannot be made.
    fn api_keys(&self) -> Option<TableRows> {
        let mut keys = TableRows::new(
            "api_keys",
            &["id"],
            &["id", "user_id", "key_hash", "key_prefix"],
        );
        for (key, spec) in &self.file.accounts {
            let user = self.id_of(key);
            for k in &spec.get_ref().api_keys {
                let scopes: Vec<&String> = k.scopes.iter().map(|s| s.get_ref()).collect();
                let mut row = json!({
                    "id": ids::derive(&["api-key", user, &k.name]),
                    "user_id": user,
                    "name": k.name,
                    "scopes": scopes,
                    "is_active": true,
                    "expires_at": null,
                    "created_at": self.at(0),
                    "updated_at": self.at(0),
                });
                let derived = self.credentials.api_key(user, &k.name);
                if let Some(api) = &derived {
                    row["key_hash"] = Value::String(api.hash.clone());
                    row["key_prefix"] = Value::String(api.prefix.clone());
                }
                keys.push(row, vec![(Kind::User, user.to_string())]);
                if derived.is_none()
                    && let Some(last) = keys.rows.last_mut()
                {
                    last.kept = vec!["key_hash".into(), "key_prefix".into()];
                    last.needs = Some(format!("${}", self.file.auth.key_secret_env));
                }
            }
        }
        (!keys.rows.is_empty()).then_some(keys)
    }

    fn user_row(&self, spec: &AccountSpec, id: &str) -> Value {
        json!({
            "id": id,
            "email": spec.email,
            "username": spec.username.as_ref().map(|u| u.get_ref()),
            "name": spec.name,
            "role": spec.role.as_ref().map(|r| r.get_ref()),
            "email_verified": self.at(0),
            "created_at": self.at(0),
            "updated_at": self.at(0),
        })
    }

    fn chapters(
        &self,
        sid: &str,
        owner: &str,
        start: i64,
        story_tags: &[Tag],
        chapters: &mut TableRows,
        scenes: &mut TableRows,
    ) {
        let d = &self.file.stories;
        for c in 1..=*d.chapters.get_ref() {
            let cid = ids::chapter(sid, c);
            let created = start + i64::from(c) * 60;
            let published = c <= *d.published_chapters.get_ref();
            let mut tags = story_tags.to_vec();
            tags.push((Kind::Chapter, cid.clone()));
            chapters.push(
                json!({
                    "id": cid,
                    "title": d.chapter_title.replace("{n}", &c.to_string()),
                    "summary": self.text(&cid, "summary").sentence(10, 20),
                    "story_id": sid,
                    "author_id": owner,
                    "order_index": c,
                    "status": if published { "published" } else { "writing" },
                    "published_at": published.then(|| self.at(created + 30)),
                    "created_at": self.at(created),
                    "updated_at": self.at(created),
                }),
                tags.clone(),
            );
            // Scene prose is most of the generation work: skipped when unwanted.
            if !self.wants("scenes") {
                continue;
            }
            let per_chapter = *d.scenes_per_chapter.get_ref();
            for n in 1..=per_chapter {
                let xid = ids::scene(&cid, n);
                let created = created + i64::from(n);
                let public = n <= *d.public_scenes.get_ref();
                let mut tags = tags.clone();
                tags.push((Kind::Scene, xid.clone()));
                let mut text = self.text(&xid, "scene");
                scenes.push(
                    json!({
                        "id": xid,
                        "title": d
                            .scene_title
                            .replace("{n_in_story}", &((c - 1) * per_chapter + n).to_string())
                            .replace("{n}", &n.to_string()),
                        "summary": text.sentence(10, 20),
                        "content": text.prose(*d.scene_words.get_ref() as usize),
                        "chapter_id": cid,
                        "order_index": n,
                        "visibility": if public { "public" } else { "unlisted" },
                        "published_at": public.then(|| self.at(created + 30)),
                        "created_at": self.at(created),
                        "updated_at": self.at(created),
                    }),
                    tags,
                );
            }
        }
    }

    /// Posts, replies (with one nested answer per post) and likes on a published story.
    fn community(&self, sid: &str, start: i64, tags: &[Tag], tables: [&mut TableRows; 4]) {
        let [posts, replies, post_likes, story_likes] = tables;
        let c = self.community;
        let first_post = start + 7 * 60 * 24;
        let nested = c.nested_replies && c.replies_per_post > 0;
        for p in 1..=c.posts {
            let pid = ids::post(sid, p);
            let created = first_post + i64::from(p) * 60;
            let author = &c.post_authors[(p as usize - 1) % c.post_authors.len()];
            let mut text = self.text(&pid, "post");
            let reply_count = c.replies_per_post + u32::from(nested);
            let last_reply = created + i64::from(reply_count) * 5;
            posts.push(
                json!({
                    "id": pid,
                    "title": text.sentence(4, 9).trim_end_matches('.'),
                    "content": text.prose(80),
                    "story_id": sid,
                    "author_id": self.id_of(author.get_ref()),
                    "likes": c.post_likes_by.len(),
                    "replies": reply_count,
                    "is_deleted": false,
                    "moderation_status": "approved",
                    "last_activity_at": self.at(last_reply),
                    "created_at": self.at(created),
                    "updated_at": self.at(created),
                }),
                tags.to_vec(),
            );
            for r in 1..=c.replies_per_post {
                let rid = ids::reply(&pid, r);
                let author = &c.reply_authors[(r as usize - 1) % c.reply_authors.len()];
                let at = self.at(created + i64::from(r) * 5);
                replies.push(
                    json!({
                        "id": rid,
                        "content": self.text(&rid, "reply").sentence(8, 20),
                        "post_id": pid,
                        "author_id": self.id_of(author.get_ref()),
                        "parent_reply_id": null,
                        "depth": 0,
                        "created_at": at,
                        "updated_at": at,
                    }),
                    tags.to_vec(),
                );
                if nested && r == 1 {
                    let nid = ids::nested_reply(&rid);
                    let author = &c.reply_authors[r as usize % c.reply_authors.len()];
                    replies.push(
                        json!({
                            "id": nid,
                            "content": self.text(&nid, "reply").sentence(8, 20),
                            "post_id": pid,
                            "author_id": self.id_of(author.get_ref()),
                            "parent_reply_id": rid,
                            "depth": 1,
                            "created_at": self.at(last_reply),
                            "updated_at": self.at(last_reply),
                        }),
                        tags.to_vec(),
                    );
                }
            }
            for who in &c.post_likes_by {
                post_likes.push(
                    json!({
                        "post_id": pid,
                        "user_id": self.id_of(who.get_ref()),
                        "created_at": self.at(created + 1),
                    }),
                    tags.to_vec(),
                );
            }
        }
        for who in &c.story_likes_by {
            story_likes.push(
                json!({
                    "user_id": self.id_of(who.get_ref()),
                    "story_id": sid,
                    "created_at": self.at(first_post),
                }),
                tags.to_vec(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_file_gives_byte_identical_rows() {
        let a = crate::pure::testing::fixture();
        let b = crate::pure::testing::fixture();
        let dump = |f: &Fixture| {
            f.tables
                .iter()
                .map(|t| {
                    serde_json::to_string(&t.rows.iter().map(|r| &r.values).collect::<Vec<_>>())
                        .unwrap()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(dump(&a), dump(&b));
        let counts: Vec<(&str, usize)> = a
            .tables
            .iter()
            .map(|t| (t.table.as_str(), t.rows.len()))
            .collect();
        assert!(
            counts.contains(&("scenes", 45)) && counts.contains(&("chapters", 15)),
            "{counts:?}"
        );
    }

    #[test]
    fn api_keys_are_the_fixture_s_with_or_without_their_secret() {
        let file = crate::pure::testing::file();
        let accounts = created_accounts(&file);
        let without = build(&file, &accounts, 0, &Credentials::default());
        let secret = Credentials {
            key_secret: Some(crate::pure::redact::Secret::new("s")),
            ..Credentials::default()
        };
        let with = build(&file, &accounts, 0, &secret);
        let ids = |f: &Fixture| {
            f.table("api_keys")
                .unwrap()
                .rows
                .iter()
                .map(|r| r.values["id"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&without), ids(&with));
        let kept = &without.table("api_keys").unwrap().rows[0];
        assert_eq!(kept.kept, ["key_hash", "key_prefix"]);
        assert!(!kept.values.contains_key("key_hash"));
        assert!(with.table("api_keys").unwrap().rows[0].values["key_hash"].is_string());
    }

    #[test]
    fn the_load_test_account_comes_and_goes_once() {
        let mut f = crate::pure::testing::fixture();
        f.add_scale_account("fxLoadTestAccount0001");
        f.add_scale_account("fxLoadTestAccount0001");
        let users = |f: &Fixture| f.table("users").unwrap().rows.len();
        let canonical = f.canonical("fxLoadTestAccount0001");
        assert_eq!(users(&f), users(&canonical) + 1);
    }

    #[test]
    fn entity_references_become_the_story_s_entity_ids() {
        let story = "LGAbU_uuQe56exjKNAQn3";
        let first = entity_id("settings", story, 1);
        assert_eq!(fill_entities("{entity:settings}", story), first);
        assert_eq!(fill_entities("{entity:settings:1}", story), first);
        assert_eq!(
            fill_entities("a {entity:settings:2} b {id}", story),
            format!("a {} b {{id}}", entity_id("settings", story, 2))
        );
        assert_ne!(first, entity_id("settings", "E2d5Wt9opYf6y0midOc5r", 1));
        assert_eq!(fill_entities("no {entity:open", story), "no {entity:open");
    }

    #[test]
    fn states_move_to_their_new_column_with_their_labels_and_timestamp() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/variants/4-moved-states.toml"
        ))
        .unwrap();
        let file = crate::pure::seedfile::parse(&text, "variant 4").unwrap();
        let fixture = crate::pure::testing::fixture_of(&file);
        let scenes = fixture.table("scenes").unwrap();
        let first = &scenes.rows[0].values;
        assert_eq!(first["novel_status"], "published");
        assert!(first["published_at"].is_string());
        assert!(!first.contains_key("visibility"));
        let second = &scenes.rows[1].values;
        assert_eq!(second["novel_status"], "draft");
        assert!(second["published_at"].is_null());
        assert_eq!(scenes.states.get("novel_status"), Some(&"scene"));
        let chapters = fixture.table("chapters").unwrap();
        assert!(!chapters.rows[0].values.contains_key("status"));
        assert!(chapters.rows[0].values["published_at"].is_string());
        assert!(
            chapters.states.is_empty(),
            "column = \"\" writes it nowhere"
        );
        let stories = fixture.table("stories").unwrap();
        assert_eq!(stories.states.get("status"), Some(&"story"));
    }
}
