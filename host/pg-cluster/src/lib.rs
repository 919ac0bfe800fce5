//! A throwaway PostgreSQL cluster for buildsnap's tests.
//!
//! [`PgCluster::start`] finds the PostgreSQL server binaries, runs `initdb`
//! in a fresh temp dir and starts a server on a free port of 127.0.0.1. Each
//! test then takes its own database with [`PgCluster::create_database`], so
//! one cluster (one `initdb`, about a second) serves many tests. Dropping the
//! cluster stops the server and removes the temp dir.
//!
//! ```no_run
//! let Some(cluster) = buildsnap_pg_cluster::PgCluster::start().unwrap() else {
//!     return; // no PostgreSQL here and CI unset: the notice went to stderr
//! };
//! let url = cluster.create_database("deploys_roundtrip").unwrap();
//! // connect to `url` with any client: postgres://buildsnap@127.0.0.1:PORT/deploys_roundtrip
//! ```
//!
//! # Where the binaries come from
//!
//! `$BUILDSNAP_PG_BIN` (a directory holding `initdb`, `pg_ctl`, `postgres`
//! and `psql`) when set, else Debian's `/usr/lib/postgresql/<major>/bin` with
//! the highest major (`apt-get install postgresql`). When neither has them, a
//! run with `CI` set fails ([`Error::BinariesNotFound`]): CI must never skip
//! the PostgreSQL tests. Elsewhere `start` writes a loud notice to stderr and
//! returns `Ok(None)`, so a developer without PostgreSQL can still run the
//! rest of the suite.
//!
//! # Running as root
//!
//! PostgreSQL refuses to run as root, and CI runs the tests as root. When the
//! effective uid is 0, the temp dir is chowned to an unprivileged user
//! (`nobody` unless [`Builder::unprivileged_user`] says otherwise) and
//! `initdb` and `pg_ctl` (hence the server) run as that user and its primary
//! group with no supplementary groups: the same drop `setpriv --reuid
//! --regid --clear-groups` makes, done by the standard library's
//! `CommandExt::uid`/`gid` in the child between fork and exec, so no helper
//! program has to be installed. The temp dir's parents must then be
//! searchable by that user (`/tmp` is; a `TMPDIR` under `/root` is not).
//! Clients (`psql` here, the tests' own connections) stay the calling user:
//! they reach the server over TCP and need no privileges.
//!
//! # TLS
//!
//! [`Builder::tls`] makes a CA for the cluster alone, a server certificate
//! it signs for `127.0.0.1` (IP address SAN) and `localhost`, and starts the
//! server with `ssl=on`; clients then trust [`PgCluster::ca_cert_path`].
//! [`unrelated_ca_pem`] is a CA that signed nothing, for tests where
//! verification must fail. Without `tls` the server has no certificate and
//! declines TLS, as before.
//!
//! # A static cluster is never dropped
//!
//! Rust does not run destructors of statics, so a cluster kept in a
//! `static`/`OnceLock` outlives the test process: its server keeps running
//! and its temp dir stays. Keep the cluster in a local of the test (or of a
//! test that runs the others as steps) instead.

#![warn(missing_docs)]

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Write as _};
use std::net::TcpListener;
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::os::unix::fs::{PermissionsExt as _, chown};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};

use tempfile::TempDir;

mod tls;

pub use tls::unrelated_ca_pem;

/// The environment variable naming a directory that holds `initdb`,
/// `pg_ctl`, `postgres` and `psql`. Set, it wins over the Debian search and
/// must hold all four: a wrong explicit setting is an error even outside CI,
/// never a skip.
pub const BIN_ENV: &str = "BUILDSNAP_PG_BIN";

/// Where Debian's `postgresql-<major>` packages put their server binaries:
/// `<this>/<major>/bin`. The highest major found wins.
pub const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The superuser role `initdb -U` creates and every URL names. Tests connect
/// as a superuser so they can create databases, roles and extensions; the
/// store's own role rules are not exercised by this harness.
pub const SUPERUSER: &str = "buildsnap";

/// The database [`PgCluster::create_database`] connects to for
/// `CREATE DATABASE`: the maintenance database `initdb` always makes.
pub const ADMIN_DB: &str = "postgres";

