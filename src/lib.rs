//! fictures-seed: puts the Fictures app's canonical test fixtures into
//! PostgreSQL and Redis, verifies them, and removes them again.
//!
//! The core is pure (seed file → fixture → plan); `db`, `cache` and `report`
//! are the thin edges to PostgreSQL, Redis and the terminal.

pub mod auth;
mod ci;
mod cli;
mod commands;
mod config;
mod deadline;
mod engine;
pub mod entry;
mod error;
mod guard;
mod io;
mod progress;
mod pure;
mod report;
mod retry;
mod settings;
mod steps;
