//! fictures-seed: puts the Fictures app's canonical test fixtures into
//! PostgreSQL and Redis, verifies them, and removes them again.
//!
//! The core is pure (seed file → fixture → plan); `db`, `cache` and `report`
//! are the thin edges to PostgreSQL, Redis and the terminal.

pub mod auth;
pub mod cache;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod closure;
pub mod commands;
pub mod compat;
pub mod credentials;
pub mod db;
pub mod deadline;
pub mod engine;
pub mod error;
pub mod fixture;
pub mod guard;
pub mod ids;
pub mod plan;
pub mod progress;
pub mod redact;
pub mod report;
pub mod retry;
pub mod scale;
pub mod seedfile;
pub mod settings;
pub mod sql;
pub mod state;
pub mod steps;
pub mod text;
