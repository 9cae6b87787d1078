//! Fixture time: every timestamp is the seed file's base time plus a fixed
//! offset, so rows are byte-identical on every run and machine.

use std::sync::LazyLock;

use chrono::format::{Item, StrftimeItems};
use chrono::{NaiveDateTime, TimeDelta};

const FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

pub fn parse_base(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, FORMAT).ok()
}

/// `base + minutes`, written the way PostgreSQL's `to_json` writes a
/// `timestamp without time zone`, so desired and stored values compare as text.
pub fn at(base: NaiveDateTime, minutes: i64) -> String {
    // The format parsed once: a scale seed writes millions of times.
    static ITEMS: LazyLock<Vec<Item<'static>>> =
        LazyLock::new(|| StrftimeItems::new(FORMAT).collect());
    (base + TimeDelta::minutes(minutes))
        .format_with_items(ITEMS.iter())
        .to_string()
}

/// Whether a cached JS date (`2026-01-05T09:00:00.000Z`) and a stored
/// timestamp (`2026-01-05T09:00:00`) are the same instant, both read as UTC.
pub fn same_instant(cached: &str, stored: &str) -> bool {
    let cached = chrono::DateTime::parse_from_rfc3339(cached)
        .map(|d| d.naive_utc())
        .or_else(|_| NaiveDateTime::parse_from_str(cached, "%Y-%m-%dT%H:%M:%S%.f"));
    let stored = NaiveDateTime::parse_from_str(stored, "%Y-%m-%dT%H:%M:%S%.f");
    matches!((cached, stored), (Ok(a), Ok(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_the_base_plus_minutes_in_postgres_json_form() {
        let base = parse_base("2026-01-05T09:00:00").unwrap();
        assert_eq!(at(base, 0), "2026-01-05T09:00:00");
        assert_eq!(at(base, 24 * 60 + 1), "2026-01-06T09:01:00");
        assert!(parse_base("2026-01-05 09:00").is_none());
    }

    #[test]
    fn a_cached_js_date_and_a_stored_timestamp_compare_as_instants() {
        assert!(same_instant(
            "2026-01-05T09:00:00.000Z",
            "2026-01-05T09:00:00"
        ));
        assert!(same_instant(
            "2026-01-05T10:00:00+01:00",
            "2026-01-05T09:00:00"
        ));
        assert!(!same_instant(
            "2026-01-05T09:00:01.000Z",
            "2026-01-05T09:00:00"
        ));
        assert!(!same_instant("yesterday", "2026-01-05T09:00:00"));
    }
}
