//! The store's error type: one variant per thing a caller may want to tell apart.

use crate::crypto::KeyError;

/// Result alias for store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything a store call can fail with. Variants carry what a person needs to
/// fix the request; the HTTP layer maps them onto status codes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A slug does not match `^[a-z0-9][a-z0-9-]{0,62}$`.
    #[error(
        "invalid slug {0:?}: use 1 to 63 characters from a-z, 0-9 and '-', starting with a letter or digit"
    )]
    InvalidSlug(String),
    /// A SHA is not 7 to 40 hex characters.
    #[error("invalid sha {0:?}: give 7 to 40 hexadecimal characters of the deployed commit")]
    InvalidSha(String),
    /// A deploy time outside what the store holds exactly (Unix nanoseconds
    /// in an `i64`, from 1970 on).
    #[error(
        "deployed_at {0} is outside the accepted range: from {min} to {max}",
        min = crate::validate::DEPLOYED_AT_MIN,
        max = crate::validate::DEPLOYED_AT_MAX
    )]
    InvalidDeployedAt(String),
    /// Any other malformed input (empty name, bad URL, ...).
    #[error("{0}")]
    Invalid(String),
    /// No organisation with this slug.
    #[error("organisation {0:?} not found")]
    OrgNotFound(String),
    /// No project with this slug in the organisation.
    #[error("project {0:?} not found")]
    ProjectNotFound(String),
    /// No deploy with this id in the organisation.
    #[error("deploy {0} not found")]
    DeployNotFound(i64),
    /// A slug is already used in its scope.
    #[error("{kind} slug {slug:?} is already taken")]
    SlugTaken {
        /// What the slug names (`organisation`, `project`, `code deployment`).
        kind: &'static str,
        /// The slug asked for.
        slug: String,
    },
    /// The integration must be enabled for this operation.
    #[error(
        "the {provider} integration is not enabled: enable it with PUT /api/v1/orgs/{{org}}/integrations/{provider} first"
    )]
    IntegrationDisabled {
        /// Provider id.
        provider: String,
    },
    /// The project has no code deployment yet.
    #[error("add a code deployment to project {project} first")]
    NoCodeDeployment {
        /// Project slug.
        project: String,
    },
    /// Several code deployments and none named.
    #[error("project {project} has several code deployments ({}); name one in \"code_deployment\"", candidates.join(", "))]
    AmbiguousCodeDeployment {
        /// Project slug.
        project: String,
        /// The code deployment slugs to choose from.
        candidates: Vec<String>,
    },
    /// A named code deployment does not exist.
    #[error("project {project} has no code deployment {slug:?}")]
    UnknownCodeDeployment {
        /// Project slug.
        project: String,
        /// The slug asked for.
        slug: String,
    },
    /// The secret key does not decrypt what the database holds.
    #[error(
        "the secret key does not match the one this data directory was created with: provide the original BUILDSNAP_SECRET_KEY / key file"
    )]
    WrongSecretKey,
    /// The data directory is open in another store (a running `buildsnap
    /// serve`, or an operator command): what needs it alone (the copy to
    /// PostgreSQL) is refused.
    #[error(
        "the data dir {} is in use (a running `buildsnap serve` or another command has it open): stop it first",
        dir.display()
    )]
    DataDirInUse {
        /// The data directory.
        dir: std::path::PathBuf,
    },
    /// The data directory is being copied to PostgreSQL (`buildsnap
    /// migrate-store`), which holds it alone until it ends.
    #[error(
        "the data dir {} is being copied to PostgreSQL by `buildsnap migrate-store`: wait for it to finish",
        dir.display()
    )]
    DataDirMigrating {
        /// The data directory.
        dir: std::path::PathBuf,
    },
    /// The PostgreSQL database a copy was to fill already holds data.
    #[error(
        "the target PostgreSQL database is not empty: table {table} has rows; copy only into a new, empty database"
    )]
    TargetNotEmpty {
        /// The first table found with rows.
        table: String,
    },
    /// After a copy, a table's row count differs between the two databases
    /// (the copy was rolled back).
    #[error(
        "copy check failed: table {table} has {source_rows} rows in SQLite but {target_rows} in PostgreSQL"
    )]
    CopyMismatch {
        /// The table.
        table: String,
        /// Rows in the SQLite database.
        source_rows: i64,
        /// Rows the copy put in PostgreSQL.
        target_rows: i64,
    },
    /// Copying a table to PostgreSQL failed (the copy was rolled back).
    #[error("copying table {table} to PostgreSQL: {reason}")]
    CopyFailed {
        /// The table.
        table: String,
        /// What went wrong: the server's message, or the value refused.
        reason: String,
    },
    /// Encryption or decryption failed.
    #[error("crypto error: {0}")]
    Crypto(String),
    /// The database was written by a newer buildsnap.
    #[error(
        "database schema version {found} is newer than this build supports ({supported}); upgrade buildsnap"
    )]
    SchemaTooNew {
        /// `user_version` found in the file.
        found: i64,
        /// Highest version this build knows.
        supported: i64,
    },
    /// The PostgreSQL database was migrated by a newer buildsnap: its
    /// `buildsnap_schema` holds a version this build does not know. The
    /// versions are PostgreSQL's own numbering, not SQLite's `user_version`.
    #[error(
        "PostgreSQL schema version {found} (table buildsnap_schema) is newer than this build supports ({supported}); upgrade buildsnap"
    )]
    PgSchemaTooNew {
        /// Highest version in `buildsnap_schema`.
        found: i64,
        /// Highest version this build knows.
        supported: i64,
    },
    /// Secret key loading failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A query that always returns a row (an aggregate, or a row the
    /// caller knows exists) returned none: a bug or a concurrent delete,
    /// the same on both backends.
    #[error("a query expected a row and found none")]
    NoRow,
    /// PostgreSQL failed.
    #[error("PostgreSQL error: {}", postgres_message(.0))]
    Postgres(#[from] postgres::Error),
    /// File system failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A snapshot's stored `builds` could not be compressed or decoded
    /// (a damaged row): a server-side fault, never the client's.
    #[error("snapshot builds encoding: {0}")]
    Encoding(String),
    /// A stored JSON document could not be read or written.
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),
}

/// A PostgreSQL error with its cause: the client's own `Display` says only
/// what kind of error it is ("db error"), and the server's message (which
/// statement failed, and why) is its source, which a log line showing only
/// `Display` would drop.
fn postgres_message(e: &postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

impl StoreError {
    /// True for a unique-constraint (or primary-key) violation: the row
    /// asked for exists already (a slug taken, answered 409). Recognised in
    /// the error the query seam (`crate::sql`) returns.
    pub(crate) fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            // SQLSTATE 23505, for unique constraints and primary keys alike.
            StoreError::Postgres(e) => {
                e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
            }
            _ => false,
        }
    }
}
