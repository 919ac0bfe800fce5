//! buildsnap's integration state on SQLite, or on PostgreSQL.
//!
//! One [`Store`] per process owns the database file `buildsnap.db` in the data
//! directory ([`Store::open`]), or a pool of connections to a PostgreSQL
//! database ([`Store::open_postgres`]), which any number of replicas may
//! share: each store is a replica ([`Store::replica_id`]) that claims
//! capture jobs under leases and holds named leases for work one replica
//! at a time may do. Every method is *blocking* (rusqlite
//! and the `postgres` client are synchronous): call it from
//! `tokio::task::spawn_blocking` (or a plain thread) when you are in async code.
//! The store is cheap to clone and safe to share between threads.
//!
//! Writes that other processes on the same database should act on at once
//! (a capture queued, an integration disabled, a rate-limit pause) emit a
//! [`StoreEvent`] with their commit; [`Store::subscribe`] hears them.
//!
//! Secrets: organisation and admin tokens are stored as SHA-256 hashes only;
//! provider tokens are encrypted with ChaCha20-Poly1305 under a [`SecretKey`]
//! and only come back out as a [`ProviderToken`], which redacts itself in
//! `Debug`, has no `Display`/`Serialize`, and zeroizes its memory on drop.

#![warn(missing_docs)]

mod alerts;
mod builds_codec;
mod call_slots;
mod capture_state;
mod captures;
mod columns;
mod copy;
mod crypto;
mod data_dir;
mod db;
mod deploy_pages;
mod deploys;
mod error;
mod events;
mod index;
mod index_read;
mod index_rows;
mod index_thin;
mod integrations;
mod leases;
mod migrations;
mod model;
mod moved;
mod orgs;
mod pauses;
mod pg;
mod projects;
mod reencode;
mod retention;
mod sql;
mod sync_state;
mod tokens;
pub mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use alerts::{
    ALERT_EVENTS, ALERT_FORMATS, AlertDelivery, AlertHook, DueDelivery, NewAlertHook,
};
pub use builds_codec::{STORE_LEVEL as BUILDS_ZSTD_LEVEL, ServedBuilds};
/// Timestamps (the domain's; re-exported here for the store's users).
pub use buildsnap_domain::ts;
/// The snapshot records the store reads and writes, defined by the domain.
pub use buildsnap_domain::{
    FinalSnapshot, IndexedBuild, IndexedJob, JobUpdate, Snapshot, SnapshotState,
};
pub use call_slots::{HeldSlot, SlotKind};
pub use copy::{CopyReport, TableCopy, copy_to_postgres};
pub use crypto::{KeyError, ProviderToken, SecretKey};
pub use deploy_pages::{DeployCursor, DeployPage};
pub use deploys::{DEFAULT_ENVIRONMENT, MAX_LIST_LIMIT};
pub use error::{Result, StoreError};
pub use events::{CHANNEL as EVENT_CHANNEL, StoreEvent};
pub use index::{CommitSearch, IndexLookup};
pub use index_thin::ThinChunk;
pub use leases::DEFAULT_CAPTURE_LEASE;
pub use model::{
    Account, CaptureJob, CodeDeployment, Deploy, IntegrationState, NewCodeDeployment, NewDeploy,
    NewToken, Org, Principal, Project, RawBuilds, Scope,
};
pub use pauses::RateLimitPause;
pub use pg::listen::{APPLICATION_NAME as LISTENER_APPLICATION_NAME, PgListener};
pub use pg::{POSTGRES_SCHEMA_VERSION, migrate_postgres};
pub use reencode::ReencodeBatch;
pub use retention::PruneChunk;
pub use sync_state::SyncTarget;

/// Creates a data directory (and missing parents) with mode 0700 from the
/// start, for it will hold the key file and the database; an existing one
/// is left as it is. Use this rather than `create_dir_all`, which makes
/// the directory readable to all until someone narrows it.
pub fn create_data_dir(dir: &Path) -> std::io::Result<()> {
    data_dir::ensure_data_dir(dir)
}

/// Handle to the SQLite database of one data directory, or to a PostgreSQL
/// database. Clone freely.
#[derive(Clone)]
pub struct Store {
    db: Arc<db::Db>,
    /// Who this store is among the replicas of its database.
    replica: Arc<leases::Replica>,
    /// The data directory's lock (SQLite only; `None` on PostgreSQL, or
    /// where the file system cannot lock), released with the last clone.
    _dir_lock: Option<Arc<data_dir::DirLock>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field(
                "backend",
                &if self.db.is_postgres() {
                    "postgres"
                } else {
                    "sqlite"
                },
            )
            .field("path", &self.db.path)
            .field("replica", &self.replica.id)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Name of the database file inside the data directory.
    pub const DB_FILE: &'static str = "buildsnap.db";

