//! The PostgreSQL schema and its migration runner against a real server
//! (`buildsnap-pg-cluster`, on 127.0.0.1), a fresh database per test, and
//! the check that keeps the PostgreSQL schema equal to SQLite's.
//!
//! Each test starts its own cluster, so that one failing does not take the
//! others with it (the harness warns against a cluster kept in a static).
//! Without PostgreSQL binaries and with `CI` unset, each test prints the
//! harness's notice and returns; with `CI` set they fail.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::{Arc, Barrier};

use buildsnap_pg_cluster::PgCluster;
use buildsnap_store::{POSTGRES_SCHEMA_VERSION, StoreError, migrate_postgres};
use postgres::{Client, NoTls};

/// The runner's own table, which has no SQLite counterpart.
const VERSION_TABLE: &str = "buildsnap_schema";

fn connect(url: &str) -> Client {
    Client::connect(url, NoTls).unwrap_or_else(|e| panic!("connecting to {url}: {e}"))
}

/// `(version, applied_at)` of every row of the version table, in order.
fn version_rows(client: &mut Client) -> Vec<(i64, String)> {
    client
        .query(
            "SELECT version, applied_at::text FROM buildsnap_schema ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// The (table, column) pairs of schema public: what the baseline creates,
/// so a second run of it, or a partial one left behind, would show here.
fn table_columns(client: &mut Client) -> Vec<(String, String)> {
    client
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' ORDER BY 1, 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn all_versions() -> Vec<i64> {
    (1..=POSTGRES_SCHEMA_VERSION).collect()
}

#[test]
fn a_fresh_database_migrates_once() {
    let Some(cluster) = PgCluster::start().expect("start the cluster") else {
        return;
    };
    let url = cluster.create_database("fresh").unwrap();
    let mut client = connect(&url);

    assert_eq!(
        migrate_postgres(&mut client).unwrap(),
        POSTGRES_SCHEMA_VERSION
    );
    let rows = version_rows(&mut client);
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), all_versions());
    let tables = table_columns(&mut client);
    assert!(tables.iter().any(|(t, c)| t == "deploys" && c == "sha"));

    // Again, on the same connection and on a new one: nothing is applied,
    // the rows (and their applied_at) stay as they were.
    assert_eq!(
        migrate_postgres(&mut client).unwrap(),
        POSTGRES_SCHEMA_VERSION
    );
    let mut other = connect(&url);
    assert_eq!(
        migrate_postgres(&mut other).unwrap(),
        POSTGRES_SCHEMA_VERSION
    );
    assert_eq!(version_rows(&mut client), rows);
    assert_eq!(table_columns(&mut client), tables);
}

/// Migrates database `url` from `REPLICAS` connections at once, checks that
/// each succeeded and that every version was applied exactly once.
fn migrate_at_once(url: &str) {
    const REPLICAS: usize = 4;
    let barrier = Arc::new(Barrier::new(REPLICAS));
    let threads: Vec<_> = (0..REPLICAS)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let mut client = connect(url);
            std::thread::spawn(move || {
                barrier.wait();
                migrate_postgres(&mut client)
            })
        })
        .collect();
    for t in threads {
        let version = t.join().expect("migrating thread panicked");
        assert_eq!(version.unwrap(), POSTGRES_SCHEMA_VERSION);
    }
    // One row per version: a second baseline would have failed on its
    // first CREATE TABLE, and the primary key refuses a version twice.
    let mut client = connect(url);
    let versions: Vec<i64> = version_rows(&mut client).iter().map(|r| r.0).collect();
    assert_eq!(versions, all_versions());
}

#[test]
fn replicas_migrating_at_once_apply_each_version_once() {
    let Some(cluster) = PgCluster::start().expect("start the cluster") else {
        return;
    };
    migrate_at_once(&cluster.create_database("concurrent").unwrap());
}

