//! Command line. Every `serve` setting is a flag and an environment
//! variable; the flag wins. The arguments convert into [`Settings`], whose
//! constants are the defaults shown here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::capture::CaptureConfig;
use crate::runtime::limits::DEFAULT_CALL_TIMEOUT;
pub use crate::settings::LogFormat;
use crate::settings::{
    DEFAULT_DATA_DIR, DEFAULT_LISTEN, DEFAULT_LOG, DEFAULT_MAX_CONNECTIONS, MAX_PLUGIN_TIMEOUT,
    Settings, SettingsBuilder, SettingsError,
};

/// The `buildsnap` command line: one subcommand per operation.
#[derive(Debug, Parser)]
#[command(
    name = "buildsnap",
    version,
    about = "Snapshots of CI build state for every deploy"
)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API, the web page and the background workers.
    Serve(ServeArgs),
    /// Organisations (works on the data dir directly; stop nothing first,
    /// SQLite serialises writers).
    Orgs {
        /// What to do with organisations.
        #[command(subcommand)]
        command: OrgsCommand,
    },
    /// Copy a whole installation from the SQLite store of a data dir into
    /// an empty PostgreSQL database, in one transaction (stop the server
    /// first); then serve it with `--database-url` and the same key.
    MigrateStore(MigrateStoreArgs),
    /// Org API tokens (on the data dir directly).
    Tokens {
        /// What to do with org tokens.
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Provider plugins.
    Providers {
        /// What to do with provider plugins.
        #[command(subcommand)]
        command: ProvidersCommand,
    },
    /// Try buildsnap: a CircleCI simulator, a server with a demo org and a
    /// stream of deploys; prints the URL to open and how to sign in.
    Demo(DemoArgs),
    /// For plugin authors and operators.
    Plugin {
        /// What to do.
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// From a pipeline: register a deploy with a running server (org token
    /// in BUILDSNAP_TOKEN); `--wait` prints its snapshot once captured.
    Deploy(DeployArgs),
    /// From a pipeline: wait for a commit's builds and exit 0 when they
    /// passed, 1 when one failed (or there are none), 2 when still running
    /// at the timeout. Org token in BUILDSNAP_TOKEN.
    Gate(GateArgs),
}

/// The `plugin` subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Start a provider plugin: a crate of its own with the contract WIT
    /// vendored, every export implemented against an example CI API,
    /// native tests on a recording, and a README with the build commands.
    New {
        /// The plugin's id (`^[a-z][a-z0-9-]{0,31}$`), e.g. `acme-ci`.
        id: String,
        /// Where to put the crate (must not exist or be empty; default
        /// `./<id>`).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Load a component as `serve` loads a file from its plugins folder and
    /// print its id, name, version, contract, imports, origins, size and
    /// compile time; exit 1 with the reason when it is refused.
    Check {
        /// The component (`.wasm`).
        file: PathBuf,
        /// Print one JSON object instead of lines.
        #[arg(long)]
        json: bool,
        /// Origins to count as granted (as `serve --allow-hosts`).
        #[arg(long, env = "BUILDSNAP_ALLOW_HOSTS", default_value = "")]
        allow_hosts: String,
    },
    /// Run one export of a component in the real sandbox and print its
    /// result as JSON; exit 1 when it fails (its error printed as JSON too).
    Call {
        /// The component (`.wasm`).
        file: PathBuf,
        /// The export, by its WIT name: describe, token-help-url,
        /// validate-credentials, list-projects, project-for-repo,
        /// resolve-sha, builds-for-commit, sync, parse-webhook.
        export: String,
        /// The export's input as JSON, in the contract types' shape
        /// (docs/plugin-authors.md).
        #[arg(long)]
        input: Option<String>,
        /// The integration's base URL (default: the plugin's); its origin
        /// is granted for the call.
        #[arg(long)]
        base_url: Option<String>,
        /// Name of the environment variable holding the provider token
        /// (a token in a flag would show in process lists).
        #[arg(long)]
        token_env: Option<String>,
        /// A non-secret integration setting, `NAME=VALUE`; repeatable.
        #[arg(long = "setting", value_parser = setting)]
        settings: Vec<(String, String)>,
        /// Another origin the plugin may reach; repeatable.
        #[arg(long = "allow-host")]
        allow_hosts: Vec<String>,
        /// Write every HTTP exchange to this file (the token redacted).
        #[arg(long, conflicts_with = "replay")]
        record: Option<PathBuf>,
        /// Answer HTTP from a file `--record` wrote, with no network; a
        /// request it has no answer for fails the call, named.
        #[arg(long)]
        replay: Option<PathBuf>,
    },
}

/// `NAME=VALUE` of `--setting`.
fn setting(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))
}

