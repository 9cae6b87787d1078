//! `completions` and `man`: the command line's own documents, rendered from
//! the same clap definition that parses it, so they cannot fall behind it.
//! Both connect to nothing.

use std::path::Path;

use clap_complete::Shell;

use crate::cli::{self, CompletionsArgs, ManArgs};
use crate::error::{ExitCode, Failure, Result};
use crate::io::file;
use crate::report::Report;

use super::Outcome;

const BIN: &str = "fictures-seed";

pub fn completions(args: &CompletionsArgs) -> Result<Outcome> {
    Ok(document("completions", completion_script(args.shell)))
}

pub fn man(args: &ManArgs) -> Result<Outcome> {
    let Some(dir) = &args.out else {
        return Ok(document("man", man_page(top())));
    };
    let pages = man_pages();
    write_pages(dir, &pages)?;
    let report = Report {
        command: "man",
        notes: vec![format!(
            "wrote {} man pages to {}; read them with `man -l {}/{BIN}.1`, or put the directory on MANPATH",
            pages.len(),
            dir.display(),
            dir.display()
        )],
        ..Report::default()
    };
    Ok((report, ExitCode::Ok))
}

/// A report that is only a document for stdout.
fn document(command: &'static str, text: String) -> Outcome {
    let report = Report {
        command,
        document: Some(text),
        ..Report::default()
    };
    (report, ExitCode::Ok)
}

fn completion_script(shell: Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cli::command(), BIN, &mut out);
    String::from_utf8(out).expect("completion scripts are UTF-8")
}

/// clap_mangen's sections, with the exit codes as a real EXIT STATUS list in
/// place of its EXTRA section, where roff would run the table into one line.
fn man_page(command: clap::Command) -> String {
    let subcommands = command.has_subcommands();
    let man = clap_mangen::Man::new(command);
    let mut out = Vec::new();
    let rendered = man
        .render_title(&mut out)
        .and_then(|()| man.render_name_section(&mut out))
        .and_then(|()| man.render_synopsis_section(&mut out))
        .and_then(|()| man.render_description_section(&mut out))
        .and_then(|()| man.render_options_section(&mut out))
        .and_then(|()| match subcommands {
            true => man.render_subcommands_section(&mut out),
            false => Ok(()),
        })
        .and_then(|()| exit_status().to_writer(&mut out))
        .and_then(|()| man.render_version_section(&mut out));
    rendered.expect("rendering into memory cannot fail");
    String::from_utf8(out).expect("man pages are UTF-8")
}

fn exit_status() -> roff::Roff {
    let mut roff = roff::Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for code in ExitCode::ALL {
        roff.control("TP", [])
            .text([roff::bold(code.code().to_string())])
            .text([roff::roman(code.meaning())]);
    }
    roff
}

/// The command as the pages describe it: `help` is an option there, not a page.
fn top() -> clap::Command {
    let mut top = cli::command().disable_help_subcommand(true);
    top.build();
    top
}

/// The tool's page and one per subcommand (`fictures-seed-seed.1`, …), which
/// the tool's page refers to.
fn man_pages() -> Vec<(String, String)> {
    let top = top();
    let mut pages: Vec<(String, String)> = top
        .get_subcommands()
        .map(|sub| {
            let name = format!("{}.1", sub.get_display_name().unwrap_or(sub.get_name()));
            (name, man_page(sub.clone()))
        })
        .collect();
    pages.insert(0, (format!("{BIN}.1"), man_page(top)));
    pages
}

fn write_pages(dir: &Path, pages: &[(String, String)]) -> Result<()> {
    let fail = |e: std::io::Error| {
        Failure::new(
            ExitCode::Io,
            format!(
                "cannot write man pages into {}: {e}; choose a writable directory with --out",
                dir.display()
            ),
        )
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    for (name, text) in pages {
        file::write_atomic(&dir.join(name), text.as_bytes(), 0o644).map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subcommands() -> Vec<String> {
        cli::command()
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect()
    }

    #[test]
    fn every_subcommand_has_a_page_of_its_own() {
        let pages = man_pages();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[0], "fictures-seed.1");
        for sub in subcommands() {
            let name = format!("fictures-seed-{sub}.1");
            let page = &pages.iter().find(|(n, _)| *n == name).expect(&name).1;
            assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{name}: {page}");
            assert!(page.contains(".SH \"EXIT STATUS\""), "{name}: {page}");
        }
        assert_eq!(pages.len(), subcommands().len() + 1, "{names:?}");
    }
}