/// The runner asks for READ COMMITTED itself: under a database default of
/// REPEATABLE READ, a replica that waited for the lock would read the
/// version from a snapshot taken before the winner committed, and run the
/// baseline again.
#[test]
fn replicas_migrate_at_once_under_a_repeatable_read_default() {
    let Some(cluster) = PgCluster::start().expect("start the cluster") else {
        return;
    };
    let url = cluster.create_database("concurrent_rr").unwrap();
    connect(&url)
        .batch_execute(
            "ALTER DATABASE concurrent_rr SET default_transaction_isolation TO 'repeatable read'",
        )
        .unwrap();
    let mut client = connect(&url);
    let level: String = client
        .query_one("SHOW default_transaction_isolation", &[])
        .unwrap()
        .get(0);
    assert_eq!(level, "repeatable read");
    migrate_at_once(&url);
}

#[test]
fn a_newer_schema_is_refused_and_left_unchanged() {
    let Some(cluster) = PgCluster::start().expect("start the cluster") else {
        return;
    };
    let url = cluster.create_database("too_new").unwrap();
    let mut client = connect(&url);
    // Marked by a newer buildsnap, its tables unknown to this one: the
    // version table alone (as the runner makes it) is enough to tell.
    let newer = POSTGRES_SCHEMA_VERSION + 1;
    client
        .batch_execute(&format!(
            "CREATE TABLE buildsnap_schema (
                 version     BIGINT PRIMARY KEY,
                 applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
             );
             INSERT INTO buildsnap_schema (version)
                 SELECT generate_series(1, {newer});"
        ))
        .unwrap();
    let rows = version_rows(&mut client);
    let tables = table_columns(&mut client);

    let err = migrate_postgres(&mut client).unwrap_err();
    assert!(
        matches!(err, StoreError::PgSchemaTooNew { found, supported }
            if found == newer && supported == POSTGRES_SCHEMA_VERSION),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!("version {newer}"))
            && message.contains(&format!("({POSTGRES_SCHEMA_VERSION})")),
        "{message}"
    );

    // Nothing changed, and the rollback released the lock: the connection
    // still works and holds no advisory lock.
    assert_eq!(version_rows(&mut client), rows);
    assert_eq!(table_columns(&mut client), tables);
    let held: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(held, 0);
}