/// The only address the server listens on, passed as
/// `-c listen_addresses=127.0.0.1`. Loopback only, so the trust
/// authentication below is not reachable from other hosts. A literal IPv4
/// address rather than `localhost`, which may resolve to `::1` first where
/// the server does not listen.
pub const LISTEN_ADDRESS: &str = "127.0.0.1";

/// The authentication `initdb --auth` sets for every connection: `trust`, no
/// password. The trade-off: any process on this machine that can reach
/// 127.0.0.1 (or the socket dir, which is private to the owner) can connect
/// as the superuser while the cluster runs. Acceptable for throwaway test
/// data on a test machine, and it keeps URLs free of secrets; never use it
/// for a cluster that holds anything real. Password handling (scram) is the
/// PostgreSQL store's own concern and wants its own tests.
pub const AUTH: &str = "trust";

/// The settings the server starts with besides the address, port and socket
/// dir, passed to `postgres` as `-c` options.
///
/// `fsync=off`: PostgreSQL never flushes WAL or data files to disk, which
/// makes commits, `CREATE DATABASE` and checkpoints cheap and keeps test
/// runs fast on a small machine. The trade-off: an OS crash or power loss
/// can corrupt the cluster (it is thrown away anyway); a crash of the server
/// alone ([`PgCluster::kill_server`]) loses nothing committed, since the
/// writes are in the OS page cache. Commit timings measured against this
/// cluster say nothing about production, where every commit waits for a
/// flush: do not benchmark with it.
pub const SERVER_SETTINGS: &[&str] = &["fsync=off"];

/// The server certificate's file in the data dir of a [`Builder::tls`]
/// cluster (`-c ssl_cert_file`).
pub const SERVER_CERT_FILE: &str = "server.crt";

/// The server key's file next to it (`-c ssl_key_file`), mode 0600.
pub const SERVER_KEY_FILE: &str = "server.key";

/// How many times [`Builder::start`] tries a fresh port when the one it
/// picked was taken between picking and binding (see [`Builder::start_attempts`]).
pub const DEFAULT_START_ATTEMPTS: u32 = 5;

/// Seconds `pg_ctl start -w`/`stop -w` wait for the server (`pg_ctl -t`).
/// A server normally starts in well under a second; a long wait only delays
/// the report of a failed start, a short one would fail a slow CI machine.
pub const PG_CTL_TIMEOUT_SECS: u32 = 60;

/// The user the server runs as when the tests run as root, unless
/// [`Builder::unprivileged_user`] names another. `nobody` exists on every
/// Debian machine and owns no files, so the server can touch nothing but
/// its temp dir.
pub const DEFAULT_UNPRIVILEGED_USER: &str = "nobody";

/// The server binaries the harness needs in one directory: `psql` too, for
/// [`PgCluster::create_database`] (Debian's `postgresql-<major>` depends on
/// the client package that puts it there).
const REQUIRED_BINARIES: [&str; 4] = ["initdb", "pg_ctl", "postgres", "psql"];

