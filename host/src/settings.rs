//! The settings of a buildsnap server, in one plain struct.
//!
//! `serve` (from its flags and environment, `cli.rs`), `demo` and the tests
//! all build a [`Settings`] with [`Settings::builder`]; `serve::start` takes
//! nothing else. Every default is written once: here for the server's own
//! settings, in [`CaptureConfig::default`] for capture tuning and in
//! [`DEFAULT_CALL_TIMEOUT`] for the plugin call timeout. clap's `--help`
//! shows the same constants.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::capture::CaptureConfig;
use crate::runtime::limits::{DEFAULT_CALL_TIMEOUT, PluginLimits};

/// Address of the HTTP API and web page when none is given.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// The data directory when none is given (relative to the working dir).
pub const DEFAULT_DATA_DIR: &str = "./data";

/// The log filter when none is given.
pub const DEFAULT_LOG: &str = "info";

/// HTTP connections served at once when not set: the API's own default.
pub use buildsnap_api::DEFAULT_MAX_CONNECTIONS;

/// Longest plugin call timeout accepted (one hour): longer would let a
/// stuck plugin hold a concurrency permit for most of a day's captures.
pub const MAX_PLUGIN_TIMEOUT: Duration = Duration::from_secs(3600);

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `url` (a PostgreSQL URL or `key=value` connection string) with its
/// password replaced by `<redacted>`: what logs and `Debug` show.
pub fn redact_database_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, tail) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let Some((userinfo, hosts)) = authority.rsplit_once('@') else {
            return url.to_string();
        };
        let user = match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:<redacted>"),
            None => userinfo.to_string(),
        };
        // A `password=` query parameter too.
        let tail = match tail.split_once('?') {
            Some((path, query)) => format!("{path}?{}", redact_key_values(query, '&')),
            None => tail.to_string(),
        };
        return format!("{scheme}://{user}@{hosts}{tail}");
    }
    redact_key_values(url, ' ')
}

/// `password=...` pairs of a `sep`-separated list, redacted.
fn redact_key_values(s: &str, sep: char) -> String {
    s.split(sep)
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.trim().eq_ignore_ascii_case("password") => {
                format!("{k}=<redacted>")
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join(&sep.to_string())
}

/// Everything `serve::start` needs. Secrets (`secret_key`, `admin_token`,
/// the password in `database_url`) are redacted in `Debug`.
#[derive(Clone)]
pub struct Settings {
    /// Address of the HTTP API and web page.
    pub listen: SocketAddr,
    /// SQLite database, key file and compiled-plugin cache.
    pub data_dir: PathBuf,
    /// Where the state lives: `None` (the default) is SQLite in the data
    /// dir, embedded, nothing else to run; a `postgres://` URL puts it in
    /// that PostgreSQL database instead, for state kept apart from the
    /// machine (the server's backups, replication). Trade-off: a server to
    /// run, and then the secret key must be given (`secret_key` or
    /// `secret_key_file`, the same on every replica), never a key file in
    /// the data dir. Several replicas may share one database (claims
    /// under leases, `CaptureConfig::lease`). TLS by the URL's `sslmode`
    /// and `sslrootcert` (libpq's meaning; `verify-full` checks the
    /// server, `prefer`, the default, does not). May hold a password: redacted in `Debug` and logs
    /// ([`redact_database_url`]).
    pub database_url: Option<String>,
    /// The key that encrypts provider tokens, as text (hex or base64).
    pub secret_key: Option<String>,
    /// A file holding that key instead.
    pub secret_key_file: Option<PathBuf>,
    /// Extra provider plugins (`*.wasm`) besides the built-in ones.
    pub plugins_dir: Option<PathBuf>,
    /// Reload the plugins folder when its files change. Off, only SIGHUP
    /// reloads it: for folders where file events do not arrive (network
    /// file systems) or operators who want each change applied by hand.
    pub watch_plugins: bool,
    /// Extra outbound origins granted to plugins, comma-separated patterns.
    pub allow_hosts: String,
    /// The admin bearer token; generated at first start when absent.
    pub admin_token: Option<String>,
    /// Wall-clock budget of one plugin call (`PluginLimits::call_timeout`).
    pub plugin_timeout: Duration,
    /// Most HTTP connections served at once (the API's overflow lane answers
    /// past it).
    pub max_connections: usize,
    /// How long build-index rows no snapshot needs are kept; `None` keeps
    /// them for ever (the store's `retention.rs` says which rows go).
    pub index_retention: Option<Duration>,
    /// Capture and sync tuning.
    pub capture: CaptureConfig,
    /// Log filter, tracing syntax.
    pub log: String,
    /// Log line format.
    pub log_format: LogFormat,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_database_url),
            )
            .field("secret_key", &redact(&self.secret_key))
            .field("secret_key_file", &self.secret_key_file)
            .field("plugins_dir", &self.plugins_dir)
            .field("watch_plugins", &self.watch_plugins)
            .field("allow_hosts", &self.allow_hosts)
            .field("admin_token", &redact(&self.admin_token))
            .field("plugin_timeout", &self.plugin_timeout)
            .field("max_connections", &self.max_connections)
            .field("index_retention", &self.index_retention)
            .field("capture", &self.capture)
            .field("log", &self.log)
            .field("log_format", &self.log_format)
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: DEFAULT_LISTEN,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            database_url: None,
            secret_key: None,
            secret_key_file: None,
            plugins_dir: None,
            watch_plugins: true,
            allow_hosts: String::new(),
            admin_token: None,
            plugin_timeout: DEFAULT_CALL_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            index_retention: None,
            capture: CaptureConfig::default(),
            log: DEFAULT_LOG.to_string(),
            log_format: LogFormat::default(),
        }
    }
}