/// The server and org the pipeline commands talk to. The org token is read
/// from BUILDSNAP_TOKEN only (never a flag: flags show in process lists).
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// buildsnap's base URL, e.g. `https://buildsnap.example.com`.
    #[arg(long, env = "BUILDSNAP_SERVER")]
    pub server: String,
    /// The org's slug.
    #[arg(long, env = "BUILDSNAP_ORG")]
    pub org: String,
}

/// Arguments of `deploy`.
#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    /// Where to register it.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Project slug.
    #[arg(long)]
    pub project: String,
    /// The deployed commit: 7 to 40 hex characters.
    #[arg(long)]
    pub sha: String,
    /// Environment (server default: production).
    #[arg(long)]
    pub environment: Option<String>,
    /// Deploy time, RFC 3339 (default: now).
    #[arg(long)]
    pub deployed_at: Option<String>,
    /// Code deployment slug (needed when the project has several).
    #[arg(long)]
    pub code_deployment: Option<String>,
    /// Wait until the snapshot is captured and print it (exit 2 if it is
    /// still pending at the timeout).
    #[arg(long)]
    pub wait: bool,
    /// Seconds `--wait` waits at most.
    #[arg(long, default_value_t = 600, requires = "wait",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
}

/// Arguments of `gate`.
#[derive(Debug, Clone, Args)]
pub struct GateArgs {
    /// Where to ask.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Project slug.
    #[arg(long)]
    pub project: String,
    /// The commit to gate: 7 to 40 hex characters.
    #[arg(long)]
    pub sha: String,
    /// Seconds to wait for the builds to finish (the server's limit: 600).
    #[arg(long, default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(0..=600))]
    pub timeout: u64,
}

/// Arguments of `demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Address of the web page and API.
    #[arg(long, default_value_t = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Keep the demo's state in this (new or empty) directory. Default: a
    /// temporary directory, removed at exit.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Seconds between the deploys the demo registers.
    #[arg(long, default_value_t = 8)]
    pub deploy_every: u64,
    /// Log filter of the server, tracing syntax.
    #[arg(long, default_value = "warn")]
    pub log: String,
}

/// The `orgs` subcommands.
#[derive(Debug, Subcommand)]
pub enum OrgsCommand {
    /// Create an organisation.
    Create {
        /// `^[a-z0-9][a-z0-9-]{0,62}$`
        slug: String,
        /// Display name (defaults to the slug).
        #[arg(long)]
        name: Option<String>,
        /// Where the state is.
        #[command(flatten)]
        data: DataArgs,
    },
}

/// The `tokens` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create an org token; it is printed once and stored hashed.
    Create {
        /// The org's slug.
        #[arg(long)]
        org: String,
        /// A name to recognise the token by.
        #[arg(long)]
        name: String,
        /// `all`, or `register_deploy` for CI scripts that only report deploys.
        #[arg(long, default_value = "all")]
        scope: String,
        /// Where the state is.
        #[command(flatten)]
        data: DataArgs,
    },
}

/// The `providers` subcommands.
#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// Load the plugins as `serve` would and list them, with load failures.
    List {
        /// Which plugins to load.
        #[command(flatten)]
        plugins: PluginArgs,
        /// Where the state is.
        #[command(flatten)]
        data: DataArgs,
    },
}

/// Where the state is and the key that encrypts it: shared by `serve`
/// and the operator commands.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// SQLite database and other state.
    #[arg(long, env = "BUILDSNAP_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Key that encrypts provider tokens at rest: 64 hex characters or
    /// base64 of 32 bytes. Default: a key file created in the data dir.
    #[arg(
        long,
        env = "BUILDSNAP_SECRET_KEY",
        hide_env_values = true,
        hide = true
    )]
    pub secret_key: Option<String>,
    /// Read the key that encrypts provider tokens from this file instead.
    #[arg(long)]
    pub secret_key_file: Option<PathBuf>,
    /// Keep the state in this PostgreSQL database
    /// (`postgres://user:pass@host:port/db`) instead of SQLite in the data
    /// dir. The secret key must then be given, the same on every start;
    /// several servers (replicas) may share one database. TLS by the URL's
    /// `sslmode` (`verify-full&sslrootcert=<CA PEM>` recommended).
    #[arg(long, env = "BUILDSNAP_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// Arguments of `migrate-store`.
