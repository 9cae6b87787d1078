//! Builders for unit tests of the pure core: the canonical fixture built
//! without reading the environment, and catalogs made in code, so no test
//! here needs a server.

use std::collections::BTreeMap;

use crate::pure::catalog::{Catalog, Column, ForeignKey, Table};
use crate::pure::credentials::Credentials;
use crate::pure::fixture::{self, Fixture};
use crate::pure::seedfile::{self, SeedFile};

/// The built-in seed file.
pub fn file() -> SeedFile {
    seedfile::built_in().expect("the built-in seed file is valid")
}

/// The built-in seed file with `edit` applied to its text.
pub fn file_with(edit: impl Fn(String) -> String) -> SeedFile {
    seedfile::parse(&edit(seedfile::BUILT_IN.to_string()), "test")
        .expect("the edited file is valid")
}

/// The canonical fixture of `file`, with no passwords and no key secret.
pub fn fixture_of(file: &SeedFile) -> Fixture {
    fixture::build(
        file,
        &fixture::created_accounts(file),
        0,
        &Credentials::default(),
    )
}

pub fn fixture() -> Fixture {
    fixture_of(&file())
}

/// A nullable column without a default.
pub fn column(name: &str, sql_type: &str) -> Column {
    Column {
        name: name.into(),
        sql_type: sql_type.into(),
        not_null: false,
        has_default: false,
        labels: None,
        max_length: None,
        base_type: None,
        generated: false,
    }
}

/// A NOT NULL column without a default: one the fixture must fill.
pub fn required(name: &str, sql_type: &str) -> Column {
    Column {
        not_null: true,
        ..column(name, sql_type)
    }
}

pub fn table(name: &str, columns: Vec<Column>, key: &[&str]) -> Table {
    let key: Vec<String> = key.iter().map(|k| k.to_string()).collect();
    Table {
        name: name.into(),
        sql_name: crate::pure::sql::ident(name),
        partitioned: false,
        columns,
        primary_key: (!key.is_empty()).then(|| key.clone()),
        unique: if key.is_empty() { vec![] } else { vec![key] },
    }
}

pub fn foreign_key(table: &str, columns: &[&str], ref_table: &str, on_delete: &str) -> ForeignKey {
    ForeignKey {
        table: table.into(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        ref_table: ref_table.into(),
        ref_columns: vec!["id".into()],
        on_delete: on_delete.into(),
    }
}

/// A catalog holding every table and column `fixture` writes (as nullable
/// text, keyed like the fixture), to which a test adds what it examines.
pub fn catalog_for(fixture: &Fixture) -> Catalog {
    let mut tables = BTreeMap::new();
    for t in &fixture.tables {
        let columns = t.columns().iter().map(|c| column(c, "text")).collect();
        let key: Vec<&str> = t.key.iter().map(String::as_str).collect();
        tables.insert(t.table.clone(), table(&t.table, columns, &key));
    }
    Catalog {
        tables,
        foreign_keys: Vec::new(),
    }
}