/// Why a cluster could not be set up or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No server binaries were found and `CI` is set, where skipping would
    /// hide the PostgreSQL tests.
    #[error(
        "PostgreSQL server binaries not found (looked in {looked}); CI is set, so the PostgreSQL tests may not skip: apt-get install postgresql"
    )]
    BinariesNotFound {
        /// Where the harness looked.
        looked: String,
    },
    /// `$BUILDSNAP_PG_BIN` (or [`Builder::bin_dir`]) names a directory that
    /// lacks one of the binaries.
    #[error("{dir} has no executable {missing} (set by {BIN_ENV} or Builder::bin_dir)")]
    BadBinDir {
        /// The directory given.
        dir: PathBuf,
        /// The first binary missing from it.
        missing: &'static str,
    },
    /// Running as root, but the unprivileged user to run the server as does
    /// not exist, or is root itself.
    #[error("cannot run PostgreSQL as user {user:?} (running as root): {reason}")]
    UnprivilegedUser {
        /// The user asked for.
        user: String,
        /// What was wrong.
        reason: String,
    },
    /// A file-system or process-spawning step failed.
    #[error("{what}: {source}")]
    Io {
        /// The step.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// `initdb`, `pg_ctl` or `psql` ran and exited unsuccessfully.
    #[error("{program} failed ({status}):\n{output}")]
    Command {
        /// The program's file name.
        program: String,
        /// Its exit status.
        status: ExitStatus,
        /// Its stdout and stderr, and for a failed start the server log's tail.
        output: String,
    },
    /// Every start attempt found its port taken.
    #[error(
        "the server found its port taken on each of {attempts} start attempts; last log:\n{log}"
    )]
    PortsExhausted {
        /// How many ports were tried.
        attempts: u32,
        /// The server log of the last attempt.
        log: String,
    },
    /// The throwaway certificates of [`Builder::tls`] could not be made.
    #[error("making the test certificates: {0}")]
    Certificate(String),
    /// [`PgCluster::create_database`] was given a name outside
    /// `[a-z_][a-z0-9_]{0,62}`.
    #[error(
        "invalid database name {0:?}: use 1 to 63 lowercase ASCII letters, digits and underscores, not starting with a digit"
    )]
    InvalidDatabaseName(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// Options for [`PgCluster`]; [`PgCluster::start`] is `Builder::default().start()`.
#[derive(Debug, Clone)]
pub struct Builder {
    bin_dir: Option<PathBuf>,
    unprivileged_user: String,
    start_attempts: u32,
    first_port: Option<u16>,
    temp_root: Option<PathBuf>,
    tls: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            bin_dir: None,
            unprivileged_user: DEFAULT_UNPRIVILEGED_USER.to_string(),
            start_attempts: DEFAULT_START_ATTEMPTS,
            first_port: None,
            temp_root: None,
            tls: false,
        }
    }
}

