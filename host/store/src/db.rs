//! Connections and transactions.
//!
//! Layout: one writer connection behind a mutex, plus a small pool of reader
//! connections. SQLite admits one writer at a time anyway, so a single writer
//! connection costs nothing and makes `BEGIN IMMEDIATE` never wait on a lock
//! held by ourselves; in WAL mode readers never block the writer nor each other,
//! so reads (the API's GETs and every authentication) do not queue behind a
//! write. Callers in async code run these blocking calls in `spawn_blocking`.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::crypto::SecretKey;
use crate::events::{Hub, StoreEvent};
use crate::pg::listen::PgListener;
use crate::sql::Tx;
use crate::{Result, migrations};

/// Most reader connections open at once. They stay open for reuse; a read
/// that finds all of them busy waits for one instead of opening (and then
/// closing) another: opening a connection parses the schema and starts with
/// an empty statement cache, which under load cost more than the reads
/// themselves (docs/performance.md, "HTTP API"). SQLite reads are CPU-bound,
/// so a few more readers than cores is enough.
const MAX_READERS: usize = 8;

/// The reader pool: idle connections and how many exist (idle or lent).
#[derive(Default)]
struct Readers {
    idle: Vec<Connection>,
    open: usize,
    /// Reads waiting for a reader. Counted so that giving a reader back
    /// wakes the condvar only when someone waits: std's `notify_one` is a
    /// `futex` syscall even with no waiter, once per read otherwise.
    waiting: usize,
}

/// A reader lent to one `read`; gives it back (or, after a panic, closes it)
/// when dropped, and wakes one waiting reader.
struct Lease<'a> {
    db: &'a Db,
    conn: Option<Connection>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let (readers, reader_free) = self.db.readers();
        let mut r = readers.lock().unwrap_or_else(|e| e.into_inner());
        match self.conn.take() {
            Some(c) if !std::thread::panicking() => r.idle.push(c),
            _ => r.open -= 1,
        }
        let wake = r.waiting > 0;
        drop(r);
        if wake {
            reader_free.notify_one();
        }
    }
}

pub(crate) struct Db {
    pub(crate) path: PathBuf,
    /// Principals of tokens already authenticated, by token hash: spares a
    /// database round trip on every request. Only successful lookups are
    /// cached (unknown tokens cannot grow it); any write that changes or
    /// removes a stored token hash must clear it.
    pub(crate) auth_cache: Mutex<std::collections::HashMap<[u8; 32], crate::Principal>>,
    conns: Conns,
    pub(crate) key: SecretKey,
    /// Who hears this store's events ([`crate::events`]).
    events: Arc<Hub>,
    /// PostgreSQL: where the listener connects, and the listener once the
    /// first subscriber started it. `None` on SQLite.
    listener: Option<(crate::pg::connect::Target, Mutex<Option<PgListener>>)>,
}

/// The connections of a [`Db`], by backend.
enum Conns {
    Sqlite {
        writer: Mutex<Connection>,
        readers: Mutex<Readers>,
        reader_free: Condvar,
    },
    Pg(crate::pg::pool::Pool),
}

/// Makes `path` owner-only (0600), creating it empty with that mode first
/// when `create` is set. The database, its `-wal` and its `-shm` hold token
/// hashes and ciphertexts. SQLite creates the `-wal` and `-shm` files (lazily,
/// on first use) with the database file's mode, so a database that is 0600
/// before SQLite first opens it never has a readable WAL, whatever the umask;
/// chmod after the fact would leave a window.
fn owner_only(path: &Path, create: bool) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if create {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)?;
        }
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if !create && e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, create);
        Ok(())
    }
}

