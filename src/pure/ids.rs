//! Fixture ids: validation of the app's 21-character nanoids, and derivation of
//! child ids from a parent id and a position, so that every run on every machine
//! produces the same ids without storing them anywhere.

use sha2::{Digest, Sha256};

/// Length of every id the app generates (nanoid's default).
pub const LEN: usize = 21;

/// `Ok` when `id` looks like an id the app could have generated.
pub fn check(id: &str) -> Result<(), String> {
    let count = id.chars().count();
    if count != LEN {
        return Err(format!(
            "id `{id}` has {count} characters; the app's ids have exactly {LEN}"
        ));
    }
    if let Some(bad) = id.chars().find(|c| !nanoid::alphabet::SAFE.contains(c)) {
        return Err(format!(
            "id `{id}` contains `{bad}`; ids use only A-Z, a-z, 0-9, `_` and `-`"
        ));
    }
    Ok(())
}

/// A valid nanoid determined by `parts` alone: SHA-256 in counter mode feeds
/// nanoid's own formatter in place of its random source.
pub fn derive(parts: &[&str]) -> String {
    let mut counter = 0u32;
    nanoid::format(
        |want| {
            let mut bytes = Vec::with_capacity(want + 32);
            while bytes.len() < want {
                let mut h = Sha256::new();
                h.update(b"fictures-seed/id/v1");
                for p in parts {
                    h.update((p.len() as u64).to_le_bytes());
                    h.update(p.as_bytes());
                }
                h.update(counter.to_le_bytes());
                counter += 1;
                bytes.extend_from_slice(&h.finalize());
            }
            bytes.truncate(want);
            bytes
        },
        &nanoid::alphabet::SAFE,
        LEN,
    )
}

pub fn chapter(story: &str, n: u32) -> String {
    derive(&["chapter", story, &n.to_string()])
}

pub fn scene(chapter: &str, n: u32) -> String {
    derive(&["scene", chapter, &n.to_string()])
}

pub fn post(story: &str, n: u32) -> String {
    derive(&["post", story, &n.to_string()])
}

pub fn reply(post: &str, n: u32) -> String {
    derive(&["reply", post, &n.to_string()])
}

/// The nested answer to reply `parent`.
pub fn nested_reply(parent: &str) -> String {
    derive(&["nested-reply", parent])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_valid_stable_and_distinct() {
        let a = chapter("LGAbU_uuQe56exjKNAQn3", 1);
        assert!(check(&a).is_ok(), "{a}");
        assert_eq!(a, chapter("LGAbU_uuQe56exjKNAQn3", 1));
        assert_ne!(a, chapter("LGAbU_uuQe56exjKNAQn3", 2));
        assert_ne!(a, scene("LGAbU_uuQe56exjKNAQn3", 1));
    }

    #[test]
    fn check_names_the_problem() {
        assert!(check("short").unwrap_err().contains("5 characters"));
        assert!(check("LGAbU_uuQe56exjKNAQn!").unwrap_err().contains("`!`"));
    }
}