impl Builder {
    /// Takes the binaries from `dir`, over `$BUILDSNAP_PG_BIN` and the Debian
    /// search. Like the variable, a directory that lacks one is an error,
    /// never a skip.
    pub fn bin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bin_dir = Some(dir.into());
        self
    }

    /// The user the server runs as when the tests run as root (default
    /// [`DEFAULT_UNPRIVILEGED_USER`]); ignored when not root, where the
    /// server runs as the calling user.
    pub fn unprivileged_user(mut self, user: impl Into<String>) -> Self {
        self.unprivileged_user = user.into();
        self
    }

    /// How many ports to try before giving up (default
    /// [`DEFAULT_START_ATTEMPTS`], at least 1). The free port is found by
    /// binding port 0 and closing it again, so another process can take it
    /// before the server binds it; only that collision is retried, any other
    /// start failure is reported at once. More attempts only cost time when
    /// ports really are scarce.
    pub fn start_attempts(mut self, attempts: u32) -> Self {
        self.start_attempts = attempts.max(1);
        self
    }

    /// Tries `port` first, then free ports as usual if it is taken. For
    /// pinning a port while debugging, and for testing the retry itself; a
    /// fixed port shared by parallel test binaries would collide.
    pub fn first_port(mut self, port: u16) -> Self {
        self.first_port = Some(port);
        self
    }

    /// Makes the temp dir under `dir` instead of the system temp dir
    /// (`$TMPDIR` or `/tmp`). The server's Unix socket lives in it, and a
    /// socket path is limited to 107 bytes, so keep `dir` short; when
    /// running as root, the unprivileged user must be able to search it.
    pub fn temp_root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.temp_root = Some(dir.into());
        self
    }

    /// Serves TLS with a certificate of a CA made for this cluster (see the
    /// crate docs, "TLS"); default off, as a server without a certificate
    /// declines TLS and clients asking for `prefer` go on in plain. Making
    /// the keys takes milliseconds.
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Finds the binaries, runs `initdb` and starts the server. `Ok(None)`
    /// means no binaries and `CI` unset: the notice is on stderr and the
    /// caller should skip. See the crate docs for the search and for root.
    pub fn start(self) -> Result<Option<PgCluster>, Error> {
        let Some(bin_dir) = self.find_bin_dir()? else {
            let looked = looked_description();
            if ci_is_set() {
                return Err(Error::BinariesNotFound { looked });
            }
            // Straight to the stderr handle, not eprintln!: the test harness
            // captures the print macros, and a skip must be seen.
            let _ = writeln!(
                io::stderr(),
                "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                 !!! PostgreSQL server binaries not found (looked in {looked});\n\
                 !!! skipping the PostgreSQL tests: apt-get install postgresql\n\
                 !!! (with CI set this is an error instead of a skip)\n\
                 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
            );
            return Ok(None);
        };

        let run_as = if is_root() {
            Some(RunAs::lookup(&self.unprivileged_user)?)
        } else {
            None
        };

        let mut temp = tempfile::Builder::new();
        temp.prefix("buildsnap-pg-");
        let dir = match &self.temp_root {
            Some(root) => temp.tempdir_in(root),
            None => temp.tempdir(),
        }
        .map_err(io_err("creating the cluster's temp dir"))?;
        let socket_dir = dir.path().join("sock");
        fs::create_dir(&socket_dir).map_err(io_err(format!(
            "creating the socket dir {}",
            socket_dir.display()
        )))?;
        // Private to the server's user: the data dir must be (initdb sees to
        // it), and the log and socket have no business being readable by
        // others. Root, which runs the tests on CI, can read them anyway.
        for path in [dir.path(), &socket_dir] {
            fs::set_permissions(path, fs::Permissions::from_mode(0o700))
                .map_err(io_err(format!("making {} private", path.display())))?;
        }
        if let Some(user) = &run_as {
            for path in [dir.path(), &socket_dir] {
                chown(path, Some(user.uid), Some(user.gid)).map_err(io_err(format!(
                    "chowning {} to {}",
                    path.display(),
                    user.name
                )))?;
            }
        }

        let mut cluster = PgCluster {
            bin_dir,
            port: 0,
            run_as,
            running: false,
            tls: self.tls,
            dir: Some(dir),
        };
        cluster.initdb()?;
        if self.tls {
            cluster.write_certificates()?;
        }

        let mut first_port = self.first_port;
        let mut last_log = String::new();
        for _ in 0..self.start_attempts {
            let port = match first_port.take() {
                Some(port) => port,
                None => free_port()?,
            };
            match cluster.start_server(port)? {
                Started::Yes => return Ok(Some(cluster)),
                Started::PortTaken(log) => last_log = log,
            }
        }
        Err(Error::PortsExhausted {
            attempts: self.start_attempts,
            log: last_log,
        })
    }

    fn find_bin_dir(&self) -> Result<Option<PathBuf>, Error> {
        let explicit = self.bin_dir.clone().or_else(|| {
            std::env::var_os(BIN_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        if let Some(dir) = explicit {
            return match first_missing(&dir) {
                None => Ok(Some(dir)),
                Some(missing) => Err(Error::BadBinDir { dir, missing }),
            };
        }
        Ok(debian_bin_dir(Path::new(DEBIAN_ROOT)))
    }
}

fn looked_description() -> String {
    format!("${BIN_ENV} (unset) and {DEBIAN_ROOT}/<major>/bin")
}

/// `CI` set to anything but the empty string.
fn ci_is_set() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn first_missing(dir: &Path) -> Option<&'static str> {
    REQUIRED_BINARIES
        .into_iter()
        .find(|name| !is_executable(&dir.join(name)))
}

/// The `<root>/<major>/bin` with the highest major (`9.6` < `10` < `15`) that
/// holds every required binary.
fn debian_bin_dir(root: &Path) -> Option<PathBuf> {
    let mut found: Vec<(Vec<u32>, PathBuf)> = fs::read_dir(root)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = parse_version(entry.file_name().to_str()?)?;
            let bin = entry.path().join("bin");
            first_missing(&bin).is_none().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// A free port on 127.0.0.1: bind port 0, read the port the kernel chose,
/// close the socket again.
fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((LISTEN_ADDRESS, 0))
        .map_err(io_err("binding 127.0.0.1:0 to find a free port"))?;
    let port = listener
        .local_addr()
        .map_err(io_err("reading the free port"))?
        .port();
    Ok(port)
}

/// Whether a failed start's server log says the port was taken.
fn is_port_collision(log: &str) -> bool {
    log.contains("Address already in use") || log.contains("could not create any TCP/IP sockets")
}

/// Quotes `s` for `/bin/sh`: `pg_ctl -o` hands its options to a shell.
fn sh_quote(s: &OsStr) -> OsString {
    let mut out = b"'".to_vec();
    for &byte in s.as_bytes() {
        if byte == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(byte);
        }
    }
    out.push(b'\'');
    OsString::from_vec(out)
}

