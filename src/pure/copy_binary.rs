//! COPY's binary format for load-test rows. PostgreSQL, the slower side of a
//! scale seed, then scans no text for delimiters and escapes and parses no
//! numbers or times. Only columns of the types below are encoded this way.

use chrono::{NaiveDate, NaiveTime};
use serde_json::Value;

use crate::pure::catalog::Table;
use crate::pure::fixture::Row;

/// The signature, no flags, no header extension.
pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// A field count of -1 ends the data.
pub const TRAILER: &[u8] = &[0xff, 0xff];

/// How a column's values are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// The bytes COPY's text format would carry, unescaped: text, varchar,
    /// char(n), json and enum labels receive them as their input functions
    /// read text, length limits and padding included.
    Text,
    /// Version byte 1, then the JSON text.
    Jsonb,
    Bool,
    Int2,
    Int4,
    Int8,
    /// Microseconds since 2000-01-01 00:00:00.
    Timestamp,
}

impl Encoding {
    fn of(sql_type: &str, enum_like: bool) -> Option<Encoding> {
        // Arrays (`character varying(50)[]` too) have a binary form of their
        // own, not their text.
        if sql_type.ends_with(']') {
            return None;
        }
        if enum_like {
            return Some(Encoding::Text);
        }
        Some(match sql_type {
            "text" | "json" | "character" => Encoding::Text,
            t if t.starts_with("character varying") || t.starts_with("character(") => {
                Encoding::Text
            }
            "jsonb" => Encoding::Jsonb,
            "boolean" => Encoding::Bool,
            "smallint" => Encoding::Int2,
            "integer" => Encoding::Int4,
            "bigint" => Encoding::Int8,
            "timestamp without time zone" => Encoding::Timestamp,
            _ => return None,
        })
    }
}

/// The binary encoding of some columns of one table.
#[derive(Debug, Clone)]
pub struct Binary {
    encodings: Vec<Encoding>,
}

impl Binary {
    /// The encoding of `columns` of `table`, or `None` when one of them has
    /// a type not listed here (that table is sent as text).
    pub fn for_columns(table: &Table, columns: &[String]) -> Option<Binary> {
        let encodings = columns
            .iter()
            .map(|name| {
                let column = table.column(name)?;
                Encoding::of(column.value_type(), column.labels.is_some())
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Binary { encodings })
    }

    /// Appends `row` as one tuple; a value its column's encoding cannot
    /// carry exactly (a number as text for an integer, say) is an error
    /// naming the column, and `out` is left as it was. Fields are written
    /// straight into `out`, their lengths filled in after: a scale seed
    /// encodes millions, and the scenes' text is most of its bytes.
    pub fn row(&self, columns: &[String], row: &Row, out: &mut Vec<u8>) -> Result<(), String> {
        let start = out.len();
        let written = self.fields(columns, row, out);
        if written.is_err() {
            out.truncate(start);
        }
        written
    }

    fn fields(&self, columns: &[String], row: &Row, out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(&(self.encodings.len() as i16).to_be_bytes());
        for (name, encoding) in columns.iter().zip(&self.encodings) {
            let value = match row.get(name) {
                None | Some(Value::Null) => {
                    out.extend_from_slice(&(-1i32).to_be_bytes());
                    continue;
                }
                Some(v) => v,
            };
            let misfit = || format!("{name} = {value}");
            let int = |bits: u32| {
                let limit = 1i128 << (bits - 1);
                value
                    .as_i64()
                    .filter(|n| (-limit..limit).contains(&i128::from(*n)))
                    .ok_or_else(misfit)
            };
            let at = out.len();
            out.extend_from_slice(&[0; 4]);
            match encoding {
                Encoding::Text => text_into(value, out),
                Encoding::Jsonb => {
                    out.push(1);
                    text_into(value, out);
                }
                Encoding::Bool => out.push(u8::from(value.as_bool().ok_or_else(misfit)?)),
                Encoding::Int2 => out.extend_from_slice(&(int(16)? as i16).to_be_bytes()),
                Encoding::Int4 => out.extend_from_slice(&(int(32)? as i32).to_be_bytes()),
                Encoding::Int8 => out.extend_from_slice(&int(64)?.to_be_bytes()),
                Encoding::Timestamp => {
                    let micros = value
                        .as_str()
                        .and_then(micros_since_2000)
                        .ok_or_else(misfit)?;
                    out.extend_from_slice(&micros.to_be_bytes());
                }
            }
            let length = (out.len() - at - 4) as i32;
            out[at..at + 4].copy_from_slice(&length.to_be_bytes());
        }
        Ok(())
    }
}

/// Appends a value as COPY's text format carries it, before escaping.
fn text_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        v => out.extend_from_slice(v.to_string().as_bytes()),
    }
}

