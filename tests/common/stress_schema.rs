//! Generator for `tests/stress.rs`: hundreds of tables hanging off the
//! fixture's tables, with the awkward shapes a foreign-key walker meets in
//! real databases, and the foreign, debris and late rows that go in them.

use std::collections::BTreeMap;
use std::fmt::Write;

/// Direct dependents generated per fixture table (six fixture tables).
const PER_TARGET: usize = 50;
/// Direct dependents (by position) that root a three-level chain.
const CHAIN_ROOTS: std::ops::RangeInclusive<usize> = 1..=4;
/// Nullable columns added to `stories` and `scenes` to widen them past 80.
const STORIES_EXTRA: usize = 70;
const SCENES_EXTRA: usize = 55;
/// Columns of the wide dependent table besides its id, reference and tag.
const WIDE_EXTRA: usize = 147;
const TYPES: [&str; 12] = [
    "text",
    "integer",
    "bigint",
    "boolean",
    "numeric(12,2)",
    "jsonb",
    "timestamp",
    "date",
    "uuid",
    "text[]",
    "varchar(40)",
    "double precision",
];

/// `"name"` with embedded quotes doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with embedded quotes doubled (standard_conforming_strings is on).
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A mixed-case name of exactly 63 bytes, PostgreSQL's identifier limit:
/// anything longer would be silently truncated, so this is the edge.
fn name63(prefix: &str) -> String {
    const PAD: &[u8] = b"AbCdEfGhIjKlMnOpQrStUvWxYz";
    let mut s = prefix.to_string();
    while s.len() < 63 {
        s.push(PAD[s.len() % PAD.len()] as char);
    }
    s.truncate(63);
    s
}

/// A fixture table dependents point at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Users,
    Stories,
    Chapters,
    Scenes,
    Posts,
    Replies,
}

impl Target {
    pub const ALL: [Target; 6] = [
        Target::Users,
        Target::Stories,
        Target::Chapters,
        Target::Scenes,
        Target::Posts,
        Target::Replies,
    ];

    pub fn table(self) -> &'static str {
        match self {
            Target::Users => "users",
            Target::Stories => "stories",
            Target::Chapters => "chapters",
            Target::Scenes => "scenes",
            Target::Posts => "community_posts",
            Target::Replies => "community_replies",
        }
    }

    fn camel(self) -> &'static str {
        match self {
            Target::Users => "Users",
            Target::Stories => "Stories",
            Target::Chapters => "Chapters",
            Target::Scenes => "Scenes",
            Target::Posts => "CommunityPosts",
            Target::Replies => "CommunityReplies",
        }
    }

    /// A row of tests/data/foreign.sql: foreign rows only ever point at these.
    fn foreign_id(self) -> &'static str {
        match self {
            Target::Users => "frgnUser0000000000001",
            Target::Stories => "frgnStory000000000001",
            Target::Chapters => "frgnChap0000000000001",
            Target::Scenes => "frgnScen0000000000001",
            Target::Posts => "frgnPost0000000000001",
            Target::Replies => "frgnRepl0000000000002",
        }
    }
}

/// Ids of the seeded fixture's rows, read back after the first seed.
#[derive(Debug, Default)]
pub struct FixtureIds {
    pub rows: BTreeMap<Target, Vec<String>>,
    /// (post_id, user_id) of the fixture's post_likes.
    pub post_likes: Vec<(String, String)>,
}

impl FixtureIds {
    fn pick(&self, t: Target, n: usize) -> &str {
        let ids = &self.rows[&t];
        &ids[n % ids.len()]
    }
}

/// Which rows a generated insert is for; the tag column says it in the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// Rows hanging off tests/data/foreign.sql: they must survive everything.
    Foreign,
    /// Rows hanging off the fixture, added after the first seed: `seed --prune` removes them.
    Debris,
    /// Rows hanging off the fixture, added after the prune: `teardown` removes them.
    Late,
}

