//! The app's Redis key families (cache-keys.md) as data: which keys belong to
//! which fixture entities, as exact keys and as prefixes, and the SCAN MATCH
//! patterns that let the server find the prefixed ones.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::pure::fixture::{Kind, Tag};

/// Lists that can hold any story, dropped whenever a fixture entity changes.
const GLOBAL_LISTS: [&str; 3] = [
    "stories:published",
    "community:stories:all",
    "community:stories:all:optimized",
];

/// The set of keys belonging to some entities: exact keys and key prefixes.
#[derive(Debug, Default, Clone)]
pub struct Families {
    exact: HashSet<String>,
    prefixes: HashSet<String>,
    /// The ids inside the prefixes, for the scan's MATCH patterns.
    ids: BTreeSet<String>,
}

impl Families {
    /// The families of `tags`, plus the global lists when there is any tag.
    pub fn of(tags: &BTreeSet<Tag>) -> Families {
        let mut f = Families::default();
        for (kind, id) in tags {
            match kind {
                Kind::Story => {
                    f.exact(&[
                        format!("story:{id}"),
                        format!("story:read:{id}"),
                        format!("comments:story:{id}"),
                        format!("comments:story:{id}:public"),
                    ]);
                    f.prefix(
                        id,
                        &[
                            format!("story:{id}:"),
                            format!("community:story:{id}:"),
                            format!("fictures:studio:story:{id}:"),
                            format!("fictures:cache-test:story:{id}:"),
                        ],
                    );
                }
                Kind::Chapter => {
                    f.exact(&[
                        format!("chapter:{id}"),
                        format!("chapter:scenes:{id}"),
                        format!("comments:chapter:{id}"),
                        format!("comments:chapter:{id}:public"),
                    ]);
                    f.prefix(id, &[format!("chapter:{id}:")]);
                }
                Kind::Scene => {
                    f.exact(&[
                        format!("scene:{id}"),
                        format!("comments:scene:{id}"),
                        format!("comments:scene:{id}:public"),
                    ]);
                    f.prefix(id, &[format!("scene:{id}:")]);
                }
                Kind::Part => f.exact(&[format!("part:{id}")]),
                Kind::Character => f.exact(&[format!("character:{id}")]),
                Kind::Setting => f.exact(&[format!("setting:{id}")]),
                Kind::User => {
                    f.exact(&[
                        format!("user:{id}"),
                        format!("user:{id}:stories"),
                        format!("fictures:studio:stories:user:{id}"),
                    ]);
                    f.prefix(id, &[format!("user:{id}:stories:")]);
                }
            }
        }
        if !tags.is_empty() {
            f.exact(&GLOBAL_LISTS.map(String::from));
        }
        f
    }

    fn exact(&mut self, keys: &[String]) {
        self.exact.extend(keys.iter().cloned());
    }

    fn prefix(&mut self, id: &str, prefixes: &[String]) {
        self.ids.insert(id.to_string());
        self.prefixes.extend(prefixes.iter().cloned());
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }

    /// The exact keys, sorted: they need no scan.
    pub fn exact_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.exact.iter().cloned().collect();
        keys.sort();
        keys
    }

    pub fn prefix_count(&self) -> usize {
        self.prefixes.len()
    }

    /// The key prefixes, sorted; each ends with `:`.
    pub fn prefixes(&self) -> Vec<String> {
        let mut prefixes: Vec<String> = self.prefixes.iter().cloned().collect();
        prefixes.sort();
        prefixes
    }

    /// SCAN MATCH patterns that every key under a prefix matches, so the
    /// server filters the keyspace and only candidates travel; [`matches`]
    /// then decides. Each prefix holds an entity id between two `:`; per id
    /// length, one pattern asks for `:`, a run of that length whose every
    /// character is one the ids have at that position, then `:`. Random ids
    /// of other entities almost never fit all positions.
    ///
    /// [`matches`]: Families::matches
    pub fn patterns(&self) -> Vec<String> {
        // Redis matches patterns byte by byte, so positions are bytes.
        let mut by_length: BTreeMap<usize, Vec<BTreeSet<u8>>> = BTreeMap::new();
        for id in &self.ids {
            let bytes = id.as_bytes();
            let classes = by_length
                .entry(bytes.len())
                .or_insert_with(|| vec![BTreeSet::new(); bytes.len()]);
            for (class, b) in classes.iter_mut().zip(bytes) {
                class.insert(*b);
            }
        }
        by_length
            .values()
            .map(|classes| {
                // Every prefix has a `:` before its id: anchoring there lets the
                // server skip most positions at the first character.
                let mut pattern = String::from("*:");
                for class in classes {
                    if class.iter().any(|b| !b.is_ascii()) {
                        // Part of a multi-byte character: any byte will do here
                        // (the pattern stays text, and `matches` decides).
                        pattern.push('?');
                        continue;
                    }
                    pattern.push('[');
                    // Escaped one by one, so `-`, `^`, `]` and `\\` mean themselves.
                    for b in class {
                        pattern.push('\\');
                        pattern.push(char::from(*b));
                    }
                    pattern.push(']');
                }
                pattern.push_str(":*");
                pattern
            })
            .collect()
    }

    /// Whether `key` belongs to one of the families. Prefixes all end at a
    /// `:`, so only the prefixes of `key` ending at one of its colons are tried.
    pub fn matches(&self, key: &str) -> bool {
        self.exact.contains(key)
            || key
                .match_indices(':')
                .any(|(i, _)| self.prefixes.contains(&key[..=i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_match_only_their_entities() {
        let tags: BTreeSet<Tag> = [
            (Kind::Story, "S1".to_string()),
            (Kind::User, "U1".to_string()),
        ]
        .into();
        let f = Families::of(&tags);
        for key in [
            "story:S1",
            "story:S1:chapters:public",
            "community:story:S1:posts:public",
            "user:U1:stories",
            "user:U1:stories:with-first-chapter",
            "stories:published",
            "fictures:studio:story:S1:x",
        ] {
            assert!(f.matches(key), "{key}");
        }
        for key in [
            "story:S2",
            "story:S10",
            "user:U2:stories",
            "session:abc",
            "user:U1:settings",
        ] {
            assert!(!f.matches(key), "{key}");
        }
    }

    #[test]
    fn patterns_cover_prefixed_ids_per_length_with_every_character_escaped() {
        let tags: BTreeSet<Tag> = [
            (Kind::Story, "ab".to_string()),
            (Kind::Scene, "a-".to_string()),
            (Kind::User, "u^]x".to_string()),
            // Exact-only families add no pattern.
            (Kind::Part, "zzzzzz".to_string()),
        ]
        .into();
        let patterns = Families::of(&tags).patterns();
        assert_eq!(
            patterns,
            ["*:[\\a][\\-\\b]:*", "*:[\\u][\\^][\\]][\\x]:*"],
            "one pattern per id length, positions merged"
        );
        assert!(Families::of(&BTreeSet::new()).patterns().is_empty());
        // Redis compares bytes: a two-byte character takes two positions.
        let wide: BTreeSet<Tag> = [(Kind::Story, "é1".to_string())].into();
        assert_eq!(Families::of(&wide).patterns(), ["*:??[\\1]:*"]);
    }

    #[test]
    fn exact_keys_are_sorted_and_include_the_global_lists() {
        let tags: BTreeSet<Tag> = [(Kind::Part, "P1".to_string())].into();
        let keys = Families::of(&tags).exact_keys();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!(keys.contains(&"part:P1".to_string()));
        assert!(keys.contains(&"stories:published".to_string()));
    }
}