impl Settings {
    /// A builder starting from the defaults.
    pub fn builder() -> SettingsBuilder {
        SettingsBuilder(Settings::default())
    }

    /// The limits every plugin runs under.
    pub fn plugin_limits(&self) -> PluginLimits {
        PluginLimits {
            call_timeout: self.plugin_timeout,
            ..PluginLimits::default()
        }
    }
}

/// Why settings were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    /// The plugin call timeout is zero or above [`MAX_PLUGIN_TIMEOUT`].
    #[error("plugin timeout must be between 1 s and {max} s, got {0:?}", max = MAX_PLUGIN_TIMEOUT.as_secs())]
    PluginTimeout(Duration),
    /// No connection could ever be served.
    #[error("max connections must be at least 1")]
    MaxConnections,
    /// No capture could ever run.
    #[error("capture concurrency must be at least 1")]
    CaptureConcurrency,
    /// A capture would end before its first attempt.
    #[error("capture attempts must be at least 1")]
    CaptureAttempts,
    /// A lease that runs out at once would let every replica take every job.
    #[error("the capture lease must be at least 1 s, got {0:?}")]
    CaptureLease(Duration),
}

/// Builds [`Settings`]; every method overrides one default.
#[derive(Debug, Clone)]
pub struct SettingsBuilder(Settings);

