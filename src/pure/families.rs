//! The app's Redis key families (cache-keys.md) as data: which keys belong to
//! which fixture entities, as exact keys and as prefixes, and the SCAN MATCH
//! pattern that lets the server find the prefixed ones.

use std::collections::{BTreeSet, HashSet};

use crate::pure::fixture::{Kind, Tag};

/// Lists that can hold any story, dropped whenever a fixture entity changes.
const GLOBAL_LISTS: [&str; 3] = [
    "stories:published",
    "community:stories:all",
    "community:stories:all:optimized",
];

/// Bytes from which a position of the pattern is `?` rather than a class.
/// So wide a class lets most keys through (three quarters of the 64 bytes a
/// nanoid may hold) while Redis reads all of it for each key, a step per
/// range and per other byte; `?` is one step. Thousands of ids (a teardown
/// of load-test stories) fill every class: a pass over a million keys took
/// 3.3 s with the classes written out and 1.3 s with `?`. With ranges,
/// verify's 70 ids still pass fastest with this threshold, and lower ones
/// let hundreds of thousands of candidates through (BENCHMARKS.md).
const WIDE_CLASS: usize = 48;

/// The set of keys belonging to some entities: exact keys and key prefixes.
#[derive(Debug, Default, Clone)]
pub struct Families {
    exact: HashSet<String>,
    prefixes: HashSet<String>,
    /// The length of the shortest family name among the prefixes: bytes
    /// before it are names on every prefix, whatever the ids.
    names: Option<usize>,
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
                    let names = [
                        "story:",
                        "community:story:",
                        "fictures:studio:story:",
                        "fictures:cache-test:story:",
                    ];
                    f.prefix(&names, id, ":");
                }
                Kind::Chapter => {
                    f.exact(&[
                        format!("chapter:{id}"),
                        format!("chapter:scenes:{id}"),
                        format!("comments:chapter:{id}"),
                        format!("comments:chapter:{id}:public"),
                    ]);
                    f.prefix(&["chapter:"], id, ":");
                }
                Kind::Scene => {
                    f.exact(&[
                        format!("scene:{id}"),
                        format!("comments:scene:{id}"),
                        format!("comments:scene:{id}:public"),
                    ]);
                    f.prefix(&["scene:"], id, ":");
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
                    f.prefix(&["user:"], id, ":stories:");
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

    /// Adds `name` + `id` + `rest` for each of `names`.
    fn prefix(&mut self, names: &[&str], id: &str, rest: &str) {
        for name in names {
            self.prefixes.insert(format!("{name}{id}{rest}"));
            self.names = Some(self.names.map_or(name.len(), |n| n.min(name.len())));
        }
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

    /// A SCAN MATCH pattern that every key under a prefix matches, so the
    /// server filters the keyspace and only candidates travel; [`matches`]
    /// then decides. It is anchored at the key's start: for each byte of the
    /// shortest prefix's length, the bytes the prefixes have there, then `*`;
    /// `?` where the prefixes' family names differ, or the bytes are too
    /// many to filter.
    /// Keys of other entities fail a few bytes into their id, and one pass
    /// serves every family; a pattern starting with `*` made Redis try every
    /// position of every key (BENCHMARKS.md has the figures).
    ///
    /// [`matches`]: Families::matches
    pub fn pattern(&self) -> Option<String> {
        let shortest = self.prefixes.iter().map(String::len).min()?;
        // Redis matches patterns byte by byte, so positions are bytes. One
        // walk over the prefixes marks what each position holds: a teardown
        // of load-test stories has hundreds of thousands of them.
        let mut seen = vec![[false; 256]; shortest];
        for p in &self.prefixes {
            for (at, b) in p.bytes().take(shortest).enumerate() {
                seen[at][usize::from(b)] = true;
            }
        }
        let names = self.names.unwrap_or(0);
        let mut pattern = String::new();
        for (at, marks) in seen.iter().enumerate() {
            let class: Vec<u8> = (0..=u8::MAX).filter(|b| marks[usize::from(*b)]).collect();
            // Where every prefix is still in its family's name, a class lets
            // every key of the pass's families through whatever its id, and
            // Redis reads all of it for each key: it only stops keys of
            // other shapes, which mostly fail a few bytes on anyway. Part of
            // a multi-byte character, any byte will do (the pattern stays
            // text). `matches` decides either way.
            let names_only = at < names && class.len() > 1;
            if names_only || class.len() >= WIDE_CLASS || class.iter().any(|b| !b.is_ascii()) {
                pattern.push('?');
            } else if let [b] = class[..] {
                push_escaped(&mut pattern, b, b"*?[\\");
            } else {
                push_class(&mut pattern, &class);
            }
        }
        pattern.push('*');
        Some(pattern)
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

/// Pushes `[…]` matching the sorted ASCII bytes of `class`. Redis reads a
/// class whole for every byte it tests, a step per member, and a range
/// `a-z` as one step, a little longer than a member's: so runs of three or
/// more, where that clearly pays, are ranges. Runs stay within the digits,
/// the capitals or the small letters, so a range never ends at a byte the
/// class gives a meaning to.
fn push_class(pattern: &mut String, class: &[u8]) {
    pattern.push('[');
    let mut rest = class;
    while let [first, ..] = rest {
        // Sorted, so a run's bytes are its first plus their place in it.
        let run = rest
            .iter()
            .enumerate()
            .take_while(|&(i, &b)| usize::from(b - first) == i && same_block(*first, b))
            .count();
        if run >= 3 {
            pattern.push(char::from(*first));
            pattern.push('-');
            pattern.push(char::from(rest[run - 1]));
            rest = &rest[run..];
        } else {
            push_escaped(pattern, *first, b"]-^\\");
            rest = &rest[1..];
        }
    }
    pattern.push(']');
}

/// Both digits, both capitals or both small letters.
fn same_block(a: u8, b: u8) -> bool {
    [
        u8::is_ascii_digit,
        u8::is_ascii_uppercase,
        u8::is_ascii_lowercase,
    ]
    .iter()
    .any(|is| is(&a) && is(&b))
}

/// Pushes the ASCII byte `b`, after a backslash when it is one of `special`.
fn push_escaped(pattern: &mut String, b: u8, special: &[u8]) {
    if special.contains(&b) {
        pattern.push('\\');
    }
    pattern.push(char::from(b));
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
    fn the_pattern_is_anchored_and_takes_each_prefix_byte_at_its_position() {
        let tags: BTreeSet<Tag> = [
            (Kind::Story, "ab".to_string()),
            (Kind::Scene, "a-".to_string()),
            (Kind::User, "u^]x".to_string()),
            // Exact-only families add nothing to it.
            (Kind::Part, "zzzzzz".to_string()),
        ]
        .into();
        // Over `story:ab:` and `scene:a-:`, the shortest prefixes, nine bytes:
        // the four story prefixes, the scene's and the user's give each
        // position its class; `-`, `^` and `]` are escaped inside one. The
        // first five bytes are names on every prefix (`user:` is the
        // shortest name), so any byte passes there.
        assert_eq!(
            Families::of(&tags).pattern().unwrap(),
            r"?????[:nru][\^aei][\-\]bst][:xy]*"
        );
        assert_eq!(Families::of(&BTreeSet::new()).pattern(), None);
        // A position every prefix shares is a plain byte, escaped where the
        // pattern gives it a meaning.
        let lone: BTreeSet<Tag> = [(Kind::User, "?[*\\".to_string())].into();
        assert_eq!(
            Families::of(&lone).pattern().unwrap(),
            r"user:\?\[\*\\:stories:*"
        );
        // Redis compares bytes: a two-byte character takes two positions.
        let wide: BTreeSet<Tag> = [(Kind::User, "é1".to_string())].into();
        assert_eq!(Families::of(&wide).pattern().unwrap(), "user:??1:stories:*");
    }

    #[test]
    fn a_class_of_most_bytes_is_any_byte() {
        let stories = |n: usize| -> BTreeSet<Tag> {
            let ids = ('A'..='Z').chain('a'..='z');
            ids.take(n).map(|c| (Kind::Story, c.to_string())).collect()
        };
        // Over `story:X:`: the ids' byte sits at 6, with `i` of `community:`
        // and `e` of `fictures:`, both among the ids; before it, names.
        let pattern = |n| Families::of(&stories(n)).pattern().unwrap();
        assert_eq!(pattern(47), "??????[A-Za-u][:st]*");
        assert_eq!(pattern(48), "???????[:st]*");
    }

    #[test]
    fn runs_of_letters_or_digits_are_ranges() {
        let class = |bytes: &[u8]| {
            let mut pattern = String::new();
            push_class(&mut pattern, bytes);
            pattern
        };
        assert_eq!(class(b"0123456789ABCabd"), "[0-9A-Cabd]");
        assert_eq!(class(b"0123789ABab"), "[0-37-9ABab]");
        // Two in a row stay members; runs stop at a block's end and never
        // take in punctuation.
        assert_eq!(class(b"-./0129:;AB_`abc"), r"[\-./0-29:;AB_`a-c]");
        assert_eq!(class(b"]^"), r"[\]\^]");
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