    /// Opens (creating when needed) the data directory and its database, applies
    /// pending migrations, checks that `key` is the key the stored provider tokens
    /// were encrypted with, and puts capture jobs that were `running` when the
    /// previous process stopped back in the queue, and drops the named
    /// leases it held: one process at a time uses a data directory, so no
    /// other replica can be running them.
    ///
    /// A directory this call creates gets mode 0700 (it will hold the key file).
    ///
    /// Any number of stores (in this process or others) may have one data
    /// directory open at once: each holds a shared lock on its
    /// `buildsnap.lock` for its life. While [`copy_to_postgres`] holds it
    /// alone, the open is refused with [`StoreError::DataDirMigrating`].
    pub fn open(data_dir: &Path, key: SecretKey) -> Result<Store> {
        Store::open_locked(data_dir, key, data_dir::LockMode::Shared)
    }

    /// [`Store::open`], with the data directory's lock taken as `mode`.
    fn open_locked(data_dir: &Path, key: SecretKey, mode: data_dir::LockMode) -> Result<Store> {
        data_dir::ensure_data_dir(data_dir)?;
        let lock = data_dir::DirLock::take(data_dir, mode)?;
        let path = data_dir.join(Self::DB_FILE);
        let db = db::Db::open(&path, key)?;
        let store = Store::new(db, lock.map(Arc::new))?;
        store.check_secret_key()?;
        store.requeue_interrupted_captures()?;
        Ok(store)
    }

    /// Connects to the PostgreSQL database at `url` (a `postgres://` URL or
    /// a `key=value` connection string), brings its schema up to date
    /// ([`migrate_postgres`]) and checks that `key` is the key its stored
    /// provider tokens were encrypted with (a wrong one is refused with
    /// [`StoreError::WrongSecretKey`], as by [`Store::open`]).
    ///
    /// Any number of stores (replicas, in this process or others) may use
    /// one database at once. Capture jobs left `running` are *not* put back
    /// in the queue here, as [`Store::open`] does: another replica may be
    /// running them. A job whose replica died is taken over by the next
    /// claim once its lease has run out ([`Store::next_capture_job`]).
    ///
    /// TLS follows the URL's `sslmode` with libpq's meaning (`disable`,
    /// `prefer` the default, `require`, `verify-ca`, `verify-full`) and
    /// `sslrootcert=<PEM file>` for the CA; an unreadable root file or an
    /// unknown mode is [`StoreError::Invalid`].
    /// Each call is blocking, as on SQLite; the store's reads never run on
    /// an async worker ([`Store::reader_available`] is always `false`).
    pub fn open_postgres(url: &str, key: SecretKey) -> Result<Store> {
        let db = db::Db::open_postgres(url, key)?;
        let store = Store::new(db, None)?;
        store.check_secret_key()?;
        Ok(store)
    }

    /// A store on `db`, a new replica with the default capture lease.
    fn new(db: db::Db, dir_lock: Option<Arc<data_dir::DirLock>>) -> Result<Store> {
        Ok(Store {
            db: Arc::new(db),
            _dir_lock: dir_lock,
            replica: Arc::new(leases::Replica {
                id: leases::new_replica_id()?,
                capture_lease: DEFAULT_CAPTURE_LEASE,
            }),
        })
    }

    /// Whether a read started now would find a reader connection without
    /// waiting for one. The HTTP API runs short point reads inline on its
    /// async workers only when this says yes, so a worker never blocks on
    /// the pool; a hint, not a reservation.
    pub fn reader_available(&self) -> bool {
        self.db.reader_available()
    }

    /// Runs a trivial query: whether the database answers (for readiness
    /// probes).
    pub fn ping(&self) -> Result<()> {
        self.db
            .read(|tx| tx.query_one("SELECT 1", &[], |r| r.get::<i64>(0)))?;
        Ok(())
    }

    /// Whether this store is on PostgreSQL (where several replicas may
    /// share it) rather than on a SQLite file of one process.
    pub fn is_postgres(&self) -> bool {
        self.db.is_postgres()
    }

    /// A receiver of the [`StoreEvent`]s committed from now on.
    ///
    /// On SQLite, those of this process's writes, each once, after its
    /// commit. On PostgreSQL, those of every process on the database (this
    /// one included), heard by a listener ([`PgListener`]) that the first
    /// call starts on a connection of its own (its failure to connect is
    /// this call's error) and that lives as long as the store; after it
    /// lost and regained its connection it sends [`StoreEvent::Resync`].
    ///
    /// Blocking (it may connect): call it off the async workers.
    pub fn subscribe(&self) -> Result<std::sync::mpsc::Receiver<StoreEvent>> {
        self.db.subscribe()
    }

    /// Path of the database file. Empty on PostgreSQL (no file).
    pub fn path(&self) -> &Path {
        &self.db.path
    }

    /// Paths of every file the database may use (db, `-wal`, `-shm`).
    /// None on PostgreSQL: its files are the server's.
    pub fn files(&self) -> Vec<PathBuf> {
        if self.db.is_postgres() {
            return Vec::new();
        }
        let p = self.db.path.display().to_string();
        vec![
            self.db.path.clone(),
            PathBuf::from(format!("{p}-wal")),
            PathBuf::from(format!("{p}-shm")),
        ]
    }
}
