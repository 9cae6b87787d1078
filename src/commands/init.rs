//! `init`: write the built-in seed file, comments and all, where the user can
//! edit it. Touches no server; refuses to replace a file unless `--force`.

use std::io::Write as _;

use crate::cli::InitArgs;
use crate::error::{ExitCode, Failure, Result};
use crate::pure::seedfile;
use crate::report::Report;

use super::Outcome;

pub fn run(args: &InitArgs) -> Result<Outcome> {
    let path = &args.path;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::usage(format!(
                "{} exists already; pass --force to replace it, or name another PATH",
                path.display()
            ))
        } else {
            Failure::new(
                ExitCode::Io,
                format!(
                    "cannot create {}: {e}; name a PATH in a writable directory",
                    path.display()
                ),
            )
        }
    })?;
    file.write_all(seedfile::BUILT_IN.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| {
            Failure::new(
                ExitCode::Io,
                format!(
                    "cannot write {}: {e}; check the disk and run again",
                    path.display()
                ),
            )
        })?;
    let report = Report {
        command: "init",
        notes: vec![format!(
            "wrote the built-in seed file to {p}; edit it and pass it with --seed-file {p}",
            p = path.display()
        )],
        ..Report::default()
    };
    Ok((report, ExitCode::Ok))
}
