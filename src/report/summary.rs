//! The GitHub Actions job summary (`$GITHUB_STEP_SUMMARY`): a short Markdown
//! report of a seed, verify or teardown (the per-table counts, the cache, the
//! first findings). Pure: `ci` appends the text to the file.

use super::{Finding, Report, shorten};
use crate::error::Failure;
use crate::pure::wording::count;

/// Findings listed in full; the rest are counted (a summary is for a glance,
/// and GitHub caps each step's summary at 1 MiB).
pub const FINDINGS_SHOWN: usize = 20;

/// The report of a finished command as Markdown.
pub fn render(report: &Report) -> String {
    let verify = report.findings.is_some();
    let verdict = match &report.findings {
        Some(f) if f.is_empty() => "fixture OK".to_string(),
        Some(f) => count(f.len(), "finding"),
        None => count(report.changes(), "change"),
    };
    let dry = if report.dry_run {
        " (dry run: nothing written)"
    } else {
        ""
    };
    let mut out = vec![format!(
        "### fictures-seed {}{dry}: {verdict}",
        report.command
    )];
    if !report.tables.is_empty() {
        let heads = report.heads();
        out.push(String::new());
        out.push(format!("| table | {} |", heads.join(" | ")));
        out.push("| --- | ---: | ---: | ---: | ---: |".into());
        for t in &report.tables {
            out.push(format!(
                "| {} | {} | {} | {} | {} |",
                md(&t.table),
                t.insert,
                t.update,
                t.delete,
                t.unchanged
            ));
        }
    }
    out.push(String::new());
    if let Some(cache) = &report.cache {
        out.push(format!("{}  ", md(&cache.headline(report.dry_run, verify))));
    }
    for note in &report.notes {
        out.push(format!("note: {}  ", md(note)));
    }
    if let Some(findings) = report.findings.as_deref().filter(|f| !f.is_empty()) {
        out.extend(findings_table(findings));
    }
    out.push(String::new());
    out.join("\n")
}

/// A command that failed: what `error:` said on stderr, and its exit code.
pub fn render_failure(command: &'static str, failure: &Failure) -> String {
    format!(
        "### fictures-seed {command}: failed (exit {}, {})\n\n{}\n\n",
        failure.code.code(),
        failure.code.name(),
        md(&failure.message)
    )
}

fn findings_table(findings: &[Finding]) -> Vec<String> {
    let mut out = vec![
        String::new(),
        "| kind | table | id | column | expected | found |".into(),
        "| --- | --- | --- | --- | --- | --- |".into(),
    ];
    let value = |v: &Option<serde_json::Value>| v.as_ref().map(shorten).unwrap_or_default();
    for f in findings.iter().take(FINDINGS_SHOWN) {
        out.push(format!(
            "| {} | {} | {} | {} | {} | {} |",
            f.kind,
            md(&f.table),
            md(&f.id),
            md(f.column.as_deref().unwrap_or_default()),
            md(&value(&f.expected)),
            md(&value(&f.actual))
        ));
    }
    if findings.len() > FINDINGS_SHOWN {
        let more = findings.len() - FINDINGS_SHOWN;
        out.push(String::new());
        out.push(format!(
            "…and {}; `fictures-seed verify` lists them all.",
            count(more, "more finding")
        ));
    }
    out
}

/// Text as Markdown shows it literally inside a table cell: punctuation that
/// Markdown or HTML would act on is backslash-escaped, line breaks become
/// spaces, and other control characters are spelled out.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '|' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;
    use crate::report::{CacheLine, FindingKind, TableLine};
    use serde_json::Value;

    fn report(command: &'static str, findings: Option<Vec<Finding>>) -> Report {
        Report {
            command,
            tables: vec![TableLine {
                table: "scenes".into(),
                insert: 2,
                update: 1,
                delete: 0,
                unchanged: 42,
            }],
            cache: Some(CacheLine {
                removed: 3,
                ..CacheLine::default()
            }),
            findings,
            ..Report::default()
        }
    }

    fn drift(n: usize, found: &str) -> Finding {
        Finding {
            kind: FindingKind::Drift,
            table: "scenes".into(),
            id: format!("id{n}"),
            column: Some("title".into()),
            expected: Some(Value::from("Scene 1")),
            actual: Some(Value::from(found)),
        }
    }

    #[test]
    fn a_seed_summary_has_its_counts_and_the_cache() {
        let text = render(&report("seed", None));
        assert_eq!(
            text,
            "### fictures-seed seed: 3 changes\n\n\
             | table | insert | update | delete | unchanged |\n\
             | --- | ---: | ---: | ---: | ---: |\n\
             | scenes | 2 | 1 | 0 | 42 |\n\n\
             cache: 3 fixture keys removed  \n"
        );
    }

    #[test]
    fn an_exact_verify_says_so_without_a_findings_table() {
        let text = render(&report("verify", Some(vec![])));
        assert!(
            text.starts_with("### fictures-seed verify: fixture OK\n"),
            "{text}"
        );
        assert!(text.contains("| table | missing | drifted | extra | exact |"));
        assert!(text.contains("cache: 0 fixture keys present"), "{text}");
        assert!(!text.contains("| kind |"), "{text}");
    }

    #[test]
    fn findings_are_capped_and_the_rest_counted() {
        let findings = (0..FINDINGS_SHOWN + 3).map(|n| drift(n, "x")).collect();
        let text = render(&report("verify", Some(findings)));
        assert!(text.starts_with("### fictures-seed verify: 23 findings\n"));
        assert!(text.contains("| drift | scenes | id19 | title | \"Scene 1\" | \"x\" |"));
        assert!(!text.contains("id20"), "{text}");
        assert!(
            text.contains("…and 3 more findings; `fictures-seed verify` lists them all."),
            "{text}"
        );
        let one_more = (0..FINDINGS_SHOWN + 1).map(|n| drift(n, "x")).collect();
        assert!(render(&report("verify", Some(one_more))).contains("…and 1 more finding;"));
    }

    #[test]
    fn found_values_cannot_break_the_table_or_inject_markup() {
        let text = render(&report(
            "verify",
            Some(vec![drift(0, "a|b <img src=x> *c* & `d`\n\u{7}")]),
        ));
        let row = text.lines().find(|l| l.starts_with("| drift")).unwrap();
        assert_eq!(
            row,
            "| drift | scenes | id0 | title | \"Scene 1\" | \"a\\|b \\<img src=x\\> \\*c\\* \\& \\`d\\`\\\\n\\\\u0007\" |"
        );
        assert_eq!(md("x\ny\u{1}"), "x y\\u{1}");
    }

    #[test]
    fn a_dry_run_and_a_failure_say_what_happened() {
        let mut r = report("teardown", None);
        r.dry_run = true;
        assert!(
            render(&r)
                .starts_with("### fictures-seed teardown (dry run: nothing written): 3 changes")
        );
        let failure = Failure::new(ExitCode::Refused, "refusing db.prod_1; pass --allow-host");
        assert_eq!(
            render_failure("seed", &failure),
            "### fictures-seed seed: failed (exit 3, refused)\n\nrefusing db.prod\\_1; pass --allow-host\n\n"
        );
    }
}