/// The baseline runs in the same transaction as the version table's
/// creation: when it fails (here on a table of the same name that is not
/// buildsnap's), nothing of it stays, and the error names the cause.
#[test]
fn a_failed_migration_leaves_nothing_behind() {
    let Some(cluster) = PgCluster::start().expect("start the cluster") else {
        return;
    };
    let url = cluster.create_database("failed").unwrap();
    let mut client = connect(&url);
    client
        .batch_execute("CREATE TABLE deploys (note TEXT)")
        .unwrap();
    let tables = table_columns(&mut client);

    let err = migrate_postgres(&mut client).unwrap_err();
    assert!(matches!(err, StoreError::Postgres(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(r#"relation "deploys" already exists"#),
        "{message}"
    );
    assert_eq!(table_columns(&mut client), tables);
}

/// What the comparison looks at, from either backend, as sets of plain
/// values so that a difference prints as what one side has and the other
/// lacks.
///
/// Indexes: only those the schema creates with `CREATE INDEX`, by name. On
/// SQLite they are the indexes `pragma_index_list` gives origin `c` (which
/// leaves out the `sqlite_autoindex_*` ones behind PRIMARY KEY and UNIQUE);
/// on PostgreSQL, those of `pg_index` that back no PRIMARY KEY, UNIQUE or
/// EXCLUDE constraint (`pg_constraint.conindid`), which leaves out the
/// `*_pkey` and `*_key` indexes PostgreSQL makes and names itself. Those
/// constraints are compared as constraints instead.
#[derive(Debug, Default)]
struct Schema {
    tables: BTreeSet<String>,
    /// (table, column).
    columns: BTreeSet<(String, String)>,
    column_shapes: BTreeSet<ColumnShape>,
    /// (table, key columns in order).
    primary_keys: BTreeSet<(String, Vec<String>)>,
    /// (table, columns in order) of UNIQUE constraints.
    uniques: BTreeSet<(String, Vec<String>)>,
    foreign_keys: BTreeSet<ForeignKey>,
    /// (table, index).
    indexes: BTreeSet<(String, String)>,
    index_shapes: BTreeSet<IndexShape>,
    /// (table, trigger): a trigger keeps data the reads rely on
    /// (`changed_final_builds`), so both backends must have it.
    triggers: BTreeSet<(String, String)>,
}

/// A column beyond its name. The type is in PostgreSQL's words: SQLite
/// INTEGER is `bigint`, BLOB `bytea`, TEXT `text` (on PostgreSQL only with
/// `COLLATE "C"`, the equal of SQLite's BINARY).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ColumnShape {
    table: String,
    column: String,
    ty: String,
    not_null: bool,
    default: Option<String>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    table: String,
    columns: Vec<String>,
    parent: String,
    parent_columns: Vec<String>,
    on_delete: String,
}

/// An index beyond its name. A key is a column name or `(expression)`,
/// with ` DESC` when descending.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct IndexShape {
    index: String,
    unique: bool,
    partial: bool,
    keys: Vec<String>,
}

/// Every row `sql` gives for `arg`, mapped by `f`.
fn sqlite_rows<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    arg: &str,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Vec<T> {
    conn.prepare(sql)
        .unwrap()
        .query_map([arg], f)
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn sqlite_schema(conn: &rusqlite::Connection) -> Schema {
    let mut s = Schema {
        triggers: sqlite_rows(
            conn,
            "SELECT tbl_name, name FROM sqlite_master WHERE type = ?1",
            "trigger",
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .into_iter()
        .collect(),
        ..Default::default()
    };
    let tables: Vec<String> = sqlite_rows(
        conn,
        "SELECT name FROM sqlite_master
         WHERE type = ?1 AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        "table",
        |r| r.get(0),
    );
    for table in tables {
        // Key columns last, in key order.
        let cols: Vec<(String, String, bool, i64, Option<String>)> = sqlite_rows(
            conn,
            "SELECT name, type, \"notnull\", pk, dflt_value FROM pragma_table_info(?1)
             ORDER BY pk, cid",
            &table,
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        );
        let mut pk = Vec::new();
        for (column, ty, not_null, pk_pos, default) in cols {
            let ty = match ty.to_ascii_uppercase().as_str() {
                "INTEGER" => "bigint",
                "TEXT" => "text",
                "BLOB" => "bytea",
                other => panic!(
                    "{table}.{column}: SQLite type {other} has no PostgreSQL type in this test yet"
                ),
            };
            if pk_pos > 0 {
                pk.push(column.clone());
            }
            s.columns.insert((table.clone(), column.clone()));
            s.column_shapes.insert(ColumnShape {
                table: table.clone(),
                column,
                ty: ty.into(),
                // A key column counts as NOT NULL: SQLite would take a NULL
                // in a non-INTEGER key of a rowid table (a legacy quirk the
                // store never uses), PostgreSQL refuses one.
                not_null: not_null || pk_pos > 0,
                default,
            });
        }
        if !pk.is_empty() {
            s.primary_keys.insert((table.clone(), pk));
        }

        let indexes: Vec<(String, bool, String, bool)> = sqlite_rows(
            conn,
            "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1)",
            &table,
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        );
        for (index, unique, origin, partial) in indexes {
            match origin.as_str() {
                "c" => {
                    let keys = sqlite_rows(
                        conn,
                        "SELECT name, \"desc\" FROM pragma_index_xinfo(?1)
                         WHERE key = 1 ORDER BY seqno",
                        &index,
                        |r| {
                            let name: Option<String> = r.get(0)?;
                            let name = name.unwrap_or_else(|| "(expression)".into());
                            Ok(if r.get(1)? {
                                format!("{name} DESC")
                            } else {
                                name
                            })
                        },
                    );
                    s.indexes.insert((table.clone(), index.clone()));
                    s.index_shapes.insert(IndexShape {
                        index,
                        unique,
                        partial,
                        keys,
                    });
                }
                "u" => {
                    let cols = sqlite_rows(
                        conn,
                        "SELECT name FROM pragma_index_info(?1) ORDER BY seqno",
                        &index,
                        |r| r.get(0),
                    );
                    s.uniques.insert((table.clone(), cols));
                }
                // "pk": the key of a WITHOUT ROWID table, compared above.
                _ => {}
            }
        }

        let fk_columns: Vec<(i64, String, String, Option<String>, String)> = sqlite_rows(
            conn,
            "SELECT id, \"table\", \"from\", \"to\", on_delete
             FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
            &table,
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        );
        let mut fks: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for (id, parent, from, to, on_delete) in fk_columns {
            let to = to.unwrap_or_else(|| {
                panic!("{table}: a foreign key to {parent} without columns; name them")
            });
            let fk = fks.entry(id).or_insert_with(|| ForeignKey {
                table: table.clone(),
                columns: vec![],
                parent,
                parent_columns: vec![],
                on_delete,
            });
            fk.columns.push(from);
            fk.parent_columns.push(to);
        }
        s.foreign_keys.extend(fks.into_values());
        s.tables.insert(table);
    }
    s
}

fn pg_schema(client: &mut Client) -> Schema {
    let mut s = Schema::default();
    for r in client
        .query(
            "SELECT DISTINCT event_object_table::text, trigger_name::text
             FROM information_schema.triggers WHERE trigger_schema = 'public'",
            &[],
        )
        .unwrap()
    {
        s.triggers.insert((r.get(0), r.get(1)));
    }
    for r in client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> $1",
            &[&VERSION_TABLE],
        )
        .unwrap()
    {
        s.tables.insert(r.get(0));
    }
    for r in client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, collation_name::text,
                    is_nullable::text = 'NO', column_default::text
             FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name <> $1",
            &[&VERSION_TABLE],
        )
        .unwrap()
    {
        let (table, column): (String, String) = (r.get(0), r.get(1));
        let data_type: String = r.get(2);
        let collation: Option<String> = r.get(3);
        let ty = match (data_type.as_str(), collation.as_deref()) {
            ("text", Some("C")) => "text".to_string(),
            ("text", other) => format!("text with collation {other:?}, not \"C\""),
            (other, _) => other.to_string(),
        };
        // PostgreSQL shows a text default with its type: 'ok'::text.
        let default: Option<String> = r.get(5);
        let default = default.map(|d| d.strip_suffix("::text").unwrap_or(&d).to_string());
        s.columns.insert((table.clone(), column.clone()));
        s.column_shapes.insert(ColumnShape {
            table,
            column,
            ty,
            not_null: r.get(4),
            default,
        });
    }
    // Constraints with their columns in order.
    let constraint_columns = "ARRAY(SELECT a.attname::text
                 FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                 ORDER BY k.ord)";
    let referenced_columns = "ARRAY(SELECT a.attname::text
                 FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum
                 ORDER BY k.ord)";
    for r in client
        .query(
            &format!(
                "SELECT c.contype::text, t.relname::text, {constraint_columns},
                        f.relname::text, {referenced_columns}, c.confdeltype::text
                 FROM pg_constraint c
                 JOIN pg_class t ON t.oid = c.conrelid
                 JOIN pg_namespace n ON n.oid = t.relnamespace
                 LEFT JOIN pg_class f ON f.oid = c.confrelid
                 WHERE n.nspname = 'public' AND t.relname <> $1 AND c.contype IN ('p', 'u', 'f')"
            ),
            &[&VERSION_TABLE],
        )
        .unwrap()
    {
        let (kind, table, cols): (String, String, Vec<String>) = (r.get(0), r.get(1), r.get(2));
        match kind.as_str() {
            "p" => {
                s.primary_keys.insert((table, cols));
            }
            "u" => {
                s.uniques.insert((table, cols));
            }
            _ => {
                let on_delete = match r.get::<_, String>(5).as_str() {
                    "a" => "NO ACTION",
                    "r" => "RESTRICT",
                    "c" => "CASCADE",
                    "n" => "SET NULL",
                    "d" => "SET DEFAULT",
                    other => panic!("unknown confdeltype {other}"),
                };
                s.foreign_keys.insert(ForeignKey {
                    table,
                    columns: cols,
                    parent: r.get(3),
                    parent_columns: r.get(4),
                    on_delete: on_delete.into(),
                });
            }
        }
    }
    for r in client
        .query(
            "SELECT t.relname::text, i.relname::text, x.indisunique, x.indpred IS NOT NULL,
                    ARRAY(SELECT CASE WHEN k.attnum = 0 THEN '(expression)' ELSE a.attname::text END
                                 || CASE WHEN x.indoption[(k.ord - 1)::int] & 1 = 1 THEN ' DESC' ELSE '' END
                          FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
                          LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
                          WHERE k.ord <= x.indnkeyatts
                          ORDER BY k.ord)
             FROM pg_index x
             JOIN pg_class i ON i.oid = x.indexrelid
             JOIN pg_class t ON t.oid = x.indrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE n.nspname = 'public' AND t.relname <> $1
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                               WHERE c.conindid = x.indexrelid AND c.contype IN ('p', 'u', 'x'))",
            &[&VERSION_TABLE],
        )
        .unwrap()
    {
        let (table, index): (String, String) = (r.get(0), r.get(1));
        s.indexes.insert((table, index.clone()));
        s.index_shapes.insert(IndexShape {
            index,
            unique: r.get(2),
            partial: r.get(3),
            keys: r.get(4),
        });
    }
    s
}

