//! What a run tells its user: a short human summary on stdout, or the same
//! facts as one JSON object with `--json`. Logs go to stderr, never here.

use serde::Serialize;
use serde_json::Value;

pub mod auth;
pub mod doctor;
pub mod junit;
pub mod summary;

use crate::pure::plan::Plan;
use crate::pure::wording::count;

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub command: &'static str,
    pub dry_run: bool,
    pub tables: Vec<TableLine>,
    /// `None` for commands that do not touch Redis (migrate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<Finding>>,
    /// Load-test data (seed --scale).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<ScaleLine>,
    /// Storage-state files written (auth, seed --auth-out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<auth::AuthLine>,
    /// What `doctor` found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doctor: Option<doctor::Diagnosis>,
    pub notes: Vec<String>,
    /// A document printed as it is instead of the report (completions, man).
    #[serde(skip)]
    pub document: Option<String>,
    pub statements: u64,
    pub round_trips: u64,
    pub redis_commands: u64,
    pub elapsed_ms: u128,
}

#[derive(Debug, Default, Serialize)]
pub struct ScaleLine {
    pub stories: u64,
    pub rows: std::collections::BTreeMap<String, u64>,
    /// Bytes of COPY data generated.
    pub bytes: u64,
    /// Whether the data was (or, on a dry run, would be) rewritten.
    pub written: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct TableLine {
    pub table: String,
    pub insert: usize,
    pub update: usize,
    pub delete: usize,
    pub unchanged: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct CacheLine {
    /// Redis was not touched (--no-cache).
    pub skipped: bool,
    /// Keys removed (or, on a dry run, that would be).
    pub removed: usize,
    /// The keys, on dry runs and with --verbose.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// Fixture keys present, with TTLs (verify).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub present: Vec<crate::io::cache::CachedKey>,
}

/// What kind of difference a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingKind {
    /// A fixture row the database lacks.
    Missing,
    /// An owned column whose stored value differs.
    Drift,
    /// A row hanging off the fixture without being part of it.
    Extra,
    /// A denormalised counter that disagrees with the rows it counts.
    Counter,
    /// A cached object whose title or time disagrees with its row.
    Stale,
    /// Load-test data whose counts or checksum differ.
    Scale,
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let word = match self {
            FindingKind::Missing => "missing",
            FindingKind::Drift => "drift",
            FindingKind::Extra => "extra",
            FindingKind::Counter => "counter",
            FindingKind::Stale => "stale",
            FindingKind::Scale => "scale",
        };
        // Padding applies to the word, as it did to the old string kinds.
        f.pad(word)
    }
}

/// One difference `verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub table: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<Value>,
}

impl Report {
    pub fn tables_from(&mut self, plan: &Plan) {
        self.tables = plan
            .tables
            .iter()
            .map(|t| TableLine {
                table: t.table.clone(),
                insert: t.insert.len(),
                update: t.update.len(),
                delete: t.delete,
                unchanged: t.unchanged,
            })
            .collect();
    }

    /// Rows changed: the plan's, and the load-test rows when they were
    /// (or, on a dry run, would be) rewritten.
    pub fn changes(&self) -> usize {
        let scale = self
            .scale
            .as_ref()
            .filter(|s| s.written)
            .map_or(0, |s| s.rows.values().sum::<u64>() as usize);
        self.tables
            .iter()
            .map(|t| t.insert + t.update + t.delete)
            .sum::<usize>()
            + scale
    }

    pub fn print(&self, json: bool, quiet: bool) {
        if let Some(document) = &self.document {
            use std::io::Write as _;
            // A reader that stops early (`| head`) is no failure.
            let _ = std::io::stdout().lock().write_all(document.as_bytes());
            return;
        }
        let text = if json {
            serde_json::to_string_pretty(&self.to_json()).expect("reports serialize")
        } else if !quiet {
            self.human()
        } else {
            return;
        };
        // Secrets reach a report only with --show-secrets, so it prints as is.
        println!("{text}");
    }