fn valid_database_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    name.len() <= 63
        && (first.is_ascii_lowercase() || first == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> &str {
    let body = text.trim_end_matches('\n');
    match body.rmatch_indices('\n').nth(lines.saturating_sub(1)) {
        Some((i, _)) => &text[i + 1..],
        None => text,
    }
}

/// The unprivileged user the server runs as when the tests run as root.
#[derive(Debug, Clone)]
struct RunAs {
    name: String,
    uid: u32,
    gid: u32,
}

impl RunAs {
    /// Looks `name` up with `getent passwd` (so NSS users work too) and takes
    /// its uid and primary gid (`nogroup` for Debian's `nobody`).
    fn lookup(name: &str) -> Result<RunAs, Error> {
        let fail = |reason: String| Error::UnprivilegedUser {
            user: name.to_string(),
            reason,
        };
        let output = Command::new("getent")
            .args(["passwd", name])
            .output()
            .map_err(|e| fail(format!("running getent: {e}")))?;
        if !output.status.success() {
            return Err(fail("no such user (getent passwd found nothing)".into()));
        }
        let line = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<&str> = line.trim_end().split(':').collect();
        let (Some(uid), Some(gid)) = (
            fields.get(2).and_then(|f| f.parse::<u32>().ok()),
            fields.get(3).and_then(|f| f.parse::<u32>().ok()),
        ) else {
            return Err(fail(format!("unreadable passwd entry {line:?}")));
        };
        if uid == 0 {
            return Err(fail("that user is root too".into()));
        }
        Ok(RunAs {
            name: name.to_string(),
            uid,
            gid,
        })
    }
}

enum Started {
    Yes,
    PortTaken(String),
}

/// A running PostgreSQL cluster in a temp dir, listening on 127.0.0.1 only.
///
/// Dropping it stops the server (`pg_ctl stop -m immediate`) and removes the
/// temp dir; problems on the way are written to stderr, since a destructor
/// cannot return them.
#[derive(Debug)]
pub struct PgCluster {
    bin_dir: PathBuf,
    port: u16,
    run_as: Option<RunAs>,
    running: bool,
    /// Started with [`Builder::tls`]: the certificates are in place.
    tls: bool,
    /// `None` only inside `drop`, which closes it to report failures.
    dir: Option<TempDir>,
}

impl PgCluster {
    /// Starts a cluster with the default options: see [`Builder::start`].
    pub fn start() -> Result<Option<PgCluster>, Error> {
        Builder::default().start()
    }

    /// Options for a cluster; finish with [`Builder::start`].
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The port the server listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `db`: `postgres://buildsnap@127.0.0.1:<port>/<db>`
    /// (no password: [`AUTH`] is trust). The database need not exist yet.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{SUPERUSER}@{LISTEN_ADDRESS}:{}/{db}", self.port)
    }

    /// The URL of the [`ADMIN_DB`] maintenance database.
    pub fn admin_url(&self) -> String {
        self.url(ADMIN_DB)
    }

    /// Creates a fresh, empty database `name` (from `template1`, via the
    /// [`ADMIN_DB`] database) and returns its URL. Give each test its own
    /// name: a name already taken is an error, so two tests never share
    /// tables by accident. Names are limited to `[a-z_][a-z0-9_]{0,62}` so
    /// they need no quoting in URLs or SQL.
    ///
    /// Runs `psql` and blocks until it is done (tens of milliseconds);
    /// callable from async tests too, since it starts no runtime.
    pub fn create_database(&self, name: &str) -> Result<String, Error> {
        if !valid_database_name(name) {
            return Err(Error::InvalidDatabaseName(name.to_string()));
        }
        self.execute(ADMIN_DB, &format!("CREATE DATABASE \"{name}\""))?;
        Ok(self.url(name))
    }

    /// Runs `sql` (one or more statements) in database `db` with `psql` as
    /// the superuser, stopping at the first error; blocks until it is done.
    /// For set-up a test or bench does outside the code under test, such
    /// as `ANALYZE` after a bulk load.
    pub fn execute(&self, db: &str, sql: &str) -> Result<(), Error> {
        self.psql(db, sql).map(drop)
    }

    /// How many connections to the server give `application_name`, and
    /// whether every one of them is encrypted (`pg_stat_ssl`): what the
    /// TLS tests check of the connections the code under test made.
    pub fn encrypted_connections(&self, application_name: &str) -> Result<(i64, bool), Error> {
        let out = self.psql(
            ADMIN_DB,
            &format!(
                "SELECT count(*), coalesce(bool_and(s.ssl), false) \
                 FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
                 WHERE a.application_name = '{}'",
                application_name.replace('\'', "''")
            ),
        )?;
        let text = String::from_utf8_lossy(&out.stdout);
        let unreadable = || Error::Command {
            program: "psql".into(),
            status: out.status,
            output: format!("unexpected answer {text:?}"),
        };
        let (count, ssl) = text.trim().split_once('|').ok_or_else(unreadable)?;
        Ok((count.parse().map_err(|_| unreadable())?, ssl == "t"))
    }

    /// `psql` on database `db` as the superuser, unaligned and tuples only
    /// (`-At`: a row per line, columns split by `|`), stopping at the
    /// first error.
    fn psql(&self, db: &str, sql: &str) -> Result<Output, Error> {
        if !valid_database_name(db) {
            return Err(Error::InvalidDatabaseName(db.to_string()));
        }
        let mut psql = self.command("psql", false);
        psql.env("PGCONNECT_TIMEOUT", "10")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", LISTEN_ADDRESS, "-p", &self.port.to_string()])
            .args(["-U", SUPERUSER, "-d", db])
            .arg("-c")
            .arg(sql);
        self.run(psql, "psql", false)
    }

    /// Stops the server the way a crash would, for failure tests:
    /// `pg_ctl stop -m immediate` makes every server process exit at once,
    /// with no checkpoint and no goodbye to clients, whose connections break.
    /// The next [`restart`](Self::restart) runs crash recovery and finds
    /// every committed row. Stopping a stopped server does nothing.
    pub fn kill_server(&mut self) -> Result<(), Error> {
        if !self.running {
            return Ok(());
        }
        let mut pg_ctl = self.command("pg_ctl", true);
        pg_ctl
            .arg("stop")
            .args(["-m", "immediate", "-w", "-t"])
            .arg(PG_CTL_TIMEOUT_SECS.to_string())
            .arg("-D")
            .arg(self.data_dir());
        self.run(pg_ctl, "pg_ctl", true)?;
        self.running = false;
        Ok(())
    }

    /// Starts the server again on the same port, so URLs handed out before
    /// stay valid; kills it first (as [`kill_server`](Self::kill_server))
    /// if it is running. Fails if another process took the port meanwhile:
    /// moving to another port would break those URLs.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.kill_server()?;
        match self.start_server(self.port)? {
            Started::Yes => Ok(()),
            Started::PortTaken(log) => Err(Error::PortsExhausted { attempts: 1, log }),
        }
    }

    /// Whether the server was started and not stopped since. Does not notice
    /// a server that died on its own; [`postmaster_pid`](Self::postmaster_pid)
    /// and connecting do.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The pid of the running server's main process, from `postmaster.pid`;
    /// `None` when the server is not running.
    pub fn postmaster_pid(&self) -> Option<u32> {
        let text = fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// The temp dir holding the cluster: `data/`, `sock/` and `server.log`.
    /// Removed on drop.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("dir is only taken in drop").path()
    }

    /// The data directory `initdb` made.
    pub fn data_dir(&self) -> PathBuf {
        self.dir().join("data")
    }

    /// The directory of the server's Unix socket (`-k`), private to the
    /// server's user. Tests connect over TCP; this is for `psql -h`.
    pub fn socket_dir(&self) -> PathBuf {
        self.dir().join("sock")
    }

    /// The server's log file (`pg_ctl -l`), rewritten at each start.
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("server.log")
    }

    /// The server log so far, for a failing test's message; empty if it
    /// cannot be read.
    pub fn server_log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The PEM file of the CA that signed the server's certificate, for a
    /// client's `sslrootcert`; `None` unless started with [`Builder::tls`].
    /// Readable by the calling user, in the cluster's temp dir.
    pub fn ca_cert_path(&self) -> Option<PathBuf> {
        self.tls.then(|| self.dir().join("ca.crt"))
    }

    /// The directory the binaries came from.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// A command for `program` from the bin dir: run in the temp dir (a cwd
    /// the unprivileged user may not be able to read would break `initdb`),
    /// with every `PG*` variable removed (a stray `PGDATA`, `PGPORT` or
    /// `PGOPTIONS` from the caller must not redirect it) and messages in the
    /// C locale. `as_server` runs it as the unprivileged user when root.
    fn command(&self, program: &str, as_server: bool) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        for (key, _) in std::env::vars_os() {
            if key.as_bytes().starts_with(b"PG") {
                cmd.env_remove(key);
            }
        }
        cmd.env("LC_ALL", "C").current_dir(self.dir());
        if let (true, Some(user)) = (as_server, &self.run_as) {
            cmd.uid(user.uid).gid(user.gid);
        }
        cmd
    }

    /// Runs `cmd` to completion. A spawn failure as the unprivileged user is
    /// most often a temp dir it cannot reach (the child changes into it
    /// before exec), so that error says so.
    fn spawn(&self, cmd: &mut Command, as_server: bool) -> Result<Output, Error> {
        cmd.output().map_err(|source| {
            let mut what = format!("running {}", Path::new(cmd.get_program()).display());
            if let (true, Some(user)) = (as_server, &self.run_as) {
                what.push_str(&format!(
                    " as {} in {} (running as root; can {} search every parent of that dir and read the binaries? set TMPDIR or Builder::temp_root elsewhere, e.g. /tmp)",
                    user.name,
                    self.dir().display(),
                    user.name
                ));
            }
            Error::Io { what, source }
        })
    }

    /// Runs `cmd` and fails unless it exits successfully.
    fn run(&self, mut cmd: Command, program: &str, as_server: bool) -> Result<Output, Error> {
        let output = self.spawn(&mut cmd, as_server)?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(Error::Command {
                program: program.to_string(),
                status: output.status,
                output: combined(&output),
            })
        }
    }

    /// `initdb` with the superuser, [`AUTH`], UTF-8 and the C locale.
    ///
    /// `--locale=C`: text sorts by bytes and behaves the same on every
    /// machine, whatever locales it has installed. The trade-off: a
    /// production cluster made with a linguistic locale may order text
    /// differently, so the store must say `COLLATE "C"` (or order by
    /// non-text keys) wherever order matters, and tests here would not catch
    /// a query that relies on the locale. `--no-sync`: `initdb` does not
    /// flush the new files, with the same trade-off as `fsync=off` in
    /// [`SERVER_SETTINGS`].
    fn initdb(&self) -> Result<(), Error> {
        let mut initdb = self.command("initdb", true);
        initdb
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", SUPERUSER])
            .arg(format!("--auth={AUTH}"))
            .args(["--encoding=UTF8", "--locale=C", "--no-sync"]);
        self.run(initdb, "initdb", true).map(drop)
    }

    /// Writes the CA certificate into the temp dir and the server's
    /// certificate and key into the data dir. The server refuses a key
    /// file others can read or that it does not own, so both are 0600 and,
    /// when running as root, chowned to the server's user.
    fn write_certificates(&self) -> Result<(), Error> {
        let certs = tls::server_certificates()?;
        let data = self.data_dir();
        for (path, text) in [
            (self.dir().join("ca.crt"), &certs.ca_pem),
            (data.join(SERVER_CERT_FILE), &certs.cert_pem),
            (data.join(SERVER_KEY_FILE), &certs.key_pem),
        ] {
            fs::write(&path, text).map_err(io_err(format!("writing {}", path.display())))?;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
                .map_err(io_err(format!("making {} private", path.display())))?;
            if let Some(user) = &self.run_as {
                chown(&path, Some(user.uid), Some(user.gid)).map_err(io_err(format!(
                    "chowning {} to {}",
                    path.display(),
                    user.name
                )))?;
            }
        }
        Ok(())
    }

    /// One `pg_ctl start -w` on `port`. A port collision is
    /// `Ok(Started::PortTaken)`, any other failure an error.
    fn start_server(&mut self, port: u16) -> Result<Started, Error> {
        let log = self.log_path();
        match fs::remove_file(&log) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(format!("removing {}", log.display()))(e)),
        }
        let mut options = OsString::from(format!(
            "-c listen_addresses={LISTEN_ADDRESS} -p {port} -k "
        ));
        options.push(sh_quote(self.socket_dir().as_os_str()));
        for setting in SERVER_SETTINGS {
            options.push(format!(" -c {setting}"));
        }
        if self.tls {
            // Relative paths are taken from the data dir.
            options.push(format!(
                " -c ssl=on -c ssl_cert_file={SERVER_CERT_FILE} -c ssl_key_file={SERVER_KEY_FILE}"
            ));
        }
        let mut pg_ctl = self.command("pg_ctl", true);
        pg_ctl
            .args(["start", "-w", "-t"])
            .arg(PG_CTL_TIMEOUT_SECS.to_string())
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(&log)
            .arg("-o")
            .arg(options);
        let output = self.spawn(&mut pg_ctl, true)?;
        if output.status.success() {
            self.port = port;
            self.running = true;
            return Ok(Started::Yes);
        }
        let server_log = self.server_log();
        if is_port_collision(&server_log) {
            return Ok(Started::PortTaken(server_log));
        }
        Err(Error::Command {
            program: "pg_ctl start".into(),
            status: output.status,
            output: format!(
                "{}\n--- server log ({}), last lines:\n{}",
                combined(&output),
                log.display(),
                tail(&server_log, 40)
            ),
        })
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running
            && let Err(e) = self.kill_server()
        {
            let _ = writeln!(
                io::stderr(),
                "buildsnap-pg-cluster: stopping the server: {e}"
            );
            if let Some(pid) = self.postmaster_pid() {
                // The server is still up and pg_ctl cannot stop it: kill
                // the postmaster so it does not outlive the test; its
                // children exit when they notice it is gone.
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(pid as libc::pid_t, libc::SIGKILL);
                }
            }
        }
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            if let Err(e) = dir.close() {
                let _ = writeln!(
                    io::stderr(),
                    "buildsnap-pg-cluster: removing {}: {e}",
                    path.display()
                );
            }
        }
    }
}

