//! The run's settings as plain data, made once from the command line in
//! `entry`: the engine, the edges and the settings below the commands never
//! see clap's types.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::Global;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub redis_ca_cert: Option<PathBuf>,
    pub seed_file: Option<PathBuf>,
    pub allow_hosts: Vec<String>,
    pub production_markers: Vec<String>,
    pub production_override: bool,
    pub json: bool,
    pub quiet: bool,
    pub connect_timeout: Duration,
    /// At least 1.
    pub connect_attempts: u32,
    pub lock_timeout: Duration,
    pub statement_timeout: Duration,
    /// Build the first reads on the catalog remembered from the last run
    /// (`io::hint`) and confirm it in the same round trip.
    pub catalog_hint: bool,
}

impl From<&Global> for Config {
    fn from(g: &Global) -> Config {
        Config {
            database_url: g.database_url.clone(),
            redis_url: g.redis_url.clone(),
            redis_ca_cert: g.redis_ca_cert.clone(),
            seed_file: g.seed_file.clone(),
            allow_hosts: g.allow_hosts.clone(),
            production_markers: g.production_markers.clone(),
            production_override: g.production_override,
            json: g.json,
            quiet: g.quiet,
            connect_timeout: g.connect_timeout,
            connect_attempts: g.connect_attempts.max(1),
            lock_timeout: g.lock_timeout,
            statement_timeout: g.statement_timeout,
            catalog_hint: false,
        }
    }
}