/// A timestamp as the fixture writes it (`2026-01-05T09:00:00`, or with a
/// space, fractions of up to microseconds), in PostgreSQL's binary form:
/// microseconds since 2000-01-01. Read by hand, as chrono's format parser
/// was a tenth of a scale seed's generating time. Anything else, zones
/// included, is left to PostgreSQL's own parser.
fn micros_since_2000(text: &str) -> Option<i64> {
    const Y2K_IN_UNIX_MICROS: i64 = 946_684_800_000_000;
    let b = text.as_bytes();
    let shaped = b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b' ')
        && b[13] == b':'
        && b[16] == b':';
    if !shaped {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u32> {
        text.get(from..to)?.bytes().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let micros = match b.len() {
        19 => 0,
        21..=26 if b[19] == b'.' => number(20, b.len())? * 10u32.pow(26 - b.len() as u32),
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(number(0, 4)? as i32, number(5, 7)?, number(8, 10)?)?;
    let time =
        NaiveTime::from_hms_micro_opt(number(11, 13)?, number(14, 16)?, number(17, 19)?, micros)?;
    Some(date.and_time(time).and_utc().timestamp_micros() - Y2K_IN_UNIX_MICROS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::catalog::Column;
    use serde_json::json;

    fn column(name: &str, sql_type: &str) -> Column {
        Column {
            name: name.to_string(),
            sql_type: sql_type.to_string(),
            not_null: false,
            has_default: false,
            labels: None,
            base_type: None,
            generated: false,
            max_length: None,
        }
    }

    fn table(columns: Vec<Column>) -> Table {
        Table {
            name: "t".to_string(),
            sql_name: "t".to_string(),
            partitioned: false,
            columns,
            primary_key: None,
            unique: Vec::new(),
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tables_with_a_type_not_listed_are_left_to_text() {
        let mut status = column("status", "story_status");
        status.labels = Some(vec!["draft".to_string()]);
        let mut email = column("email", "email_address");
        email.base_type = Some("character varying(255)".to_string());
        let t = table(vec![
            column("id", "text"),
            status,
            email,
            column("at", "timestamp with time zone"),
            column("tags", "text[]"),
            column("codes", "character varying(50)[]"),
            column("flags", "character(3)[]"),
        ]);
        assert!(Binary::for_columns(&t, &names(&["id", "status", "email"])).is_some());
        assert!(Binary::for_columns(&t, &names(&["id", "at"])).is_none());
        assert!(Binary::for_columns(&t, &names(&["id", "tags"])).is_none());
        assert!(Binary::for_columns(&t, &names(&["id", "codes"])).is_none());
        assert!(Binary::for_columns(&t, &names(&["id", "flags"])).is_none());
        assert!(Binary::for_columns(&t, &names(&["missing"])).is_none());
    }

    #[test]
    fn rows_are_encoded_field_by_field() {
        let t = table(vec![
            column("id", "text"),
            column("n", "integer"),
            column("ok", "boolean"),
            column("at", "timestamp without time zone"),
            column("doc", "jsonb"),
            column("gone", "bigint"),
        ]);
        let cols = names(&["id", "n", "ok", "at", "doc", "gone"]);
        let binary = Binary::for_columns(&t, &cols).unwrap();
        let row: Row = json!({
            "id": "a\tb", "n": -2, "ok": true, "at": "2000-01-01T00:00:01.5",
            "doc": {"k": 1}, "gone": null
        })
        .as_object()
        .unwrap()
        .clone();
        let mut out = Vec::new();
        binary.row(&cols, &row, &mut out).unwrap();
        let mut expected = vec![0, 6];
        expected.extend([0, 0, 0, 3, b'a', b'\t', b'b']);
        expected.extend([0, 0, 0, 4, 0xff, 0xff, 0xff, 0xfe]);
        expected.extend([0, 0, 0, 1, 1]);
        expected.extend([0, 0, 0, 8]);
        expected.extend(1_500_000i64.to_be_bytes());
        expected.extend([0, 0, 0, 8, 1]);
        expected.extend(br#"{"k":1}"#);
        expected.extend([0xff, 0xff, 0xff, 0xff]);
        assert_eq!(out, expected);
    }

    #[test]
    fn values_binary_cannot_carry_exactly_are_errors() {
        let t = table(vec![
            column("n", "smallint"),
            column("at", "timestamp without time zone"),
        ]);
        let cols = names(&["n", "at"]);
        let binary = Binary::for_columns(&t, &cols).unwrap();
        let fails = |v: Value| {
            let row: Row = v.as_object().unwrap().clone();
            binary.row(&cols, &row, &mut Vec::new())
        };
        assert!(fails(json!({"n": 32767, "at": "1999-12-31 23:59:59"})).is_ok());
        assert!(fails(json!({"n": -32768})).is_ok());
        assert_eq!(fails(json!({"n": 32768})), Err("n = 32768".to_string()));
        let mut out = vec![7u8];
        let misfit: Row = json!({"n": 1, "at": "soon"}).as_object().unwrap().clone();
        assert!(binary.row(&cols, &misfit, &mut out).is_err());
        assert_eq!(out, [7], "a row that does not fit leaves nothing behind");
        assert!(fails(json!({"n": "5"})).is_err());
        assert!(fails(json!({"at": "2026-01-05T09:00:00+02:00"})).is_err());
        assert!(fails(json!({"at": "2026-01-05T09:00:00.0000001"})).is_err());
        assert!(fails(json!({"at": "2026-02-30T09:00:00"})).is_err());
        assert!(fails(json!({"at": "2026-01-05T09:00:00."})).is_err());
        assert!(fails(json!({"at": "2026-01-05"})).is_err());
    }

    #[test]
    fn timestamps_count_microseconds_from_2000() {
        assert_eq!(micros_since_2000("2000-01-01T00:00:00"), Some(0));
        assert_eq!(micros_since_2000("1999-12-31 23:59:59.999999"), Some(-1));
        assert_eq!(
            micros_since_2000("2000-01-02T00:00:00.25"),
            Some(86_400_250_000)
        );
        assert_eq!(
            micros_since_2000("2026-01-05T09:00:00"),
            Some((26 * 365 + 7 + 4) * 86_400_000_000 + 9 * 3_600_000_000)
        );
    }
}
