//! The pure core: the seed file, the canonical fixture it describes, how
//! that fixture fits a catalog, the snapshot and dependents reads as SQL text
//! and their answers parsed, and the plan of statements. Nothing here touches
//! a socket, a file or the environment, so all of it is tested without servers.

pub mod catalog;
pub mod chains;
pub mod clock;
pub mod copy_binary;
pub mod credentials;
pub mod dependents;
pub mod families;
pub mod fit;
pub mod fixture;
pub mod hex;
pub mod ids;
pub mod load;
pub mod plan;
pub mod redact;
pub mod seedfile;
pub mod snapshot;
pub mod sql;
pub mod sweep;
#[cfg(test)]
pub mod testing;
pub mod text;
pub mod wording;