fn combined(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !text.is_empty() && !stderr.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&stderr);
    text.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_numerically() {
        let mut v = ["15", "9.6", "10", "17"].map(|s| parse_version(s).unwrap());
        v.sort();
        assert_eq!(v.map(|p| p[0]), [9, 10, 15, 17]);
        assert_eq!(parse_version("15-beta"), None);
    }

    #[test]
    fn debian_search_takes_the_highest_complete_major() {
        let root = tempfile::tempdir().unwrap();
        for (major, binaries) in [
            ("13", &REQUIRED_BINARIES[..]),
            ("9.6", &REQUIRED_BINARIES[..]),
            ("16", &REQUIRED_BINARIES[..3]), // no psql: skipped
            ("notaversion", &REQUIRED_BINARIES[..]),
        ] {
            let bin = root.path().join(major).join("bin");
            fs::create_dir_all(&bin).unwrap();
            for name in binaries {
                let path = bin.join(name);
                fs::write(&path, "#!/bin/sh\n").unwrap();
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        assert_eq!(
            debian_bin_dir(root.path()),
            Some(root.path().join("13").join("bin"))
        );
        assert_eq!(debian_bin_dir(&root.path().join("absent")), None);
    }

    #[test]
    fn bad_bin_dir_is_an_error_not_a_skip() {
        let err = PgCluster::builder()
            .bin_dir("/nonexistent/buildsnap-pg-bin")
            .start()
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::BadBinDir {
                    missing: "initdb",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh_quote(OsStr::new("/tmp/a b")), "'/tmp/a b'");
        assert_eq!(sh_quote(OsStr::new("it's")), "'it'\\''s'");
    }

    #[test]
    fn database_names() {
        for ok in ["a", "_x", "deploys_2", &"a".repeat(63)] {
            assert!(valid_database_name(ok), "{ok}");
        }
        for bad in ["", "2a", "A", "a-b", "a b", "a\"b", &"a".repeat(64)] {
            assert!(!valid_database_name(bad), "{bad}");
        }
    }

    #[test]
    fn collision_and_tail() {
        assert!(is_port_collision(
            "LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use\n"
        ));
        assert!(!is_port_collision(
            "FATAL:  data directory has wrong ownership\n"
        ));
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail("a\nb\n", 5), "a\nb\n");
    }
}