#[derive(Debug, Clone, Args)]
pub struct MigrateStoreArgs {
    /// The SQLite data dir to copy (the one holding `buildsnap.db`); no
    /// server may be running on it.
    #[arg(long)]
    pub from: PathBuf,
    /// The empty PostgreSQL database to copy into
    /// (`postgres://user:pass@host:port/db`). Default: BUILDSNAP_DATABASE_URL,
    /// which keeps the password out of process lists.
    #[arg(long, env = "BUILDSNAP_DATABASE_URL", hide_env_values = true)]
    pub to: String,
    /// The key that encrypts provider tokens, as `serve` takes it. Default:
    /// the key file `secret.key` of the `--from` data dir.
    #[arg(
        long,
        env = "BUILDSNAP_SECRET_KEY",
        hide_env_values = true,
        hide = true
    )]
    pub secret_key: Option<String>,
    /// Read the key that encrypts provider tokens from this file instead.
    #[arg(long)]
    pub secret_key_file: Option<PathBuf>,
}

/// Which plugins load and where they may connect: shared by `serve` and
/// `providers list`.
#[derive(Debug, Clone, Args)]
pub struct PluginArgs {
    /// Extra provider plugins (*.wasm) to load besides the built-in ones.
    #[arg(long, env = "BUILDSNAP_PLUGINS_DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// Extra outbound origins granted to plugins, comma-separated patterns
    /// such as `https://circleci.example.com` or `http://127.0.0.1:*`.
    #[arg(long, env = "BUILDSNAP_ALLOW_HOSTS", default_value = "")]
    pub allow_hosts: String,
}

/// Arguments of `serve`; [`ServeArgs::settings`] turns them into
/// [`Settings`].
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address of the HTTP API and web page.
    #[arg(long, env = "BUILDSNAP_LISTEN", default_value_t = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Where the state is.
    #[command(flatten)]
    pub data: DataArgs,
    /// Which plugins to load.
    #[command(flatten)]
    pub plugins: PluginArgs,
    /// Reload the plugins folder when a file in it is added, changed or
    /// removed (`false`: only SIGHUP reloads it).
    #[arg(long, env = "BUILDSNAP_WATCH_PLUGINS", default_value_t = true,
          action = clap::ArgAction::Set)]
    pub watch_plugins: bool,
    /// Admin bearer token. Default: generated at first start, printed
    /// once, stored hashed.
    #[arg(long, env = "BUILDSNAP_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Seconds between background refreshes of recent builds; 0 turns it off.
    #[arg(long, env = "BUILDSNAP_SYNC_INTERVAL",
          default_value_t = CaptureConfig::default().sync_interval.as_secs())]
    pub sync_interval: u64,
    /// Deploy snapshots captured at once. More drains a burst of deploys
    /// sooner; each capture holds one provider call slot of its integration.
    #[arg(long, env = "BUILDSNAP_CAPTURE_CONCURRENCY", default_value_t = CaptureConfig::default().concurrency as u32,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub capture_concurrency: u32,
    /// Tries of a capture (on timeouts, 5xx, rate limits) before its
    /// snapshot ends in `error`; retries back off from 1 s to 5 min.
    #[arg(long, env = "BUILDSNAP_CAPTURE_ATTEMPTS", default_value_t = CaptureConfig::default().max_attempts,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub capture_attempts: u32,
    /// Seconds a replica's claim on a capture job lasts without renewal
    /// (renewed every third of it). Shorter: a dead replica's captures are
    /// taken over sooner, for more renewal writes to the database.
    #[arg(long, env = "BUILDSNAP_CAPTURE_LEASE_SECONDS",
          default_value_t = CaptureConfig::default().lease.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub capture_lease_seconds: u64,
    /// Newest pipelines a commit search looks through before it gives up on
    /// an unknown SHA (each page of 20 is one provider request).
    #[arg(long, env = "BUILDSNAP_SEARCH_MAX_PIPELINES", default_value_t = CaptureConfig::default().search_max_pipelines,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub search_max_pipelines: u32,
    /// Seconds one plugin call may take, waiting and HTTP included, before
    /// it is stopped (a stuck or looping plugin ends here).
    #[arg(long, env = "BUILDSNAP_PLUGIN_TIMEOUT",
          default_value_t = DEFAULT_CALL_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=MAX_PLUGIN_TIMEOUT.as_secs()))]
    pub plugin_timeout: u64,
    /// Most HTTP connections served at once. Past it `/healthz` still
    /// answers and other requests get 503 `overloaded`; keep it below the
    /// process's open-file limit (`ulimit -n`).
    #[arg(long, env = "BUILDSNAP_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS as u32,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Days build-index rows no snapshot needs are kept (finished builds
    /// not seen since, old commit searches, old webhook delivery ids);
    /// snapshots are always kept. 0 keeps them for ever.
    #[arg(long, env = "BUILDSNAP_INDEX_RETENTION_DAYS", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub index_retention_days: u32,
    /// Log filter, tracing syntax (`info`, `buildsnap=debug,plugin=trace`).
    #[arg(long, env = "BUILDSNAP_LOG", default_value = DEFAULT_LOG)]
    pub log: String,
    /// Log line format.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

