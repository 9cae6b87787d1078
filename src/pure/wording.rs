//! How counts read in messages and reports: `1 finding`, `2 findings`.

/// `1 finding`, `2 findings`: a count with its noun in agreement.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_in_number() {
        assert_eq!(count(0, "finding"), "0 findings");
        assert_eq!(count(1, "round trip"), "1 round trip");
        assert_eq!(count(2, "Redis command"), "2 Redis commands");
    }
}
