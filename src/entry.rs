//! The command line: parse it, run one subcommand under the whole-run time
//! limit, print its report, and exit with its code.

use std::io::IsTerminal;

use crate::cli::{self, Cli, Command};
use crate::commands::{self, Outcome};
use crate::config::Config;
use crate::error::{Failure, Result};
use crate::{ci, deadline, settings};
use clap::FromArgMatches as _;
use tracing_subscriber::EnvFilter;

/// Runs the tool as `main` does and ends the process with its exit code.
pub fn main() -> ! {
    // A non-UTF-8 argument is a usage error, not a panic.
    let args: Vec<String> = match std::env::args_os()
        .enumerate()
        .map(|(i, a)| {
            a.into_string().map_err(|raw| {
                Failure::usage(format!(
                    "argument {i} ({}) is not valid UTF-8; pass paths and URLs as UTF-8 text",
                    raw.to_string_lossy()
                ))
            })
        })
        .collect::<Result<_>>()
    {
        Ok(args) => args,
        Err(failure) => {
            fail(&failure, false);
            std::process::exit(failure.code.code());
        }
    };
    if let Err(failure) = settings::preload_env_file(&args) {
        eprintln!("error: {}", failure.message);
        std::process::exit(failure.code.code());
    }
    let cli =
        Cli::from_arg_matches(&cli::command().get_matches_from(&args)).unwrap_or_else(|e| e.exit());
    let g = &cli.global;
    let level = match (g.quiet, g.verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "fictures_seed=debug,info",
        _ => "fictures_seed=trace,sql=trace,info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("FICTURES_SEED_LOG").unwrap_or_else(|_| EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();

    let json = g.json;
    let outputs = ci::Outputs::of(&cli.command);
    // A run cut short by --timeout still leaves its JUnit case and summary.
    let on_timeout = outputs.clone();
    deadline::start(g.timeout, move |failure| {
        let failure = on_timeout
            .deliver(Err(failure))
            .expect_err("a failure stays a failure");
        fail(&failure, json);
        failure.code
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let outcome = match outputs.prepare() {
        Ok(()) => outputs.deliver(runtime.block_on(run(&cli))),
        // The JUnit path is what failed: only the summary can say so.
        Err(failure) => outputs.summarize(Err(failure)),
    };
    let code = match outcome {
        Ok((report, code)) => {
            report.print(g.json, g.quiet);
            code
        }
        Err(failure) => {
            fail(&failure, g.json);
            failure.code
        }
    };
    std::process::exit(code.code());
}

/// Prints a failure: one line on stderr, and a JSON object on stdout with --json.
fn fail(failure: &Failure, json: bool) {
    // One line, whatever a driver's error text held.
    let message = failure
        .message
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!("error: {message}");
    if json {
        let body = serde_json::json!({
            "error": { "code": failure.code.code(), "kind": failure.code.name(), "message": message }
        });
        println!("{body}");
    }
}

async fn run(cli: &Cli) -> Result<Outcome> {
    // The command line becomes plain settings once, here.
    let mut g = Config::from(&cli.global);
    // The commands whose first batch can confirm a remembered catalog.
    g.catalog_hint = matches!(
        cli.command,
        Command::Seed(_) | Command::Verify(_) | Command::Teardown(_)
    );
    match dispatch(&g, &cli.command).await {
        // Nothing is written before the hint is confirmed, so the run
        // starts over once, reading the catalog afresh.
        Err(failure) if failure.unconfirmed => {
            tracing::debug!("starting over without the remembered catalog: {failure}");
            g.catalog_hint = false;
            dispatch(&g, &cli.command).await
        }
        outcome => outcome,
    }
}

async fn dispatch(g: &Config, command: &Command) -> Result<Outcome> {
    match command {
        Command::Seed(a) => commands::seed::run(g, a).await,
        Command::Verify(a) => commands::verify::run(g, a).await,
        Command::Teardown(a) => commands::teardown::run(g, a).await,
        Command::Auth(a) => commands::auth::run(g, a).await,
        Command::Doctor => commands::doctor::run(g).await,
        Command::Migrate(a) => commands::migrate::run(g, a).await,
        Command::Invalidate(a) => commands::invalidate::run(g, a).await,
        Command::Init(a) => commands::init::run(a),
        Command::Completions(a) => commands::docs::completions(a),
        Command::Man(a) => commands::docs::man(a),
    }
}
