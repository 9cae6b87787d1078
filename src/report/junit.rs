//! `verify --junit`: the result as JUnit XML, which CI test dashboards show:
//! one test case per table and one for the cache, a failure per finding (the
//! shape cargo-nextest writes). Pure: `ci` writes the text to the file.

use std::borrow::Cow;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::{Finding, Report};
use crate::error::Failure;

/// The test case that holds cached objects' findings (`stale`).
const CACHE_CASE: &str = "cache";

/// The report of a finished `verify` as a JUnit document.
pub fn render(report: &Report) -> String {
    let findings = report.findings.as_deref().unwrap_or_default();
    // Tables the plan covers first, in its order; then tables only findings
    // name (a dependent table with extra rows, a counter's table).
    let mut cases: Vec<&str> = report.tables.iter().map(|t| t.table.as_str()).collect();
    for f in findings {
        if f.table != CACHE_CASE && !cases.contains(&f.table.as_str()) {
            cases.push(&f.table);
        }
    }
    cases.push(CACHE_CASE);
    let cache_skipped = report.cache.as_ref().is_some_and(|c| c.skipped);
    let suite = Suite {
        command: report.command,
        tests: cases.len(),
        failures: findings.len(),
        errors: 0,
        elapsed_ms: report.elapsed_ms,
    };
    suite.write(|w| {
        for name in &cases {
            let case = w
                .create_element("testcase")
                .with_attribute(("name", xml_safe(name).as_ref()))
                .with_attribute(("classname", suite.classname().as_str()));
            let mine: Vec<&Finding> = findings.iter().filter(|f| f.table == *name).collect();
            if *name == CACHE_CASE && cache_skipped && mine.is_empty() {
                case.write_inner_content(|w| {
                    w.create_element("skipped")
                        .with_attribute(("message", "--no-cache: Redis was not read"))
                        .write_empty()
                        .map(drop)
                })?;
            } else if mine.is_empty() {
                case.write_empty()?;
            } else {
                case.write_inner_content(|w| {
                    for f in &mine {
                        let message = format!("{}: {}", f.kind, f.describe());
                        w.create_element("failure")
                            .with_attribute(("message", xml_safe(&message).as_ref()))
                            .with_attribute(("type", f.kind.to_string().as_str()))
                            .write_text_content(BytesText::new(&xml_safe(&body(f))))?;
                    }
                    Ok(())
                })?;
            }
        }
        Ok(())
    })
}

/// A run that ended in a failure before it had a result: one test case in
/// error, so the dashboard shows that the check did not run, not that it passed.
pub fn render_failure(command: &'static str, failure: &Failure) -> String {
    let suite = Suite {
        command,
        tests: 1,
        failures: 0,
        errors: 1,
        elapsed_ms: 0,
    };
    suite.write(|w| {
        w.create_element("testcase")
            .with_attribute(("name", command))
            .with_attribute(("classname", suite.classname().as_str()))
            .write_inner_content(|w| {
                w.create_element("error")
                    .with_attribute(("message", xml_safe(&failure.message).as_ref()))
                    .with_attribute(("type", failure.code.name()))
                    .write_text_content(BytesText::new(&xml_safe(&format!(
                        "exit code {} ({}): {}",
                        failure.code.code(),
                        failure.code.name(),
                        failure.message
                    ))))
                    .map(drop)
            })
            .map(drop)
    })
}

/// The counts of the one suite a run makes.
struct Suite {
    command: &'static str,
    tests: usize,
    failures: usize,
    errors: usize,
    elapsed_ms: u128,
}

type Xml = Writer<Vec<u8>>;

impl Suite {
    fn classname(&self) -> String {
        format!("fictures-seed.{}", self.command)
    }

    /// `<testsuites>` and its one `<testsuite>` around what `cases` writes.
    fn write(&self, cases: impl Fn(&mut Xml) -> std::io::Result<()>) -> String {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        let (tests, failures, errors) = (
            self.tests.to_string(),
            self.failures.to_string(),
            self.errors.to_string(),
        );
        let time = format!("{:.3}", self.elapsed_ms as f64 / 1000.0);
        let name = format!("fictures-seed {}", self.command);
        let counts = [
            ("tests", tests.as_str()),
            ("failures", failures.as_str()),
            ("errors", errors.as_str()),
            ("time", time.as_str()),
        ];
        let written = w
            .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
            .and_then(|()| {
                w.create_element("testsuites")
                    .with_attribute(("name", "fictures-seed"))
                    .with_attributes(counts)
                    .write_inner_content(|w| {
                        w.create_element("testsuite")
                            .with_attribute(("name", name.as_str()))
                            .with_attributes(counts)
                            .write_inner_content(&cases)
                            .map(drop)
                    })
                    .map(drop)
            });
        written.expect("writing XML into memory cannot fail");
        let mut text = String::from_utf8(w.into_inner()).expect("the XML is built from UTF-8");
        text.push('\n');
        text
    }
}

/// A finding's every field, values in full, one per line.
fn body(f: &Finding) -> String {
    let mut lines = vec![
        format!("kind: {}", f.kind),
        format!("table: {}", f.table),
        format!("id: {}", f.id),
    ];
    if let Some(c) = &f.column {
        lines.push(format!("column: {c}"));
    }
    if let Some(e) = &f.expected {
        lines.push(format!("expected: {e}"));
    }
    if let Some(a) = &f.actual {
        lines.push(format!("found: {a}"));
    }
    lines.join("\n")
}

