//! What a run leaves for CI besides stdout: `verify --junit FILE` (asked for,
//! so a path it cannot write is an error, exit 9) and the GitHub Actions job
//! summary (a courtesy, so a summary it cannot append is only a warning).

use std::path::{Path, PathBuf};

use crate::cli::Command;
use crate::commands::Outcome;
use crate::error::{ExitCode, Failure, Result};
use crate::io::file;
use crate::pure::wording::count;
use crate::report::{junit, summary};

/// The variable GitHub Actions points at the step's summary file.
const SUMMARY_VAR: &str = "GITHUB_STEP_SUMMARY";

/// Where this run's CI outputs go.
#[derive(Clone)]
pub struct Outputs {
    command: &'static str,
    junit: Option<PathBuf>,
    summary: Option<PathBuf>,
}

impl Outputs {
    /// The outputs the command line and the environment ask for: a job
    /// summary for the commands that change or check the fixture.
    pub fn of(command: &Command) -> Outputs {
        let (name, junit) = match command {
            Command::Seed(_) => (Some("seed"), None),
            Command::Verify(a) => (Some("verify"), a.junit.clone()),
            Command::Teardown(_) => (Some("teardown"), None),
            _ => (None, None),
        };
        let summary = std::env::var_os(SUMMARY_VAR)
            .filter(|v| !v.is_empty() && name.is_some())
            .map(PathBuf::from);
        Outputs {
            command: name.unwrap_or_default(),
            junit,
            summary,
        }
    }

    /// Proves the JUnit file's directory writable (creating it if missing)
    /// before anything connects, so a bad path costs no run.
    pub fn prepare(&self) -> Result<()> {
        let Some(path) = &self.junit else {
            return Ok(());
        };
        if path.is_dir() {
            return Err(junit_failure(
                path,
                "it is a directory",
                "name a file, like reports/fixture.xml",
            ));
        }
        let dir = file::parent(path);
        if dir.exists() && !dir.is_dir() {
            let why = format!("{} is not a directory", dir.display());
            return Err(junit_failure(path, &why, "name a file in a directory"));
        }
        std::fs::create_dir_all(dir)
            .and_then(|()| file::probe(dir))
            .map_err(|e| junit_failure(path, &e.to_string(), "choose a writable path"))
    }

    /// Writes the JUnit file and appends the job summary for the run's outcome.
    pub fn deliver(&self, outcome: Result<Outcome>) -> Result<Outcome> {
        self.summarize(self.write_junit(outcome))
    }

    /// A JUnit file that cannot be written turns the outcome into that
    /// failure (exit 9), with what the run itself came to in the message.
    fn write_junit(&self, outcome: Result<Outcome>) -> Result<Outcome> {
        let Some(path) = &self.junit else {
            return outcome;
        };
        let xml = match &outcome {
            Ok((report, _)) => junit::render(report),
            Err(failure) => junit::render_failure(self.command, failure),
        };
        match file::write_atomic(path, xml.as_bytes(), 0o644) {
            Ok(()) => outcome,
            Err(e) => Err(junit_failure(
                path,
                &format!("{e} (the run itself {})", verdict(&outcome)),
                "choose a writable path",
            )),
        }
    }

    /// Appends the outcome to the job summary; that only ever warns.
    pub fn summarize(&self, outcome: Result<Outcome>) -> Result<Outcome> {
        if let Some(path) = &self.summary {
            let text = match &outcome {
                Ok((report, _)) => summary::render(report),
                Err(failure) => summary::render_failure(self.command, failure),
            };
            if let Err(e) = file::append(path, &text) {
                // The fixture's state decides the exit code, not a dashboard;
                // said even with --quiet, or the summary would vanish unnoticed.
                eprintln!(
                    "warning: cannot append the job summary to {} (${SUMMARY_VAR}): {e}; the run's result and exit code are unaffected",
                    path.display()
                );
            }
        }
        outcome
    }
}

/// What the run came to, for a message about a file it could not write.
fn verdict(outcome: &Result<Outcome>) -> String {
    match outcome {
        Ok((report, _)) => match report.findings.as_deref() {
            Some([]) => "found the fixture exact".into(),
            Some(f) => format!("found {}", count(f.len(), "finding")),
            None => "succeeded".into(),
        },
        Err(failure) => format!("failed with exit {}", failure.code.code()),
    }
}

fn junit_failure(path: &Path, why: &str, fix: &str) -> Failure {
    Failure::new(
        ExitCode::Io,
        format!(
            "cannot write the JUnit report to {}: {why}; {fix} with --junit",
            path.display()
        ),
    )
}
