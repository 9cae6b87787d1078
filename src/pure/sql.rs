//! SQL text building: quoting and the few statement shapes the engine uses.
//! Statements go over the simple query protocol (one round trip for several
//! statements, nothing prepared that a transaction pooler could lose), so every
//! value is inlined as a safely quoted literal here and nowhere else.

use serde_json::Value;

use crate::pure::catalog::Table;

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

/// `json_to_record(<source>) AS d("a" type_a, …)` (`json_to_recordset` when
/// `set`): `columns` typed as `table` has them. Only those columns are built,
/// so a constraint on a column the rows do not carry (a NOT NULL domain) is
/// never checked against a NULL, as it would be in the table's whole row type.
pub fn typed_rows(set: bool, source: &str, table: Option<&Table>, columns: &[String]) -> String {
    let typed = columns
        .iter()
        .map(|c| {
            let column = table.and_then(|t| t.column(c));
            // Fitting keeps only columns the table has; text is what a
            // JSON field is when nothing says otherwise.
            let sql_type = column.map_or("text", |c| c.sql_type.as_str());
            format!("{} {sql_type}", ident(c))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let function = if set {
        "json_to_recordset"
    } else {
        "json_to_record"
    };
    format!("{function}({source}) AS d({typed})")
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

/// PostgreSQL passes at most 100 arguments to a function, so no
/// `json_build_object` here ever takes more than 50 pairs.
const PAIRS_PER_CALL: usize = 50;

/// A `json` object of `(key, SQL expression)` pairs, however many: objects
/// wider than one `json_build_object` call are built in chunks and merged.
pub fn object(pairs: &[(String, String)]) -> String {
    let call = |f: &str, chunk: &[(String, String)]| {
        let args = chunk
            .iter()
            .map(|(k, v)| format!("{}, {v}", literal(k)))
            .collect::<Vec<_>>()
            .join(", ");
        format!("{f}({args})")
    };
    if pairs.len() <= PAIRS_PER_CALL {
        return call("json_build_object", pairs);
    }
    let merged = pairs
        .chunks(PAIRS_PER_CALL)
        .map(|chunk| call("jsonb_build_object", chunk))
        .collect::<Vec<_>>()
        .join(" || ");
    format!("({merged})::json")
}

/// `(SELECT json_object_agg(k, v) FROM (VALUES …))`: one `json` object of
/// labelled subquery results, with no limit on their number (a function
/// call would stop at 100 arguments). `'{}'` when there are none.
pub fn labelled(parts: &[(String, String)]) -> String {
    if parts.is_empty() {
        return "'{}'::json".to_string();
    }
    let rows = parts
        .iter()
        .map(|(label, expr)| format!("({}, ({expr})::json)", literal(label)))
        .collect::<Vec<_>>()
        .join(",\n  ");
    format!("(SELECT json_object_agg(k, v) FROM (VALUES {rows}) s(k, v))")
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
    fn wide_objects_are_built_in_calls_of_at_most_fifty_pairs() {
        let pairs: Vec<(String, String)> =
            (0..120).map(|i| (format!("k{i}"), i.to_string())).collect();
        let built = object(&pairs);
        assert_eq!(built.matches("jsonb_build_object(").count(), 3);
        assert!(built.starts_with("(jsonb_build_object(E'k0', 0"));
        assert_eq!(object(&pairs[..2]), "json_build_object(E'k0', 0, E'k1', 1)");
    }

    #[test]
    fn labelled_parts_need_no_function_arguments() {
        assert_eq!(labelled(&[]), "'{}'::json");
        let parts = vec![("a".to_string(), "SELECT 1".to_string())];
        assert_eq!(
            labelled(&parts),
            "(SELECT json_object_agg(k, v) FROM (VALUES (E'a', (SELECT 1)::json)) s(k, v))"
        );
    }

    #[test]
    fn literals_and_identifiers_are_escaped() {
        assert_eq!(literal(r"it's a \ path"), r"E'it''s a \\ path'");
        assert_eq!(ident(r#"odd"name"#), r#""odd""name""#);
    }
}
