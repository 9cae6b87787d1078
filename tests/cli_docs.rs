//! The command line's own documents, from the built binary: shell completions
//! (bash's accepted by `bash -n`), the man pages, and `--help`'s exit codes,
//! which must be the ones the README documents.

mod common;

use std::process::Command;

fn tool(args: &[&str]) -> common::Run {
    common::offline(&common::repo(), args)
}

/// The subcommands, as the tool's own help lists them.
fn subcommands() -> Vec<String> {
    let help = tool(&["--help"]).expect(0).stdout();
    let listed = help
        .split_once("Commands:\n")
        .expect("help lists commands")
        .1
        .split("\n\n")
        .next()
        .unwrap();
    let names: Vec<String> = listed
        .lines()
        // Names sit two spaces in; wrapped descriptions further.
        .filter_map(|l| l.strip_prefix("  ").filter(|r| !r.starts_with(' ')))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(String::from)
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    names
}

#[test]
fn bash_completion_knows_every_subcommand_and_parses() {
    let script = tool(&["completions", "bash"]).expect(0).stdout();
    for sub in subcommands() {
        assert!(
            script.contains(&format!("fictures__seed,{sub})")),
            "bash completion lacks `{sub}`"
        );
    }
    assert!(script.contains("--junit"), "verify's --junit is completed");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fictures-seed.bash");
    std::fs::write(&path, &script).unwrap();
    let check = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn zsh_and_fish_completions_name_the_tool_and_its_subcommands() {
    for shell in ["zsh", "fish"] {
        let script = tool(&["completions", shell]).expect(0).stdout();
        assert!(script.contains("fictures-seed"), "{shell}: {script}");
        for sub in subcommands() {
            assert!(script.contains(&sub), "{shell} completion lacks `{sub}`");
        }
    }
    let bad = tool(&["completions", "tcsh"]).expect(2);
    assert!(
        bad.stderr().contains("invalid value 'tcsh'"),
        "{}",
        bad.stderr()
    );
}

#[test]
fn the_man_page_names_every_subcommand_and_the_exit_codes() {
    let page = tool(&["man"]).expect(0).stdout();
    assert!(page.starts_with(".ie \\n(.g"), "roff: {page}");
    assert!(page.contains(".TH fictures-seed 1"), "{page}");
    for sub in subcommands() {
        let reference = format!("fictures\\-seed\\-{}(1)", sub.replace('-', "\\-"));
        assert!(page.contains(&reference), "man page lacks `{sub}`");
    }
    assert!(page.contains(".SH \"EXIT STATUS\""), "{page}");
    assert!(
        page.contains("\\fB9\\fR\na file could not be written"),
        "{page}"
    );
}

#[test]
fn man_out_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let run = tool(&["man", "--out", out.to_str().unwrap()]).expect(0);
    assert!(run.stdout().contains("wrote "), "{}", run.stdout());
    let mut expected = vec!["fictures-seed.1".to_string()];
    expected.extend(subcommands().iter().map(|s| format!("fictures-seed-{s}.1")));
    expected.sort();
    let written = common::files_in(&out);
    assert_eq!(written, expected);
    let seed = std::fs::read_to_string(out.join("fictures-seed-seed.1")).unwrap();
    assert!(seed.contains("\\-\\-prune"), "{seed}");
    // A directory that cannot be made is exit 9 and one sentence.
    let blocked = dir.path().join("file");
    std::fs::write(&blocked, "").unwrap();
    let run = tool(&["man", "--out", blocked.join("man1").to_str().unwrap()]).expect(9);
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
    assert!(
        run.stderr().contains("cannot write man pages into"),
        "{}",
        run.stderr()
    );
}

#[test]
fn help_ends_with_the_exit_codes_the_readme_documents() {
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let table = readme.split_once("## Exit codes").unwrap().1;
    let documented: Vec<String> = table
        .lines()
        .skip_while(|l| !l.starts_with("| 0 "))
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.split('|').nth(1).unwrap().trim().to_string())
        .collect();
    assert_eq!(documented.len(), 10, "{documented:?}");
    for args in [
        vec!["--help"],
        vec!["-h"],
        vec!["verify", "--help"],
        vec!["seed", "-h"],
    ] {
        let help = tool(&args).expect(0).stdout();
        let listed: Vec<String> = help
            .split_once("Exit codes:\n")
            .unwrap_or_else(|| panic!("{args:?}: no exit codes:\n{help}"))
            .1
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(String::from)
            .collect();
        assert_eq!(listed, documented, "{args:?}");
    }
}