/// Per-connection settings.
// sqlite-only: pragmas and the busy timeout are SQLite's connection
// settings. A PostgreSQL connection needs none of them (durability and the
// WAL are the server's, foreign keys are always enforced, a writer waits on
// row locks, not a file lock).
fn configure(conn: &Connection) -> Result<()> {
    // WAL: readers and the writer do not block each other, and a commit is one
    // append to the -wal file.
    //
    // synchronous=NORMAL (not FULL): in WAL mode a transaction is in the -wal
    // file (in the OS page cache) when COMMIT returns, so it survives the
    // process being killed (`kill -9`, panic, OOM): the kernel still writes the
    // page cache out. What NORMAL gives up is only the last transactions before
    // an operating-system crash or power loss (the database stays consistent).
    // FULL would fsync on every commit, a few ms each on ordinary disks, which
    // caps deploy registrations at a few hundred per second; the tested
    // guarantee here is "acknowledged write survives the process being killed".
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted content (an erased ciphertext of a disabled integration) is
    // overwritten with zeros rather than left in free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // Memory-mapped reads: a reader whose page cache was invalidated by a
    // write re-reads pages without a read() syscall each. Address space, not
    // memory (mapped pages are the OS page cache); SQLite caps the request at
    // its compile-time limit, about 2 GiB. Pages past the mapped size are
    // read with pread(): with 100,000 deploys (2.4 GB) and a 256 MiB map,
    // that was two syscalls per `GET .../builds`.
    conn.pragma_update(None, "mmap_size", 2i64 << 30)?;
    Ok(())
}

