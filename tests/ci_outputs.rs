//! What CI gets besides stdout, against real servers: `verify --junit` (a
//! failure per finding, written whole, exit 9 for a path it cannot write,
//! checked before connecting) and the GitHub Actions job summary.

mod common;

use std::path::Path;

use common::*;
use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::Event;

fn seeded() -> TestEnv {
    let env = TestEnv::new();
    env.run(&["seed", "--quiet"]).expect(0);
    env
}

/// An element's name, attributes and the text directly inside it.
type Element = (String, Vec<(String, String)>, String);

/// Every element of a JUnit file as (name, attributes, text inside), in order;
/// parsing it at all proves it well-formed.
fn elements(path: &Path) -> Vec<Element> {
    let xml = std::fs::read_to_string(path).unwrap();
    let mut reader = Reader::from_str(&xml);
    let mut out: Vec<Element> = Vec::new();
    // Indices of the elements open around the reader, for their text.
    let mut open: Vec<usize> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("{e}:\n{xml}"));
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                if let Event::Start(_) = event {
                    open.push(out.len());
                }
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        let value = a.normalized_value(XmlVersion::Implicit1_0).unwrap();
                        (a.key.as_ref().to_string(), value.into_owned())
                    })
                    .collect();
                out.push((e.name().as_ref().to_string(), attrs, String::new()));
            }
            // Entities arrive on their own; the text is unescaped at the end.
            Event::Text(t) => {
                if let Some(&i) = open.last() {
                    out[i].2.push_str(t);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(&i) = open.last() {
                    out[i].2.push_str(&format!("&{};", &**r));
                }
            }
            Event::End(_) => {
                open.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    for element in &mut out {
        element.2 = quick_xml::escape::unescape(&element.2)
            .unwrap()
            .into_owned();
    }
    out
}

fn attr<'a>(element: &'a Element, name: &str) -> &'a str {
    element
        .1
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} on {element:?}"))
}

#[test]
fn junit_carries_a_failure_per_finding_and_keeps_verifys_exit_code() {
    let env = seeded();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reports/fixture.xml");
    let junit = path.to_str().unwrap();

    env.run(&["verify", "--junit", junit]).expect(0);
    let clean = elements(&path);
    assert_eq!(attr(&clean[0], "failures"), "0");
    let cases: Vec<&str> = clean
        .iter()
        .filter(|e| e.0 == "testcase")
        .map(|e| attr(e, "name"))
        .collect();
    assert!(
        cases.contains(&"stories") && cases.contains(&"scenes"),
        "{cases:?}"
    );
    assert_eq!(cases.last(), Some(&"cache"));
    assert!(!clean.iter().any(|e| e.0 == "failure"));

    // A value with markup in it, and a deleted row.
    env.sql(&format!(
        "UPDATE stories SET title = '<b>&\"''x</b>' WHERE id = '{STORY_1}'"
    ));
    env.sql("DELETE FROM post_likes WHERE ctid IN (SELECT ctid FROM post_likes LIMIT 1)");
    let report = env
        .run(&["verify", "--json", "--junit", junit])
        .expect(1)
        .json();
    let findings = report["findings"].as_array().unwrap();
    let drifted = elements(&path);
    let failures: Vec<_> = drifted.iter().filter(|e| e.0 == "failure").collect();
    assert_eq!(failures.len(), findings.len(), "{drifted:?}");
    assert_eq!(attr(&drifted[0], "failures"), findings.len().to_string());
    let title = failures
        .iter()
        .find(|f| f.2.contains("column: title"))
        .expect("the drifted title is a failure");
    assert_eq!(attr(title, "type"), "drift");
    assert_eq!(
        title.2,
        format!(
            "kind: drift\ntable: stories\nid: {STORY_1}\ncolumn: title\nexpected: \"Cache Test Story 1\"\nfound: \"<b>&\\\"'x</b>\""
        )
    );
    // The failure sits in its table's test case.
    let at = drifted
        .iter()
        .position(|e| std::ptr::eq(e, *title))
        .unwrap();
    let case = drifted[..at]
        .iter()
        .rev()
        .find(|e| e.0 == "testcase")
        .unwrap();
    assert_eq!(attr(case, "name"), "stories");
    assert!(failures.iter().any(|f| attr(f, "type") == "missing"));
    assert_eq!(files_in(path.parent().unwrap()), ["fixture.xml"]);
}

