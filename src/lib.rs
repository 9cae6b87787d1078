//! fictures-seed: puts the Fictures app's canonical test fixtures into
//! PostgreSQL and Redis, verifies them, and removes them again.
//!
//! The core is pure (seed file → fixture → plan); `db`, `cache` and `report`
//! are the thin edges to PostgreSQL, Redis and the terminal.

pub mod auth;
mod cache;
mod catalog;
mod cli;
mod clock;
mod commands;
mod credentials;
mod db;
mod deadline;
mod dependents;
mod engine;
pub mod entry;
mod error;
mod fit;
mod fixture;
mod guard;
mod ids;
mod plan;
mod progress;
mod redact;
mod report;
mod retry;
mod scale;
mod seedfile;
mod settings;
mod snapshot;
mod sql;
mod steps;
#[cfg(test)]
mod testing;
mod text;
mod wording;