impl DataArgs {
    /// These arguments applied to `b`.
    pub fn apply(&self, b: SettingsBuilder) -> SettingsBuilder {
        b.data_dir(&self.data_dir)
            .database_url(self.database_url.clone())
            .secret_key(self.secret_key.clone())
            .secret_key_file(self.secret_key_file.clone())
    }

    /// Settings with these arguments and every other default (the operator
    /// commands that only open the store).
    pub fn settings(&self) -> Result<Settings, SettingsError> {
        self.apply(Settings::builder()).build()
    }
}

impl PluginArgs {
    /// These arguments applied to `b`.
    pub fn apply(&self, b: SettingsBuilder) -> SettingsBuilder {
        b.plugins_dir(self.plugins_dir.clone())
            .allow_hosts(&self.allow_hosts)
    }
}

impl ServeArgs {
    /// The settings these arguments describe (defaults where none given).
    pub fn settings(&self) -> Result<Settings, SettingsError> {
        let b = self.plugins.apply(self.data.apply(Settings::builder()));
        b.listen(self.listen)
            .watch_plugins(self.watch_plugins)
            .admin_token(self.admin_token.clone())
            .sync_interval(Duration::from_secs(self.sync_interval))
            .capture_with(|c| {
                c.concurrency = self.capture_concurrency as usize;
                c.max_attempts = self.capture_attempts;
                c.lease = Duration::from_secs(self.capture_lease_seconds);
                c.search_max_pipelines = self.search_max_pipelines;
            })
            .plugin_timeout(Duration::from_secs(self.plugin_timeout))
            .max_connections(self.max_connections as usize)
            .index_retention(
                (self.index_retention_days > 0)
                    .then(|| Duration::from_secs(u64::from(self.index_retention_days) * 86_400)),
            )
            .log(&self.log)
            .log_format(self.log_format)
            .build()
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    fn serve(args: &[&str]) -> Result<super::ServeArgs, clap::Error> {
        let argv = ["buildsnap", "serve"].iter().chain(args).copied();
        match Cli::try_parse_from(argv)?.command {
            Command::Serve(a) => Ok(a),
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn capture_settings_have_defaults_flags_and_bounds() {
        let d = serve(&[]).unwrap();
        assert_eq!(
            (
                d.capture_concurrency,
                d.capture_attempts,
                d.search_max_pipelines
            ),
            (4, 8, 2000)
        );
        let a = serve(&[
            "--capture-concurrency",
            "16",
            "--capture-attempts",
            "3",
            "--search-max-pipelines",
            "500",
        ])
        .unwrap();
        assert_eq!(
            (
                a.capture_concurrency,
                a.capture_attempts,
                a.search_max_pipelines
            ),
            (16, 3, 500)
        );
        for bad in [
            ["--capture-concurrency", "0"],
            ["--capture-attempts", "0"],
            ["--search-max-pipelines", "0"],
            ["--capture-concurrency", "65"],
        ] {
            let e = serve(&bad).unwrap_err().to_string();
            assert!(e.contains(bad[0]), "{bad:?}: {e}");
        }
    }

    #[test]
    fn index_retention_is_off_by_default_and_given_in_days() {
        let s = serve(&[]).unwrap().settings().unwrap();
        assert_eq!(s.index_retention, None);
        let s = serve(&["--index-retention-days", "30"])
            .unwrap()
            .settings()
            .unwrap();
        assert_eq!(
            s.index_retention,
            Some(std::time::Duration::from_secs(30 * 86_400))
        );
        let s = serve(&["--index-retention-days", "0"])
            .unwrap()
            .settings()
            .unwrap();
        assert_eq!(s.index_retention, None);
        for bad in ["36501", "a month"] {
            let e = serve(&["--index-retention-days", bad])
                .unwrap_err()
                .to_string();
            assert!(e.contains("--index-retention-days"), "{bad}: {e}");
        }
    }

    #[test]
    fn serve_args_become_settings_with_the_plugin_timeout() {
        let s = serve(&[]).unwrap().settings().unwrap();
        assert_eq!(s.plugin_timeout, std::time::Duration::from_secs(30));
        let s = serve(&["--plugin-timeout", "1", "--capture-concurrency", "2"])
            .unwrap()
            .settings()
            .unwrap();
        assert_eq!(s.plugin_timeout, std::time::Duration::from_secs(1));
        assert_eq!(
            s.plugin_limits().call_timeout,
            std::time::Duration::from_secs(1)
        );
        assert_eq!(s.capture.concurrency, 2);
        for bad in ["0", "3601", "soon"] {
            let e = serve(&["--plugin-timeout", bad]).unwrap_err().to_string();
            assert!(e.contains("--plugin-timeout"), "{bad}: {e}");
        }
    }
}
