//! What the copy copies: the SQLite database's tables and their columns,
//! read from its own schema, in an order where every table comes after
//! the tables its foreign keys reference.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;

use crate::{Result, StoreError};

/// One table to copy and its columns, in SQLite's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Table {
    /// The table's name (the same in both schemas).
    pub(super) name: String,
    /// Its columns' names.
    pub(super) columns: Vec<String>,
}

impl Table {
    /// The column list, each name quoted, for a statement's text.
    pub(super) fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| quote(c))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `name` as a quoted SQL identifier (the same syntax on both backends).
pub(super) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Every table of `conn`'s database but SQLite's own (`sqlite_*`), each
/// after the tables it references, ties broken by name. Read from the
/// schema, so a migration that adds a table or a column needs no change
/// here.
pub(super) fn tables(conn: &Connection) -> Result<Vec<Table>> {
    let names: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema
             WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
             ORDER BY name",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut columns = BTreeMap::new();
    let mut references = BTreeMap::new();
    for name in &names {
        let cols: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?
            .query_map([name], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let refs: BTreeSet<String> = conn
            .prepare("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1)")?
            .query_map([name], |r| r.get(0))?
            .collect::<rusqlite::Result<BTreeSet<String>>>()?
            .into_iter()
            // A table referencing itself is copied in one statement, whose
            // constraints PostgreSQL checks at its end.
            .filter(|r| r != name)
            .collect();
        columns.insert(name.clone(), cols);
        references.insert(name.clone(), refs);
    }
    let order = foreign_key_order(&references)?;
    Ok(order
        .into_iter()
        .map(|name| Table {
            columns: columns.remove(&name).unwrap_or_default(),
            name,
        })
        .collect())
}

/// The tables of `references` (table -> the tables it references) with
/// each after those it references; among the ready ones, by name.
fn foreign_key_order(references: &BTreeMap<String, BTreeSet<String>>) -> Result<Vec<String>> {
    let mut left = references.clone();
    let mut order = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|(_, refs)| refs.iter().all(|r| !left.contains_key(r)))
            .map(|(t, _)| t.clone())
            .collect();
        if ready.is_empty() {
            return Err(StoreError::Invalid(format!(
                "the SQLite schema's foreign keys form a cycle among {}: no order to copy them in",
                left.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        for t in ready {
            left.remove(&t);
            order.push(t);
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(pairs: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        pairs
            .iter()
            .map(|(t, r)| (t.to_string(), r.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn referenced_tables_come_first_and_cycles_are_refused() {
        let order = foreign_key_order(&refs(&[
            ("a_child", &["orgs", "projects"]),
            ("orgs", &[]),
            ("projects", &["orgs"]),
            ("meta", &[]),
        ]))
        .unwrap();
        assert_eq!(order, ["meta", "orgs", "projects", "a_child"]);
        let e = foreign_key_order(&refs(&[("x", &["y"]), ("y", &["x"]), ("z", &[])]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cycle among x, y"), "{e}");
    }

    #[test]
    fn the_store_schema_is_read_in_foreign_key_order() {
        let tmp = tempfile::tempdir().unwrap();
        let key = crate::SecretKey::generate().unwrap();
        let store = crate::Store::open(tmp.path(), key).unwrap();
        let conn = Connection::open(store.path()).unwrap();
        let tables = tables(&conn).unwrap();
        let at = |n: &str| tables.iter().position(|t| t.name == n).unwrap();
        assert!(at("orgs") < at("projects"));
        assert!(at("projects") < at("code_deployments"));
        assert!(at("code_deployments") < at("deploys"));
        assert!(at("deploys") < at("snapshots"));
        assert!(at("snapshots") < at("snapshot_builds"));
        assert!(at("provider_builds") < at("provider_jobs"));
        assert!(at("alert_hooks") < at("alert_deliveries"));
        assert!(tables.iter().all(|t| !t.name.starts_with("sqlite_")));
        let meta = &tables[at("meta")];
        assert_eq!(meta.columns, ["key", "value"]);
        assert_eq!(meta.column_list(), "\"key\", \"value\"");
    }
}
