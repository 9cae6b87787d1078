//! Fits the canonical fixture to the target's catalog before anything is
//! written: drops optional columns the table lacks (with a note), and stops
//! with a schema error naming the table and column for anything it cannot fit.

use serde_json::Value;

use crate::catalog::{Catalog, Table};
use crate::error::{Failure, Result};
use crate::fixture::{Fixture, TableRows};

/// Checks and adapts `fixture` in place; returns notes about skipped columns.
pub fn fit(fixture: &mut Fixture, catalog: &Catalog) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for rows in &mut fixture.tables {
        let table = catalog.table(&rows.table).ok_or_else(|| {
            Failure::schema(format!(
                "table `{}` is missing from the database; the fixture needs it: point --database-url at the app's database (or run `fictures-seed migrate` on a local one)",
                rows.table
            ))
        })?;
        drop_missing_columns(rows, table, &mut notes)?;
        if !table.has_unique(&rows.key) {
            return Err(Failure::schema(format!(
                "table `{}` has no primary key or unique index on ({}); the fixture identifies its rows by it, so add one",
                rows.table,
                rows.key.join(", ")
            )));
        }
        check_required_columns(rows, table)?;
        check_values(rows, table)?;
    }
    Ok(notes)
}

fn drop_missing_columns(
    rows: &mut TableRows,
    table: &Table,
    notes: &mut Vec<String>,
) -> Result<()> {
    for column in rows.columns() {
        if table.column(&column).is_some() {
            continue;
        }
        if rows.required.contains(&column) || rows.key.contains(&column) {
            return Err(Failure::schema(format!(
                "column `{}.{column}` is missing from the database and the fixture cannot do without it; check that --database-url points at the app's database",
                rows.table
            )));
        }
        notes.push(format!(
            "{}.{column} does not exist in this database; the fixture skips it",
            rows.table
        ));
        for row in &mut rows.rows {
            row.values.remove(&column);
        }
    }
    Ok(())
}

fn check_required_columns(rows: &TableRows, table: &Table) -> Result<()> {
    if rows.rows.is_empty() {
        return Ok(());
    }
    let set = rows.columns();
    for column in &table.columns {
        if column.not_null && !column.has_default && !set.contains(&column.name) {
            return Err(Failure::schema(format!(
                "column `{}.{}` ({}) is NOT NULL without a default, and the seed file gives it no value; add a value for it in the seed file",
                table.name, column.name, column.sql_type
            )));
        }
    }
    Ok(())
}

fn check_values(rows: &TableRows, table: &Table) -> Result<()> {
    for row in &rows.rows {
        for (name, value) in &row.values {
            let Some(column) = table.column(name) else {
                continue;
            };
            let Value::String(text) = value else { continue };
            if let Some(labels) = &column.labels
                && !labels.contains(text)
            {
                return Err(Failure::schema(format!(
                    "`{}.{name}` is of type {} whose labels are {}, but the fixture writes `{text}` (row {}); name one of those labels in the seed file",
                    table.name,
                    column.sql_type,
                    labels.join(", "),
                    rows.key_of(&row.values)
                )));
            }
            if let Some(max) = column.max_length {
                let len = text.chars().count();
                if len > max as usize {
                    return Err(Failure::schema(format!(
                        "`{}.{name}` holds at most {max} characters, but the fixture writes {len} (row {}); shorten it in the seed file",
                        table.name,
                        rows.key_of(&row.values)
                    )));
                }
            }
        }
    }
    Ok(())
}