impl SettingsBuilder {
    /// Address of the HTTP API and web page.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.0.listen = addr;
        self
    }

    /// The data directory.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.0.data_dir = dir.into();
        self
    }

    /// The PostgreSQL database holding the state (`None`: SQLite in the
    /// data dir).
    pub fn database_url(mut self, url: Option<String>) -> Self {
        self.0.database_url = url;
        self
    }

    /// The key that encrypts provider tokens, as text.
    pub fn secret_key(mut self, key: Option<String>) -> Self {
        self.0.secret_key = key;
        self
    }

    /// A file holding the key that encrypts provider tokens.
    pub fn secret_key_file(mut self, path: Option<PathBuf>) -> Self {
        self.0.secret_key_file = path;
        self
    }

    /// Extra provider plugins.
    pub fn plugins_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.0.plugins_dir = dir;
        self
    }

    /// Whether file changes reload the plugins folder (default true;
    /// SIGHUP always does).
    pub fn watch_plugins(mut self, on: bool) -> Self {
        self.0.watch_plugins = on;
        self
    }

    /// Extra outbound origins granted to plugins.
    pub fn allow_hosts(mut self, patterns: impl Into<String>) -> Self {
        self.0.allow_hosts = patterns.into();
        self
    }

    /// The admin bearer token.
    pub fn admin_token(mut self, token: Option<String>) -> Self {
        self.0.admin_token = token;
        self
    }

    /// Wall-clock budget of one plugin call.
    pub fn plugin_timeout(mut self, timeout: Duration) -> Self {
        self.0.plugin_timeout = timeout;
        self
    }

    /// Most HTTP connections served at once.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.0.max_connections = n;
        self
    }

    /// How long index rows no snapshot needs are kept (`None`: for ever).
    pub fn index_retention(mut self, keep: Option<Duration>) -> Self {
        self.0.index_retention = keep;
        self
    }

    /// Seconds between background syncs; zero turns the sync off.
    pub fn sync_interval(mut self, interval: Duration) -> Self {
        self.0.capture.sync_interval = interval;
        self
    }

    /// Capture and sync tuning, whole.
    pub fn capture(mut self, capture: CaptureConfig) -> Self {
        self.0.capture = capture;
        self
    }

    /// Changes some capture settings in place (the rest keep their defaults).
    pub fn capture_with(mut self, f: impl FnOnce(&mut CaptureConfig)) -> Self {
        f(&mut self.0.capture);
        self
    }

    /// Log filter.
    pub fn log(mut self, filter: impl Into<String>) -> Self {
        self.0.log = filter.into();
        self
    }

    /// Log line format.
    pub fn log_format(mut self, format: LogFormat) -> Self {
        self.0.log_format = format;
        self
    }

    /// The settings, checked.
    pub fn build(self) -> Result<Settings, SettingsError> {
        let s = self.0;
        if s.plugin_timeout.is_zero() || s.plugin_timeout > MAX_PLUGIN_TIMEOUT {
            return Err(SettingsError::PluginTimeout(s.plugin_timeout));
        }
        if s.max_connections == 0 {
            return Err(SettingsError::MaxConnections);
        }
        if s.capture.concurrency == 0 {
            return Err(SettingsError::CaptureConcurrency);
        }
        if s.capture.max_attempts == 0 {
            return Err(SettingsError::CaptureAttempts);
        }
        if s.capture.lease < Duration::from_secs(1) {
            return Err(SettingsError::CaptureLease(s.capture.lease));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_one_place_and_bad_values_are_refused() {
        let s = Settings::builder().build().unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.plugin_timeout, Duration::from_secs(30));
        assert_eq!(s.plugin_limits().call_timeout, Duration::from_secs(30));
        assert_eq!(s.capture.concurrency, CaptureConfig::default().concurrency);
        let e = Settings::builder()
            .plugin_timeout(Duration::ZERO)
            .build()
            .unwrap_err();
        assert_eq!(e, SettingsError::PluginTimeout(Duration::ZERO));
        assert!(e.to_string().contains("between 1 s and 3600 s"), "{e}");
        let e = Settings::builder()
            .capture_with(|c| c.concurrency = 0)
            .build()
            .unwrap_err();
        assert_eq!(e, SettingsError::CaptureConcurrency);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let s = Settings::builder()
            .admin_token(Some("admin-secret-123".into()))
            .secret_key(Some("key-secret-456".into()))
            .build()
            .unwrap();
        let d = format!("{s:?}");
        assert!(
            !d.contains("admin-secret-123") && !d.contains("key-secret-456"),
            "{d}"
        );
        assert!(d.contains("<redacted>"), "{d}");
        let s = Settings::builder()
            .database_url(Some("postgres://bs:pw-secret-789@db:5432/bs".into()))
            .build()
            .unwrap();
        let d = format!("{s:?}");
        assert!(!d.contains("pw-secret-789"), "{d}");
        assert!(d.contains("postgres://bs:<redacted>@db:5432/bs"), "{d}");
    }

    #[test]
    fn database_url_passwords_are_redacted() {
        for (url, shown) in [
            (
                "postgres://bs:s3cr%40t@db.internal:5432/bs?sslmode=require",
                "postgres://bs:<redacted>@db.internal:5432/bs?sslmode=require",
            ),
            ("postgresql://bs@db/bs", "postgresql://bs@db/bs"),
            ("postgres://db/bs", "postgres://db/bs"),
            (
                "postgres://bs@db/bs?password=hunter2&application_name=x",
                "postgres://bs@db/bs?password=<redacted>&application_name=x",
            ),
            (
                "host=db user=bs password=hunter2 dbname=bs",
                "host=db user=bs password=<redacted> dbname=bs",
            ),
            // The TLS options stay, the password goes.
            (
                "postgres://bs:pw@db/bs?sslmode=verify-full&sslrootcert=/etc/ca.pem&password=x",
                "postgres://bs:<redacted>@db/bs?sslmode=verify-full&sslrootcert=/etc/ca.pem&password=<redacted>",
            ),
            (
                "host=db sslmode=verify-full sslrootcert=/etc/ca.pem password=hunter2",
                "host=db sslmode=verify-full sslrootcert=/etc/ca.pem password=<redacted>",
            ),
        ] {
            assert_eq!(redact_database_url(url), shown);
        }
    }
}
