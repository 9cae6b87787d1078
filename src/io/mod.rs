//! The I/O edges: PostgreSQL (one connection, batches over the simple query
//! protocol, COPY), Redis (the app's cache), and scale mode's streaming of
//! generated rows into COPY, and the files written for other tools.

pub mod cache;
pub mod db;
pub mod file;
pub mod hint;
pub mod scale;
pub mod sweep;
pub mod walk;
