//! How counts read in messages and reports: `1 finding`, `2 findings`.

/// `1 finding`, `2 findings`: a count with its noun in agreement.
pub fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", agree(n, "", "s"))
}

/// The form of a word that agrees with `n`: `agree(1, "is", "are")`.
pub fn agree<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_in_number() {
        assert_eq!(count(0, "finding"), "0 findings");
        assert_eq!(count(1, "round trip"), "1 round trip");
        assert_eq!(count(2, "Redis command"), "2 Redis commands");
        assert_eq!(agree(1, "hangs", "hang"), "hangs");
        assert_eq!(agree(0, "it", "them"), "them");
    }
}