    fn human(&self) -> String {
        let mut out = Vec::new();
        let verb = if self.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        };
        out.push(format!("{}{verb}", self.command));
        let heads = self.heads();
        if !self.tables.is_empty() {
            out.push(format!(
                "  {:<22} {:>7} {:>7} {:>7} {:>9}",
                "table", heads[0], heads[1], heads[2], heads[3]
            ));
            for t in &self.tables {
                out.push(format!(
                    "  {:<22} {:>7} {:>7} {:>7} {:>9}",
                    t.table, t.insert, t.update, t.delete, t.unchanged
                ));
            }
        }
        if let Some(cache) = &self.cache {
            out.extend(cache.human(self.dry_run, self.findings.is_some()));
        }
        if let Some(sc) = &self.scale {
            let rows: u64 = sc.rows.values().sum();
            let verb = match (sc.written, self.dry_run) {
                (false, _) => "already exact",
                (true, true) => "would be rewritten with COPY",
                (true, false) => "rewritten with COPY",
            };
            out.push(format!(
                "scale: {} load-test stories, {rows} rows, {:.1} MB: {verb}",
                sc.stories,
                sc.bytes as f64 / 1e6
            ));
        }
        if let Some(a) = &self.auth {
            for f in &a.files {
                out.push(format!(
                    "auth: {} signed in as {} in {}",
                    f.account, f.user_id, f.file
                ));
            }
        }
        if let Some(d) = &self.doctor {
            out.extend(d.human());
        }
        for n in &self.notes {
            out.push(format!("note: {n}"));
        }
        if let Some(findings) = &self.findings {
            for f in findings {
                out.push(format!("  {}", finding_line(f)));
            }
        }
        // Only commands that change things have changes to count.
        let done = if self.findings.is_some() || self.tables.is_empty() {
            String::new()
        } else {
            format!("{}, ", count(self.changes(), "change"))
        };
        // A command that reached no server has no cost to show.
        if self.round_trips > 0 || self.redis_commands > 0 {
            out.push(format!(
                "{done}{} ms ({}, {}, {})",
                self.elapsed_ms,
                count(self.statements as usize, "statement"),
                count(self.round_trips as usize, "round trip"),
                count(self.redis_commands as usize, "Redis command")
            ));
        }
        if let Some(findings) = &self.findings {
            out.push(if findings.is_empty() {
                "fixture OK".to_string()
            } else {
                count(findings.len(), "finding")
            });
        }
        out.join("\n")
    }

    /// The words over the table's counts: verify reads the same plan as
    /// differences, not as work to do.
    pub fn heads(&self) -> [&'static str; 4] {
        if self.findings.is_some() {
            VERIFY_WORDS.map(|(_, w)| w)
        } else {
            VERIFY_WORDS.map(|(p, _)| p)
        }
    }

    /// The report as the JSON object `--json` prints. `verify`'s table counts
    /// carry the words of its human report, and it says `ok` at the top.
    pub fn to_json(&self) -> Value {
        let mut value = serde_json::to_value(self).expect("reports serialize");
        if let (Some(findings), Value::Object(top)) = (&self.findings, &mut value) {
            top.insert("ok".into(), Value::Bool(findings.is_empty()));
            for line in top
                .get_mut("tables")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Value::Object(line) = line {
                    for (from, to) in VERIFY_WORDS {
                        if let Some(v) = line.remove(from) {
                            line.insert(to.into(), v);
                        }
                    }
                }
            }
        }
        value
    }
}

/// The plan's words and the ones `verify` reports the same counts with.
const VERIFY_WORDS: [(&str, &str); 4] = [
    ("insert", "missing"),
    ("update", "drifted"),
    ("delete", "extra"),
    ("unchanged", "exact"),
];

impl CacheLine {
    /// The one line that says what happened to the cache (or was found in it).
    pub fn headline(&self, dry_run: bool, verify: bool) -> String {
        if self.skipped {
            "cache: skipped (--no-cache)".into()
        } else if verify {
            format!(
                "cache: {} present",
                count(self.present.len(), "fixture key")
            )
        } else {
            let verb = if dry_run {
                "would be removed"
            } else {
                "removed"
            };
            format!("cache: {} {verb}", count(self.removed, "fixture key"))
        }
    }

    fn human(&self, dry_run: bool, verify: bool) -> Vec<String> {
        let mut out = vec![self.headline(dry_run, verify)];
        out.extend(self.keys.iter().map(|k| format!("  {k}")));
        out.extend(
            self.present
                .iter()
                .map(|k| format!("  {} (ttl {}s)", k.key, k.ttl)),
        );
        out
    }
}

fn finding_line(f: &Finding) -> String {
    format!("{:<8} {}", f.kind, f.describe())
}

impl Finding {
    /// Where the finding is and what differs, in one line (values shortened).
    pub fn describe(&self) -> String {
        let mut line = format!("{}/{}", self.table, self.id);
        if let Some(c) = &self.column {
            line.push_str(&format!(" .{c}"));
        }
        if let (Some(e), Some(a)) = (&self.expected, &self.actual) {
            line.push_str(&format!(": expected {}, found {}", shorten(e), shorten(a)));
        }
        line
    }
}