impl Which {
    fn prefix(self) -> &'static str {
        match self {
            Which::Foreign => "frgn",
            Which::Debris => "dbrs",
            Which::Late => "late",
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Which::Foreign => "foreign",
            Which::Debris => "debris",
            Which::Late => "late",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parent {
    Fixture(Target),
    /// Another generated table (a chain's level above).
    Dep(usize),
    /// post_likes, through its composite primary key.
    PostLikes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Plain,
    /// A self reference whose rows form 2-cycles.
    Cycle,
    /// PARTITION BY LIST without a primary key: rows are told apart by ctid,
    /// which repeats across partitions.
    Partitioned,
    /// A two-column reference onto post_likes' primary key.
    Composite,
}

/// One generated dependent table.
struct Dep {
    schema: &'static str,
    name: String,
    kind: Kind,
    id: String,
    fk: String,
    tag: String,
    parent: Parent,
    on_delete: &'static str,
    deferred: bool,
    nullable: bool,
    /// Extra column definitions (the wide table).
    extra: Vec<String>,
    foreign: usize,
    debris: usize,
    late: usize,
}

impl Dep {
    fn plain(name: impl Into<String>, parent: Parent, on_delete: &'static str) -> Dep {
        Dep {
            schema: "public",
            name: name.into(),
            kind: Kind::Plain,
            id: "id".into(),
            fk: "parent_id".into(),
            tag: "tag".into(),
            parent,
            on_delete,
            deferred: false,
            nullable: false,
            extra: Vec::new(),
            foreign: 1,
            debris: 2,
            late: 0,
        }
    }

    fn sql_name(&self) -> String {
        format!("{}.{}", ident(self.schema), ident(&self.name))
    }

    /// How the tool names it: bare in the first schema on the search_path.
    fn reported(&self) -> String {
        if self.schema == "public" {
            self.name.clone()
        } else {
            format!("{}.{}", self.schema, self.name)
        }
    }

    fn count(&self, which: Which) -> usize {
        match which {
            Which::Foreign => self.foreign,
            Which::Debris => self.debris,
            Which::Late => self.late,
        }
    }

    fn row_id(k: usize, which: Which, j: usize) -> String {
        format!("{}-{k}-{j}", which.prefix())
    }
}

/// Generated row inserts and how many rows each table gets.
#[derive(Debug, Default)]
pub struct Rows {
    pub sql: String,
    /// Reported table name → rows.
    pub counts: BTreeMap<String, u64>,
}

impl Rows {
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// Sizes of the generated schema, for the test's log and assertions.
#[derive(Debug)]
pub struct Stats {
    /// Generated tables (a partitioned table counts once, without partitions).
    pub tables: usize,
    /// Of those, tables whose foreign key points straight at a fixture table.
    pub direct: usize,
    /// Three-level chains (table → child → grandchild).
    pub chains: usize,
    /// Foreign-key constraints the generator declares.
    pub edges: usize,
}

pub struct Schema {
    deps: Vec<Dep>,
}

impl Schema {
    pub fn generate() -> Schema {
        let mut deps = Vec::new();
        for t in Target::ALL {
            for n in 0..PER_TARGET {
                let action = if (n + t as usize).is_multiple_of(2) {
                    "NO ACTION"
                } else {
                    "CASCADE"
                };
                let mut d = Dep::plain(
                    format!("dep_{}_{n:02}", t.table()),
                    Parent::Fixture(t),
                    action,
                );
                d.fk = format!("{}_ref", t.table());
                d.nullable = n % 3 == 2;
                d.deferred = n == 5;
                d.foreign = [1, 0, 2, 1][n % 4];
                d.debris = if n % 4 == 3 { 0 } else { n % 3 + 1 };
                if n == 13 || n == 37 {
                    (d.foreign, d.debris) = (0, 0);
                }
                if n == 0 {
                    d.name = name63(&format!("MixedCase_Dependent_Of_{}_", t.camel()));
                    d.id = "Id".into();
                    d.fk = name63(&format!("Points_At_{}_Row_", t.camel()));
                    d.tag = "Tag".into();
                }
                if n == 1 {
                    let (name, id, fk, tag) = match t {
                        Target::Users => ("user", "select", "order", "limit"),
                        Target::Stories => ("order", "user", "select", "from"),
                        Target::Chapters => (
                            "odd \"quoted\" name",
                            "row id",
                            "the \"parent\" id",
                            "tag \"x\"",
                        ),
                        Target::Scenes => ("select", "table", "order", "group"),
                        Target::Posts => ("Odd Name With Spaces", "Row Id", "Post Ref", "Tag"),
                        Target::Replies => ("where \"x\" is", "from", "to", "as"),
                    };
                    (d.name, d.id, d.fk, d.tag) = (name.into(), id.into(), fk.into(), tag.into());
                    if t == Target::Stories {
                        d.late = 1;
                    }
                }
                if CHAIN_ROOTS.contains(&n) {
                    (d.foreign, d.debris) = (d.foreign.max(1), 2);
                }
                deps.push(d);
            }
        }
        let direct = deps.len();

        // Chains hang below the roots, each level pointing at the one above.
        for root in 0..direct {
            let n = root % PER_TARGET;
            if !CHAIN_ROOTS.contains(&n) {
                continue;
            }
            let t = Target::ALL[root / PER_TARGET];
            let reserved = n == 1;
            let (first, second) = if n % 2 == 1 {
                ("CASCADE", "NO ACTION")
            } else {
                ("NO ACTION", "CASCADE")
            };
            let child_name = if reserved {
                format!("{} child", deps[root].name)
            } else {
                format!("chain_{}_{n}_child", t.table())
            };
            let mut child = Dep::plain(child_name, Parent::Dep(root), first);
            child.late = deps[root].late;
            let child_index = deps.len();
            deps.push(child);
            let grand_name = if reserved {
                name63(&format!("Grandchild_Of_Reserved_{}_", t.camel()))
            } else {
                format!("chain_{}_{n}_grandchild", t.table())
            };
            let mut grand = Dep::plain(grand_name, Parent::Dep(child_index), second);
            grand.debris = 3;
            grand.deferred = n == 2;
            grand.late = deps[child_index].late;
            deps.push(grand);
        }

        let mut wide = Dep::plain(
            "scene_wide_annotations",
            Parent::Fixture(Target::Scenes),
            "CASCADE",
        );
        wide.fk = "scene_id".into();
        wide.debris = 3;
        wide.extra = (1..=WIDE_EXTRA)
            .map(|i| {
                let ty = TYPES[i % TYPES.len()];
                format!("c{i:03} {ty} DEFAULT {}", default_for(ty, i))
            })
            .collect();
        deps.push(wide);

        let mut cycle = Dep::plain("scene_loops", Parent::Fixture(Target::Scenes), "CASCADE");
        cycle.kind = Kind::Cycle;
        cycle.fk = "scene_id".into();
        (cycle.foreign, cycle.debris, cycle.late) = (2, 2, 2);
        deps.push(cycle);

        let mut metrics = Dep::plain(
            "scene_metrics",
            Parent::Fixture(Target::Scenes),
            "NO ACTION",
        );
        metrics.kind = Kind::Partitioned;
        metrics.fk = "scene_id".into();
        (metrics.foreign, metrics.debris, metrics.late) = (2, 3, 1);
        deps.push(metrics);

        let mut receipts = Dep::plain("post_like_receipts", Parent::PostLikes, "NO ACTION");
        receipts.kind = Kind::Composite;
        (receipts.foreign, receipts.debris, receipts.late) = (1, 3, 1);
        deps.push(receipts);

        let mut events = Dep::plain(
            "story_events",
            Parent::Fixture(Target::Stories),
            "NO ACTION",
        );
        events.schema = "audit";
        events.fk = "story_id".into();
        (events.foreign, events.debris, events.late) = (2, 3, 2);
        let events_index = deps.len();
        deps.push(events);
        let mut notes = Dep::plain("story_event_notes", Parent::Dep(events_index), "CASCADE");
        notes.schema = "audit";
        notes.fk = "event_id".into();
        notes.late = 1;
        deps.push(notes);

        for (k, d) in deps.iter().enumerate() {
            if let Parent::Dep(p) = d.parent {
                for which in [Which::Foreign, Which::Debris, Which::Late] {
                    assert!(
                        d.count(which) == 0 || deps[p].count(which) > 0,
                        "table {k} has {which:?} rows but its parent has none"
                    );
                }
            }
            if d.kind == Kind::Cycle {
                assert!(
                    [d.foreign, d.debris, d.late]
                        .iter()
                        .all(|n| n.is_multiple_of(2))
                );
            }
        }
        Schema { deps }
    }

    pub fn stats(&self) -> Stats {
        let direct = self
            .deps
            .iter()
            .filter(|d| matches!(d.parent, Parent::Fixture(_) | Parent::PostLikes))
            .count();
        let chains = self
            .deps
            .iter()
            .filter(|d| {
                matches!(d.parent, Parent::Dep(p) if matches!(self.deps[p].parent, Parent::Dep(_)))
            })
            .count();
        let edges = self
            .deps
            .iter()
            .map(|d| if d.kind == Kind::Cycle { 2 } else { 1 })
            .sum();
        Stats {
            tables: self.deps.len(),
            direct,
            chains,
            edges,
        }
    }

    /// Everything before the foreign rows: the second schema, the widened
    /// fixture tables (required columns still carrying a temporary default,
    /// because foreign.sql does not set them), the audit trigger and every
    /// dependent table.
    pub fn ddl(&self) -> String {
        let mut s = String::new();
        s.push_str("CREATE SCHEMA audit;\n");
        s.push_str("CREATE DOMAIN public.slug_text AS text CHECK (VALUE <> '');\n");

        let mut stories: Vec<String> = (1..=STORIES_EXTRA)
            .map(|i| format!("ADD COLUMN x_s{i:03} {}", TYPES[i % TYPES.len()]))
            .collect();
        stories.extend([
            format!(
                "ADD COLUMN {} text",
                ident(&name63("Stories_Extra_Column_MixedCase_"))
            ),
            "ADD COLUMN serial_no bigint GENERATED ALWAYS AS IDENTITY".into(),
            "ADD COLUMN slug public.slug_text NOT NULL DEFAULT 'pending'".into(),
            "ADD COLUMN moods public.tone[] NOT NULL DEFAULT '{}'".into(),
            "ADD CONSTRAINT stories_title_not_blank CHECK (btrim(title) <> '')".into(),
        ]);
        writeln!(
            s,
            "ALTER TABLE public.stories\n  {};",
            stories.join(",\n  ")
        )
        .unwrap();

        let mut scenes: Vec<String> = (1..=SCENES_EXTRA)
            .map(|i| format!("ADD COLUMN x_c{i:03} {}", TYPES[i % TYPES.len()]))
            .collect();
        scenes.extend([
            "ADD COLUMN \"select\" text".into(),
            format!("ADD COLUMN {} text", ident("odd \"col\" name")),
            "ADD COLUMN title_len integer GENERATED ALWAYS AS (char_length(title)) STORED".into(),
            "ADD COLUMN slug public.slug_text NOT NULL DEFAULT 'pending'".into(),
            "ADD COLUMN moods public.tone[] NOT NULL DEFAULT '{}'".into(),
            "ADD CONSTRAINT scenes_order_index_not_negative CHECK (order_index >= 0)".into(),
        ]);
        writeln!(s, "ALTER TABLE public.scenes\n  {};", scenes.join(",\n  ")).unwrap();

        // The audit table deliberately has no foreign key: the tool must
        // neither see it as a dependent nor write to the fixture needlessly.
        s.push_str(
            "CREATE TABLE public.row_audit (
  n bigserial PRIMARY KEY,
  tbl text NOT NULL,
  op text NOT NULL,
  row_id text,
  at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION public.row_audit_log() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO public.row_audit (tbl, op, row_id)
  VALUES (TG_TABLE_NAME, TG_OP, CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
  RETURN NULL;
END
$fn$;
CREATE TRIGGER row_audit AFTER INSERT OR UPDATE OR DELETE ON public.stories
  FOR EACH ROW EXECUTE FUNCTION public.row_audit_log();
CREATE TRIGGER row_audit AFTER INSERT OR UPDATE OR DELETE ON public.scenes
  FOR EACH ROW EXECUTE FUNCTION public.row_audit_log();
",
        );

        for d in &self.deps {
            s.push_str(&self.create(d));
        }
        s
    }

    fn create(&self, d: &Dep) -> String {
        let q = d.sql_name();
        let (parent, parent_key) = match d.parent {
            Parent::Fixture(t) => (format!("public.{}", ident(t.table())), ident("id")),
            Parent::Dep(p) => (self.deps[p].sql_name(), ident(&self.deps[p].id)),
            Parent::PostLikes => ("public.post_likes".into(), "post_id, user_id".into()),
        };
        let deferred = if d.deferred {
            " DEFERRABLE INITIALLY DEFERRED"
        } else {
            ""
        };
        let reference = format!(
            "REFERENCES {parent} ({parent_key}) ON DELETE {}{deferred}",
            d.on_delete
        );
        let not_null = if d.nullable { "" } else { " NOT NULL" };
        let (id, fk, tag) = (ident(&d.id), ident(&d.fk), ident(&d.tag));
        match d.kind {
            Kind::Plain | Kind::Cycle => {
                let mut cols = vec![
                    format!("{id} text PRIMARY KEY"),
                    format!("{fk} text{not_null} {reference}"),
                    format!("{tag} text NOT NULL"),
                ];
                if d.kind == Kind::Cycle {
                    cols.push(format!(
                        "next_id text REFERENCES {q} ({id}) ON DELETE NO ACTION"
                    ));
                }
                cols.extend(d.extra.iter().cloned());
                format!("CREATE TABLE {q} (\n  {}\n);\n", cols.join(",\n  "))
            }
            Kind::Partitioned => {
                let part = |suffix: &str| {
                    format!(
                        "{}.{}",
                        ident(d.schema),
                        ident(&format!("{}_{suffix}", d.name))
                    )
                };
                format!(
                    "CREATE TABLE {q} ({id} text NOT NULL, {fk} text NOT NULL {reference}, kind text NOT NULL, {tag} text NOT NULL) PARTITION BY LIST (kind);
CREATE TABLE {} PARTITION OF {q} FOR VALUES IN ('view');
CREATE TABLE {} PARTITION OF {q} FOR VALUES IN ('like');
CREATE TABLE {} PARTITION OF {q} DEFAULT;
",
                    part("views"),
                    part("likes"),
                    part("rest")
                )
            }
            Kind::Composite => format!(
                "CREATE TABLE {q} ({id} text PRIMARY KEY, post_id text NOT NULL, user_id text NOT NULL, {tag} text NOT NULL, FOREIGN KEY (post_id, user_id) {reference});\n"
            ),
        }
    }

    /// After foreign.sql: the required columns lose their temporary
    /// defaults (the tool must infer them), the foreign rows get values in
    /// the widened columns, and the dependents get their foreign rows.
    pub fn foreign(&self) -> Rows {
        let mut rows = self.rows(Which::Foreign, &FixtureIds::default());
        let prologue = "ALTER TABLE public.stories ALTER COLUMN slug DROP DEFAULT, ALTER COLUMN moods DROP DEFAULT;
ALTER TABLE public.scenes ALTER COLUMN slug DROP DEFAULT, ALTER COLUMN moods DROP DEFAULT;
UPDATE public.stories SET x_s012 = 'kept', x_s001 = 7, x_s005 = '{\"k\": 1}', slug = 'alice-story', moods = '{dark,hopeful}' WHERE id = 'frgnStory000000000001';
UPDATE public.scenes SET x_c012 = 'kept', x_c003 = true, \"select\" = 'chosen', \"odd \"\"col\"\" name\" = 'odd', slug = 'opening', moods = '{bittersweet}' WHERE id = 'frgnScen0000000000001';
";
        rows.sql = format!("{prologue}{}", rows.sql);
        rows
    }

    pub fn debris(&self, ids: &FixtureIds) -> Rows {
        self.rows(Which::Debris, ids)
    }

    pub fn late(&self, ids: &FixtureIds) -> Rows {
        self.rows(Which::Late, ids)
    }

    /// A query answering `table:rows` per generated table for rows tagged `which`.
    pub fn count_query(&self, which: Which) -> String {
        self.deps
            .iter()
            .map(|d| {
                format!(
                    "SELECT {} || ':' || count(*) FROM {} WHERE {} = {}",
                    literal(&d.reported()),
                    d.sql_name(),
                    ident(&d.tag),
                    literal(which.tag())
                )
            })
            .collect::<Vec<_>>()
            .join("\nUNION ALL ")
            + ";\n"
    }

    fn rows(&self, which: Which, ids: &FixtureIds) -> Rows {
        let mut out = Rows::default();
        for (k, d) in self.deps.iter().enumerate() {
            let n = d.count(which);
            if n == 0 {
                continue;
            }
            out.counts.insert(d.reported(), n as u64);
            let parent = |j: usize| -> Vec<String> {
                match (d.parent, which) {
                    (Parent::Fixture(t), Which::Foreign) => vec![literal(t.foreign_id())],
                    (Parent::Fixture(t), _) => vec![literal(ids.pick(t, k * 7 + j))],
                    (Parent::Dep(p), _) => {
                        let above = self.deps[p].count(which);
                        vec![literal(&Dep::row_id(p, which, j % above))]
                    }
                    (Parent::PostLikes, Which::Foreign) => vec![
                        literal("frgnPost0000000000001"),
                        literal("frgnUser0000000000001"),
                    ],
                    (Parent::PostLikes, _) => {
                        let (post, user) = &ids.post_likes[(j + k) % ids.post_likes.len()];
                        vec![literal(post), literal(user)]
                    }
                }
            };
            let q = d.sql_name();
            let (id, fk, tag) = (ident(&d.id), ident(&d.fk), ident(&d.tag));
            let tag_value = literal(which.tag());
            let values: Vec<String> = (0..n)
                .map(|j| {
                    let mut v = vec![literal(&Dep::row_id(k, which, j))];
                    v.extend(parent(j));
                    if d.kind == Kind::Partitioned {
                        v.push(literal(partition_of(which, j)));
                    }
                    v.push(tag_value.clone());
                    format!("({})", v.join(", "))
                })
                .collect();
            let columns = match d.kind {
                Kind::Plain | Kind::Cycle => format!("{id}, {fk}, {tag}"),
                Kind::Partitioned => format!("{id}, {fk}, kind, {tag}"),
                Kind::Composite => format!("{id}, post_id, user_id, {tag}"),
            };
            // One row per statement: a partition's first row must land at
            // ctid (0,1), the same as another partition's first row.
            for v in &values {
                writeln!(out.sql, "INSERT INTO {q} ({columns}) VALUES {v};").unwrap();
            }
            if d.kind == Kind::Cycle {
                for j in (0..n).step_by(2) {
                    let (a, b) = (Dep::row_id(k, which, j), Dep::row_id(k, which, j + 1));
                    writeln!(
                        out.sql,
                        "UPDATE {q} SET next_id = {} WHERE {id} = {};\nUPDATE {q} SET next_id = {} WHERE {id} = {};",
                        literal(&b),
                        literal(&a),
                        literal(&a),
                        literal(&b)
                    )
                    .unwrap();
                }
            }
        }
        out
    }
}

/// The partition (by list value) of the partitioned table's j-th row: the
/// first foreign row opens `views` and the first debris row opens `likes`,
/// so both sit at ctid (0,1).
fn partition_of(which: Which, j: usize) -> &'static str {
    let kinds: &[&str] = match which {
        Which::Foreign => &["view", "share"],
        Which::Debris => &["like", "like", "view"],
        Which::Late => &["like"],
    };
    kinds[j % kinds.len()]
}

fn default_for(ty: &str, i: usize) -> String {
    match ty {
        "text" | "varchar(40)" => literal(&format!("w{i}")),
        "integer" | "bigint" | "double precision" => i.to_string(),
        "boolean" => i.is_multiple_of(2).to_string(),
        "numeric(12,2)" => format!("{i}.25"),
        "jsonb" => format!("'{{\"i\": {i}}}'"),
        "timestamp" => "'2020-02-29 12:00:00'".into(),
        "date" => "'2020-02-29'".into(),
        "uuid" => format!("'00000000-0000-4000-8000-{i:012}'"),
        "text[]" => format!("'{{a,\"b c\",{i}}}'"),
        other => panic!("no default for {other}"),
    }
}