impl Db {
    pub(crate) fn open(path: &Path, key: SecretKey) -> Result<Db> {
        owner_only(path, true)?;
        let mut writer = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&writer)?;
        migrations::apply(&mut writer)?;
        // Start with an empty -wal: pages still in the WAL are read with a
        // pread() each (only the database file is memory-mapped), and a WAL
        // left large by a bulk write or a migration stays in use until the
        // next write restarts it. With no other connection open this always
        // completes; when it cannot (another process holds the file) it is
        // only a missed optimisation.
        // sqlite-only: a checkpoint of SQLite's own WAL file; nothing to do
        // on PostgreSQL.
        writer.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        // Left by an older version (or another tool) with wider modes.
        for suffix in ["-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            owner_only(Path::new(&p), false)?;
        }
        Ok(Db {
            path: path.to_path_buf(),
            auth_cache: Mutex::default(),
            conns: Conns::Sqlite {
                writer: Mutex::new(writer),
                readers: Mutex::default(),
                reader_free: Condvar::new(),
            },
            key,
            events: Arc::default(),
            listener: None,
        })
    }

    /// The PostgreSQL database at `url`, migrated ([`crate::migrate_postgres`]).
    /// Its `path` is empty: there is no file.
    pub(crate) fn open_postgres(url: &str, key: SecretKey) -> Result<Db> {
        let config = crate::pg::connect::config(url)?;
        let pool = crate::pg::pool::Pool::connect(url)?;
        Ok(Db {
            path: PathBuf::new(),
            auth_cache: Mutex::default(),
            conns: Conns::Pg(pool),
            key,
            events: Arc::default(),
            listener: Some((config, Mutex::new(None))),
        })
    }

    /// A receiver of this store's events; on PostgreSQL the first call
    /// starts the listener.
    pub(crate) fn subscribe(&self) -> Result<Receiver<StoreEvent>> {
        if let Some((config, listener)) = &self.listener {
            let mut listener = listener.lock().unwrap_or_else(|e| e.into_inner());
            if listener.is_none() {
                *listener = Some(PgListener::start_with(config.clone(), self.events.clone())?);
            }
        }
        Ok(self.events.subscribe())
    }

    /// Whether this database is PostgreSQL.
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.conns, Conns::Pg(_))
    }

    fn readers(&self) -> (&Mutex<Readers>, &Condvar) {
        match &self.conns {
            Conns::Sqlite {
                readers,
                reader_free,
                ..
            } => (readers, reader_free),
            Conns::Pg(_) => unreachable!("the SQLite reader pool of a PostgreSQL store"),
        }
    }

    fn open_reader(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        // Readers must never write: a bug would show up as an error, not as a
        // second writer racing the real one.
        // sqlite-only: PostgreSQL's equivalent is a `READ ONLY` transaction
        // (or `default_transaction_read_only` on the reader connections).
        conn.pragma_update(None, "query_only", "ON")?;
        Ok(conn)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer connection;
    /// commits when `f` returns `Ok`, rolls back otherwise.
    ///
    /// `FnMut`, not `FnOnce`: a backend where a transaction may fail to
    /// serialize (PostgreSQL) runs `f` again in a new transaction, so `f`
    /// must not consume what it captures. SQLite runs it once.
    pub(crate) fn write<T>(&self, mut f: impl FnMut(&Tx<'_>) -> Result<T>) -> Result<T> {
        let writer = match &self.conns {
            Conns::Sqlite { writer, .. } => writer,
            Conns::Pg(pool) => return pool.write(f),
        };
        // A panic inside `f` poisons the mutex, but the transaction was rolled
        // back when it was dropped during unwinding, so the connection is clean.
        let mut conn = writer.lock().unwrap_or_else(|e| e.into_inner());
        // sqlite-only: `BEGIN IMMEDIATE` takes SQLite's write lock at once;
        // PostgreSQL has no such mode (its transactions take row locks as
        // they write, and may fail to serialize: hence `FnMut`).
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seam = Tx::sqlite(&tx);
        let out = f(&seam)?;
        let events = seam.take_events();
        drop(seam);
        tx.commit()?;
        // After the commit, once: a write that failed told nobody.
        for e in &events {
            self.events.send(e);
        }
        Ok(out)
    }

    /// Whether a read started now would get a reader without waiting (an
    /// idle one, or room to open one). A hint: another thread may take it
    /// first, and then the read waits for the next one to come back.
    ///
    /// Always `false` on PostgreSQL: the API runs point reads inline on its
    /// async workers when this says yes, and the sync `postgres` client
    /// must never run on an async worker (it blocks on a runtime of its
    /// own); its reads go through `spawn_blocking`.
    pub(crate) fn reader_available(&self) -> bool {
        let readers = match &self.conns {
            Conns::Sqlite { readers, .. } => readers,
            Conns::Pg(_) => return false,
        };
        let r = readers.lock().unwrap_or_else(|e| e.into_inner());
        !r.idle.is_empty() || r.open < MAX_READERS
    }

    /// Runs `f` in one read transaction (a consistent snapshot) on a reader.
    /// `f` must not start another read (it could wait for itself).
    /// `FnOnce`: it runs once. A transaction that only reads on one snapshot
    /// (SQLite's, or PostgreSQL's `REPEATABLE READ`) has nothing that could
    /// fail to serialize.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        let (readers, reader_free) = match &self.conns {
            Conns::Sqlite {
                readers,
                reader_free,
                ..
            } => (readers, reader_free),
            Conns::Pg(pool) => return pool.read(f),
        };
        let mut lease = Lease {
            db: self,
            conn: None,
        };
        let mut r = readers.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(c) = r.idle.pop() {
                drop(r);
                lease.conn = Some(c);
                break;
            }
            if r.open < MAX_READERS {
                // Counted before opening, so the lease's drop undoes it on failure.
                r.open += 1;
                drop(r);
                lease.conn = Some(self.open_reader()?);
                break;
            }
            r.waiting += 1;
            r = reader_free.wait(r).unwrap_or_else(|e| e.into_inner());
            r.waiting -= 1;
        }
        let conn = lease.conn.as_mut().expect("a reader was leased");
        // BEGIN and ROLLBACK as cached statements, not rusqlite's
        // `Transaction` (which parses them anew each time with
        // `execute_batch`): on the API's point reads that parsing was ~5 % of
        // the server's CPU. A reader never writes, so ending with ROLLBACK
        // loses nothing.
        // sqlite-only: `BEGIN DEFERRED` is SQLite's; PostgreSQL's read is a
        // `BEGIN ... READ ONLY` (with the isolation that gives one snapshot).
        conn.prepare_cached("BEGIN DEFERRED")?.execute([])?;
        let out = f(&Tx::sqlite(conn));
        if !conn.is_autocommit()
            && conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut s| s.execute([]))
                .is_err()
        {
            // A reader stuck in a transaction would pin an old snapshot of
            // the database: close it instead of lending it out again.
            lease.conn = None;
        }
        out
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use crate::{SecretKey, Store};

    fn mode(p: &std::path::Path) -> u32 {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn a_fresh_data_dir_its_database_wal_and_shm_are_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("new").join("data");
        let key = || SecretKey::load_or_create(&dir, None).unwrap();
        let store = Store::open(&dir, key()).unwrap();
        store.create_org("acme", "Acme").unwrap();
        assert_eq!(mode(&dir), 0o700);
        for f in ["buildsnap.db", "buildsnap.db-wal", "buildsnap.db-shm"] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
        drop(store);
        // Files left readable by an older version are narrowed at open.
        let wal = dir.join("buildsnap.db-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _store = Store::open(&dir, key()).unwrap();
        assert_eq!(mode(&wal), 0o600);
    }
}