/// A value shortened to fit a terminal line.
pub fn shorten(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() <= 40 {
        return text;
    }
    let head: String = text.chars().take(37).collect();
    format!("{head}...")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(command: &'static str) -> Report {
        Report {
            command,
            tables: vec![TableLine {
                table: "scenes".into(),
                insert: 1,
                update: 0,
                delete: 0,
                unchanged: 44,
            }],
            statements: 1,
            round_trips: 1,
            elapsed_ms: 12,
            ..Report::default()
        }
    }

    fn drift() -> Finding {
        Finding {
            kind: FindingKind::Drift,
            table: "scenes".into(),
            id: "abc".into(),
            column: Some("title".into()),
            expected: Some(Value::from("Scene 1: Cache Test")),
            actual: Some(Value::from("PATCHED")),
        }
    }

    #[test]
    fn a_seed_report_counts_its_work_in_agreement() {
        let text = report("seed").human();
        assert!(text.starts_with("seed\n"), "{text}");
        assert!(text.contains("insert  update  delete"), "{text}");
        assert!(
            text.ends_with("1 change, 12 ms (1 statement, 1 round trip, 0 Redis commands)"),
            "{text}"
        );
    }

    #[test]
    fn a_dry_run_says_so() {
        let r = Report {
            dry_run: true,
            ..report("teardown")
        };
        assert!(r.human().starts_with("teardown (dry run: nothing written)"));
    }

    #[test]
    fn a_verify_report_uses_its_own_words_and_a_verdict() {
        let mut r = report("verify");
        r.findings = Some(vec![drift()]);
        let text = r.human();
        assert!(text.contains("missing drifted   extra"), "{text}");
        assert!(
            text.contains(
                "drift    scenes/abc .title: expected \"Scene 1: Cache Test\", found \"PATCHED\""
            ),
            "{text}"
        );
        assert!(text.ends_with("\n1 finding"), "{text}");
        let json = r.to_json();
        assert_eq!(json["ok"], false);
        assert_eq!(json["tables"][0]["missing"], 1);
        assert_eq!(json["tables"][0]["exact"], 44);
        assert!(json["tables"][0].get("insert").is_none());
        assert_eq!(json["findings"][0]["kind"], "drift");
        r.findings = Some(vec![]);
        assert!(r.human().ends_with("fixture OK"));
        assert_eq!(r.to_json()["ok"], true);
    }

    #[test]
    fn other_reports_carry_no_verdict() {
        assert!(report("seed").to_json().get("ok").is_none());
        assert_eq!(report("seed").to_json()["tables"][0]["insert"], 1);
    }

    #[test]
    fn a_command_that_reached_no_server_shows_no_cost() {
        let r = Report {
            command: "init",
            notes: vec!["wrote it".into()],
            ..Report::default()
        };
        assert_eq!(r.human(), "init\nnote: wrote it");
    }

    #[test]
    fn scale_rewrites_count_as_changes() {
        let mut r = report("seed");
        r.scale = Some(ScaleLine {
            stories: 2,
            rows: [("scenes".to_string(), 30)].into(),
            bytes: 0,
            written: true,
        });
        assert_eq!(r.changes(), 31);
        r.scale.as_mut().unwrap().written = false;
        assert_eq!(r.changes(), 1);
    }

    #[test]
    fn the_cache_line_counts_keys_in_agreement() {
        let line = CacheLine {
            removed: 1,
            ..CacheLine::default()
        };
        assert_eq!(line.human(false, false), ["cache: 1 fixture key removed"]);
        let listed = CacheLine {
            removed: 2,
            keys: vec!["story:a".into(), "story:b".into()],
            ..CacheLine::default()
        };
        assert_eq!(
            listed.human(true, false),
            [
                "cache: 2 fixture keys would be removed",
                "  story:a",
                "  story:b"
            ]
        );
        let skipped = CacheLine {
            skipped: true,
            ..CacheLine::default()
        };
        assert_eq!(skipped.human(false, false), ["cache: skipped (--no-cache)"]);
    }

    #[test]
    fn finding_kinds_read_as_words() {
        assert_eq!(format!("{:<8}|", FindingKind::Extra), "extra   |");
        assert_eq!(serde_json::to_value(FindingKind::Stale).unwrap(), "stale");
    }
}