/// Text XML 1.0 can carry: characters it forbids even as references (most
/// control characters, U+FFFE, U+FFFF) are spelled out as `\u{..}`. The
/// writer escapes markup characters itself.
fn xml_safe(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
            || c >= '\u{10000}'
    };
    if text.chars().all(allowed) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if allowed(c) {
                    c.to_string()
                } else {
                    c.escape_unicode().to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;
    use crate::report::{CacheLine, FindingKind, TableLine};
    use serde_json::Value;

    fn verify(findings: Vec<Finding>) -> Report {
        Report {
            command: "verify",
            tables: ["users", "scenes"]
                .map(|t| TableLine {
                    table: t.into(),
                    ..TableLine::default()
                })
                .into(),
            cache: Some(CacheLine::default()),
            findings: Some(findings),
            elapsed_ms: 1234,
            ..Report::default()
        }
    }

    fn finding(kind: FindingKind, table: &str, found: &str) -> Finding {
        Finding {
            kind,
            table: table.into(),
            id: "abc".into(),
            column: Some("title".into()),
            expected: Some(Value::from("Scene 1")),
            actual: Some(Value::from(found)),
        }
    }

    #[test]
    fn an_exact_fixture_is_a_passing_case_per_table_and_the_cache() {
        let xml = render(&verify(vec![]));
        assert!(
            xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"fictures-seed\" tests=\"3\" failures=\"0\" errors=\"0\" time=\"1.234\">"),
            "{xml}"
        );
        for case in ["users", "scenes", "cache"] {
            assert!(
                xml.contains(&format!(
                    "<testcase name=\"{case}\" classname=\"fictures-seed.verify\"/>"
                )),
                "{xml}"
            );
        }
        assert!(!xml.contains("<failure"), "{xml}");
        assert!(xml.ends_with("</testsuites>\n"), "{xml}");
    }

    #[test]
    fn each_finding_is_a_failure_of_its_tables_case() {
        let xml = render(&verify(vec![
            finding(FindingKind::Drift, "scenes", "PATCHED"),
            finding(FindingKind::Extra, "audit.story_events", "x"),
            finding(FindingKind::Stale, "cache", "old"),
        ]));
        assert!(xml.contains("tests=\"4\" failures=\"3\""), "{xml}");
        assert!(
            xml.contains(
                "<testcase name=\"scenes\" classname=\"fictures-seed.verify\">\n      <failure message=\"drift: scenes/abc .title: expected &quot;Scene 1&quot;, found &quot;PATCHED&quot;\" type=\"drift\">kind: drift\ntable: scenes\nid: abc\ncolumn: title\nexpected: &quot;Scene 1&quot;\nfound: &quot;PATCHED&quot;</failure>\n    </testcase>"
            ),
            "{xml}"
        );
        // A table only a finding names gets a case of its own, before the cache's.
        let audit = xml.find("name=\"audit.story_events\"").unwrap();
        let cache = xml.find("name=\"cache\"").unwrap();
        assert!(audit < cache, "{xml}");
        assert!(xml.contains("type=\"stale\""), "{xml}");
    }

    #[test]
    fn markup_and_control_characters_in_values_stay_well_formed() {
        let mut f = finding(FindingKind::Drift, "scenes", "<b>&\"'</b>");
        f.id = "a\u{1}b\u{FFFF}".into();
        let xml = render(&verify(vec![f]));
        assert!(
            xml.contains("found: &quot;&lt;b&gt;&amp;\\&quot;&apos;&lt;/b&gt;&quot;"),
            "{xml}"
        );
        assert!(xml.contains("id: a\\u{1}b\\u{ffff}"), "{xml}");
        assert!(!xml.contains('\u{1}') && !xml.contains('\u{FFFF}'), "{xml}");
        // Every element the writer opened is closed, and no raw markup leaked.
        let mut reader = quick_xml::Reader::from_str(&xml);
        loop {
            match reader.read_event() {
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not well-formed: {e}\n{xml}"),
            }
        }
    }

    #[test]
    fn a_skipped_cache_is_a_skipped_case() {
        let mut r = verify(vec![]);
        r.cache = Some(CacheLine {
            skipped: true,
            ..CacheLine::default()
        });
        let xml = render(&r);
        assert!(
            xml.contains("<testcase name=\"cache\" classname=\"fictures-seed.verify\">\n      <skipped message=\"--no-cache: Redis was not read\"/>"),
            "{xml}"
        );
    }

    #[test]
    fn a_run_that_failed_is_one_case_in_error() {
        let failure = Failure::new(ExitCode::Connect, "cannot reach <db> & retry");
        let xml = render_failure("verify", &failure);
        assert!(
            xml.contains("tests=\"1\" failures=\"0\" errors=\"1\""),
            "{xml}"
        );
        assert!(
            xml.contains("<error message=\"cannot reach &lt;db&gt; &amp; retry\" type=\"connect\">exit code 4 (connect): cannot reach &lt;db&gt; &amp; retry</error>"),
            "{xml}"
        );
    }
}
