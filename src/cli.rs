//! The command line: subcommands and the options they share.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::error::ExitCode;

/// Puts the Fictures app's canonical test fixtures in place, checks them and removes them.
///
/// The fixture (accounts, three "Cache Test Story" stories with fixed ids, their
/// chapters, scenes and community data) is described by a seed file. `seed`
/// converges the database to it in one transaction and drops the app's cache
/// keys for what changed; `verify` reports every difference; `teardown`
/// removes the fixture and every row that depends on it, and nothing else.
#[derive(Debug, Parser)]
#[command(name = "fictures-seed", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// PostgreSQL URL [default: $DATABASE_URL, else $POSTGRES_URL_POOLED, else $POSTGRES_URL].
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Redis URL of the app's cache (redis:// or rediss://) [default: $REDIS_URL].
    #[arg(long, global = true, value_name = "URL")]
    pub redis_url: Option<String>,

    /// PEM file of the CA that signed the Redis server's certificate, for
    /// rediss:// servers outside the public roots.
    #[arg(long, global = true, value_name = "PATH", env = "REDIS_CA_CERT")]
    pub redis_ca_cert: Option<PathBuf>,

    /// Read settings from this dotenv file first (the app keeps them in .env.local);
    /// variables already set in the environment win.
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Option<PathBuf>,

    /// The fixture definition [default: the canonical cache-test fixture built
    /// into this binary; `fictures-seed init` writes a copy to edit].
    #[arg(long, global = true, value_name = "PATH")]
    pub seed_file: Option<PathBuf>,

    /// Allow writing to this non-local host (glob, `*` wildcard; repeatable or comma-separated).
    #[arg(
        long = "allow-host",
        global = true,
        value_name = "PATTERN",
        env = "FICTURES_SEED_ALLOW_HOSTS",
        value_delimiter = ','
    )]
    pub allow_hosts: Vec<String>,

    /// Words that mark a host or database name as production (whole words).
    #[arg(
        long,
        global = true,
        value_name = "WORDS",
        env = "FICTURES_SEED_PRODUCTION_MARKERS",
        value_delimiter = ',',
        default_value = "prod,production"
    )]
    pub production_markers: Vec<String>,

    /// Write even to a target whose host or database name looks like production.
    #[arg(long = "i-really-mean-production", global = true)]
    pub production_override: bool,

    /// Print one JSON object on stdout instead of the human summary.
    #[arg(long, global = true)]
    pub json: bool,

    /// More detail on stderr (-v: steps, -vv: SQL).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Print nothing but errors (and the JSON object with --json).
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// How long to wait for a connection to PostgreSQL or Redis, per attempt.
    #[arg(long, global = true, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    pub connect_timeout: Duration,

    /// How many times to try connecting when the server refuses or resets.
    #[arg(long, global = true, value_name = "N", default_value_t = 4)]
    pub connect_attempts: u32,

    /// How long to wait for another run's fixture lock before giving up.
    #[arg(long, global = true, value_name = "DURATION", default_value = "30s", value_parser = duration)]
    pub lock_timeout: Duration,

    /// Longest any one SQL statement may run.
    #[arg(long, global = true, value_name = "DURATION", default_value = "2m", value_parser = duration)]
    pub statement_timeout: Duration,

    /// Longest the whole run may take; past it the transaction is rolled back.
    #[arg(long, global = true, value_name = "DURATION", default_value = "10m", value_parser = duration)]
    pub timeout: Duration,
}

/// The command line as clap builds it, with the exit-code table after the help
/// of the tool and of every subcommand, so `--help` and the man page show the
/// codes the tool really exits with.
pub fn command() -> clap::Command {
    let table = ExitCode::help_table();
    Cli::command()
        .after_help(table.clone())
        .mut_subcommands(|sub| sub.after_help(table.clone()))
}

fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .or_else(|_| text.parse::<u64>().map(Duration::from_secs))
        .map_err(|_| format!("`{text}` is not a duration; write it like 30s, 500ms or 2m"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring the database to exactly the fixture and drop the app's cache for what changed.
    ///
    /// Inserts missing rows, restores owned columns that drifted, re-creates deleted
    /// rows, all in one transaction under an advisory lock. A second run changes nothing.
    Seed(SeedArgs),
    /// Compare the database and the cache with the fixture; write nothing.
    ///
    /// Exit 0 when exact, 1 when anything differs (missing or drifted rows, extra rows
    /// hanging off fixture rows, wrong counters, stale cache entries).
    Verify(VerifyArgs),
    /// Remove the fixture and every row that depends on it, and nothing else.
    ///
    /// Dependent rows are found from the database's foreign keys at run time.
    /// Adopted accounts and rows unrelated to the fixture stay untouched.
    Teardown(WriteArgs),
    /// Check, read-only, that the database can hold the fixture, and say how.
    ///
    /// Per table: the columns `seed` writes, the ones it infers and how, what is
    /// missing or incompatible, and the dependent tables `teardown` would clear.
    /// Exit 0 when `seed` would succeed, 5 otherwise.
    Doctor,
    /// Mint signed-in sessions for the fixture's accounts and write Playwright
    /// storage-state files (needs AUTH_SECRET or NEXTAUTH_SECRET).
    ///
    /// Each file holds the Auth.js session cookie, plus the flat fields and the
    /// `profiles` map that the app's other scripts read. Files are written
    /// atomically with mode 0600.
    Auth(AuthArgs),
    /// Create the local copy of the app's tables (never used against the app's database).
    Migrate(MigrateArgs),
    /// Drop only the app's cache keys for the fixture (after a Redis failure, say).
    Invalidate(DryRun),
    /// Write the built-in seed file, with its comments, to PATH to edit it
    /// (then pass it with --seed-file). Connects to nothing.
    Init(InitArgs),
    /// Print a shell completion script to stdout.
    ///
    /// bash: `fictures-seed completions bash > ~/.local/share/bash-completion/completions/fictures-seed`;
    /// zsh: into a directory on `$fpath` as `_fictures-seed`;
    /// fish: `> ~/.config/fish/completions/fictures-seed.fish`.
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout: `fictures-seed man | man -l -`,
    /// or write every page (one per subcommand too) into a directory.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `fictures-seed.1` and a page per subcommand into DIR instead.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(value_name = "PATH", default_value = "fictures-seed.toml")]
    pub path: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DryRun {
    /// Show what would change; write nothing to PostgreSQL or Redis.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Do not touch Redis (the app's cache may then hold stale fixture data).
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Debug, Args)]
pub struct WriteArgs {
    #[command(flatten)]
    pub dry_run: DryRun,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// Also delete rows that hang off fixture rows but are not part of the fixture
    /// (a post a test created on a fixture story), yielding exactly the fixture.
    #[arg(long)]
    pub prune: bool,
    /// Also write N load-test stories of the fixture's shape, streamed with COPY
    /// [default: `[scale] stories` of the seed file].
    #[arg(long, value_name = "N")]
    pub scale: Option<u32>,
    /// After seeding, write Playwright storage states here (as `auth` does).
    #[arg(long, value_name = "DIR")]
    pub auth_out: Option<PathBuf>,
    #[command(flatten)]
    pub auth: AuthOptions,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Check N load-test stories too (counts and a content checksum)
    /// [default: `[scale] stories` of the seed file].
    #[arg(long, value_name = "N")]
    pub scale: Option<u32>,
    /// Also write the result as JUnit XML to FILE (one test case per table and
    /// one for the cache, a failure per finding), for CI test dashboards.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AuthOptions {
    /// The app's address, for the cookie's domain, name and `secure` flag
    /// [default: `[auth] base_url` of the seed file].
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// How long minted sessions live [default: `[auth] lifetime`, 30d].
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub lifetime: Option<Duration>,
    /// Also print passwords, API keys and cookies in the report (they are
    /// always in the files).
    #[arg(long)]
    pub show_secrets: bool,
}

#[derive(Debug, Args)]
pub struct AuthArgs {
    /// Directory for the storage-state files.
    #[arg(long, value_name = "DIR", default_value = ".auth")]
    pub out: PathBuf,
    #[command(flatten)]
    pub options: AuthOptions,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub dry_run: DryRun,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_of_the_tool_and_of_every_subcommand_ends_with_every_exit_code() {
        let mut top = command();
        let mut helps = vec![("fictures-seed".to_string(), top.render_long_help())];
        top.build();
        // clap's own `help` subcommand prints others' help, not its own codes.
        for sub in top.get_subcommands_mut().filter(|s| s.get_name() != "help") {
            helps.push((sub.get_name().to_string(), sub.render_long_help()));
        }
        assert!(helps.len() > 10, "{}", helps.len());
        for (name, help) in helps {
            let help = help.to_string();
            let table = help
                .split_once("Exit codes:\n")
                .unwrap_or_else(|| panic!("{name}: no exit codes in\n{help}"))
                .1;
            for code in ExitCode::ALL {
                let line = format!("{:>2}  {}", code.code(), code.meaning());
                assert!(table.contains(&line), "{name}: `{line}` missing in\n{help}");
            }
        }
    }
}
