//! SQL text building: quoting and the few statement shapes the engine uses.
//! Statements go over the simple query protocol (one round trip for several
//! statements, nothing prepared that a transaction pooler could lose), so every
//! value is inlined as a safely quoted literal here and nowhere else.

use serde_json::Value;

/// `"name"` with embedded quotes doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// An escape-string literal, valid whatever `standard_conforming_strings` is.
pub fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 3);
    out.push_str("E'");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A JSON value as a `json` literal.
pub fn json(value: &Value) -> String {
    format!("{}::json", literal(&value.to_string()))
}

/// `"a", "b"` for a column list, with an optional table alias.
pub fn columns(names: &[String], alias: Option<&str>) -> String {
    names
        .iter()
        .map(|n| match alias {
            Some(a) => format!("{a}.{}", ident(n)),
            None => ident(n),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(SELECT (e->>'a')::type_a, ... FROM json_array_elements(<rows>) e)`: the
/// key tuples of `rows` (a JSON array of objects) typed like the table's columns.
pub fn key_tuples(rows: &Value, key: &[(String, String)]) -> String {
    let fields = key
        .iter()
        .map(|(name, ty)| format!("(e->>{})::{ty}", literal(name)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "(SELECT {fields} FROM json_array_elements({}) e)",
        json(rows)
    )
}

/// `WITH w AS (<statement> RETURNING 1) SELECT <label>, count(*) FROM w`:
/// a write that reports how many rows it touched, labelled for the caller.
pub fn counted(label: &str, statement: &str) -> String {
    format!(
        "WITH w AS ({statement} RETURNING 1) SELECT {}::text AS label, count(*)::bigint AS n FROM w",
        literal(label)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_identifiers_are_escaped() {
        assert_eq!(literal(r"it's a \ path"), r"E'it''s a \\ path'");
        assert_eq!(ident(r#"odd"name"#), r#""odd""name""#);
    }
}
