//! The I/O edges: PostgreSQL (one connection, batches over the simple query
//! protocol, COPY), Redis (the app's cache), and scale mode's streaming of
//! generated rows into COPY.

pub mod cache;
pub mod db;
pub mod scale;
pub mod walk;
