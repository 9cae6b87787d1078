//! Fixture time: every timestamp is the seed file's base time plus a fixed
//! offset, so rows are byte-identical on every run and machine.

use chrono::{NaiveDateTime, TimeDelta};

const FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

pub fn parse_base(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, FORMAT).ok()
}

/// `base + minutes`, written the way PostgreSQL's `to_json` writes a
/// `timestamp without time zone`, so desired and stored values compare as text.
pub fn at(base: NaiveDateTime, minutes: i64) -> String {
    (base + TimeDelta::minutes(minutes))
        .format(FORMAT)
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