/// What each side has that the other lacks, or `None` when they agree.
fn difference<T: Ord + Debug>(
    what: &str,
    sqlite: &BTreeSet<T>,
    pg: &BTreeSet<T>,
) -> Option<String> {
    let only_sqlite: Vec<_> = sqlite.difference(pg).collect();
    let only_pg: Vec<_> = pg.difference(sqlite).collect();
    (!only_sqlite.is_empty() || !only_pg.is_empty()).then(|| {
        format!("{what}:\n  only in SQLite: {only_sqlite:?}\n  only in PostgreSQL: {only_pg:?}")
    })
}

/// The PostgreSQL schema at its latest version is the SQLite schema at its
/// latest: a SQLite migration without its PostgreSQL counterpart (or the
/// reverse) fails here. CHECK constraints are not compared: SQLite keeps
/// them only in the text of its CREATE TABLE.
#[test]
fn the_postgres_schema_matches_sqlite() {
    let Some(cluster) = PgCluster::start().expect("start the cluster") else {
        return;
    };
    let url = cluster.create_database("schema_parity").unwrap();
    let mut client = connect(&url);
    migrate_postgres(&mut client).unwrap();
    let pg = pg_schema(&mut client);

    let dir = tempfile::tempdir().unwrap();
    let store = common::open(dir.path());
    let conn = rusqlite::Connection::open_with_flags(
        store.path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let sqlite = sqlite_schema(&conn);
    assert!(sqlite.tables.contains("deploys"), "{:?}", sqlite.tables);

    // Every difference at once, names first: a missing table or column is
    // the likeliest mistake, and explains the differences after it.
    let differences: Vec<String> = [
        difference("tables", &sqlite.tables, &pg.tables),
        difference("columns", &sqlite.columns, &pg.columns),
        difference("indexes", &sqlite.indexes, &pg.indexes),
        difference("triggers", &sqlite.triggers, &pg.triggers),
        difference(
            "column types, NOT NULL or defaults",
            &sqlite.column_shapes,
            &pg.column_shapes,
        ),
        difference("primary keys", &sqlite.primary_keys, &pg.primary_keys),
        difference("unique constraints", &sqlite.uniques, &pg.uniques),
        difference("foreign keys", &sqlite.foreign_keys, &pg.foreign_keys),
        difference(
            "index columns, uniqueness or partiality",
            &sqlite.index_shapes,
            &pg.index_shapes,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(
        differences.is_empty(),
        "the PostgreSQL schema differs from SQLite's in\n{}",
        differences.join("\n")
    );
}