#[test]
fn an_unwritable_junit_path_is_exit_9_before_anything_connects() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    // Nothing listens on port 1: had the tool connected first, it would exit 4.
    let env = TestEnv::new();
    let unreachable = ["--database-url", "postgres://127.0.0.1:1/x", "--no-cache"];
    for (path, why) in [
        (blocker.join("fixture.xml"), "file is not a directory"),
        (dir.path().to_path_buf(), "it is a directory"),
    ] {
        let mut args = vec!["verify", "--junit", path.to_str().unwrap()];
        args.extend(unreachable);
        let run = env.run(&args).expect(9);
        let err = run.stderr();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!(
                "error: cannot write the JUnit report to {}: ",
                path.display()
            )),
            "{err}"
        );
        assert!(err.contains(why) && err.contains("with --junit"), "{err}");
    }
    assert_eq!(files_in(dir.path()), ["file"]);
}

#[test]
fn a_run_that_fails_is_an_error_case_in_junit_and_the_summary() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("fixture.xml");
    let summary = dir.path().join("summary.md");
    let run = env
        .run_with(
            &[
                "verify",
                "--junit",
                junit.to_str().unwrap(),
                "--database-url",
                "postgres://127.0.0.1:1/x",
                "--connect-attempts",
                "1",
            ],
            &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
        )
        .expect(4);
    let xml = elements(&junit);
    let error = xml.iter().find(|e| e.0 == "error").expect("an error case");
    assert_eq!(attr(error, "type"), "connect");
    assert!(error.2.starts_with("exit code 4 (connect): "), "{error:?}");
    assert_eq!(attr(&xml[0], "errors"), "1");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("### fictures-seed verify: failed (exit 4, connect)\n\n"),
        "{md}"
    );
    assert!(run.stderr().starts_with("error: "), "{}", run.stderr());
}

#[test]
fn a_run_cut_short_by_its_time_limit_still_leaves_its_junit_and_summary() {
    let env = seeded();
    let dir = tempfile::tempdir().unwrap();
    let (junit, summary) = (dir.path().join("fixture.xml"), dir.path().join("s.md"));
    let run = env.run_with(
        &[
            "verify",
            "--timeout",
            "1ms",
            "--junit",
            junit.to_str().unwrap(),
        ],
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    let code = run.code();
    assert!(run.stderr().contains("--timeout 1ms"), "{}", run.stderr());
    let xml = elements(&junit);
    let error = xml.iter().find(|e| e.0 == "error").expect("an error case");
    assert!(
        error.2.starts_with(&format!("exit code {code} (")),
        "{error:?}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains(&format!("failed (exit {code}, ")), "{md}");
}

#[test]
fn seed_verify_and_teardown_append_to_the_job_summary() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("step_summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let vars = [("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())];
    env.run_with(&["seed", "--quiet"], &vars).expect(0);
    env.sql(&format!(
        "UPDATE stories SET title = 'a|b' WHERE id = '{STORY_2}'"
    ));
    env.run_with(&["verify", "--json"], &vars).expect(1);
    env.run_with(&["teardown"], &vars).expect(0);
    // Commands outside the three write no summary.
    env.run_with(&["doctor"], &vars).expect(0);
    let md = std::fs::read_to_string(&summary).unwrap();
    let sections: Vec<&str> = md.split("### ").collect();
    assert_eq!(sections[0], "earlier step\n");
    assert_eq!(sections.len(), 4, "{md}");
    assert!(sections[1].starts_with("fictures-seed seed: "), "{md}");
    assert!(sections[1].contains("| stories | 3 | 0 | 0 | 0 |"), "{md}");
    assert!(sections[1].contains("cache: "), "{md}");
    assert!(
        sections[2].starts_with("fictures-seed verify: 1 finding\n"),
        "{md}"
    );
    assert!(
        sections[2].contains(&format!(
            "| drift | stories | {} | title | \"Cache Test Story 2\" | \"a\\|b\" |",
            STORY_2.replace('_', "\\_")
        )),
        "{md}"
    );
    assert!(sections[3].starts_with("fictures-seed teardown: "), "{md}");
}

#[test]
fn a_summary_that_cannot_be_written_warns_and_keeps_the_exit_code() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let nowhere = dir.path().join("absent/summary.md");
    let run = env
        .run_with(
            &["seed", "--quiet"],
            &[("GITHUB_STEP_SUMMARY", nowhere.to_str().unwrap())],
        )
        .expect(0);
    let err = run.stderr();
    assert!(
        err.starts_with(&format!(
            "warning: cannot append the job summary to {} ($GITHUB_STEP_SUMMARY): ",
            nowhere.display()
        )),
        "{err}"
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM stories WHERE id = '{STORY_1}'"
        )),
        1
    );
    // An empty variable means no summary, as GitHub never sets it empty.
    let run = env
        .run_with(&["verify"], &[("GITHUB_STEP_SUMMARY", "")])
        .expect(0);
    assert!(run.stderr().is_empty(), "{}", run.stderr());
}
