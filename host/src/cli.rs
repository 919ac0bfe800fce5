//! Command line and settings. Every `serve` setting is a flag and an
//! environment variable; the flag wins.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "buildsnap",
    version,
    about = "Snapshots of CI build state for every deploy"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API, the web page and the background workers.
    Serve(ServeArgs),
    /// Organisations (works on the data dir directly; stop nothing first,
    /// SQLite serialises writers).
    Orgs {
        #[command(subcommand)]
        command: OrgsCommand,
    },
    /// Org API tokens (on the data dir directly).
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Provider plugins.
    Providers {
        #[command(subcommand)]
        command: ProvidersCommand,
    },
    /// Try buildsnap: a CircleCI simulator, a server with a demo org and a
    /// stream of deploys; prints the URL to open and how to sign in.
    Demo(DemoArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Address of the web page and API.
    #[arg(long, default_value = "127.0.0.1:8080")]
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

#[derive(Debug, Subcommand)]
pub enum OrgsCommand {
    /// Create an organisation.
    Create {
        /// `^[a-z0-9][a-z0-9-]{0,62}$`
        slug: String,
        /// Display name (defaults to the slug).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
}

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
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// Load the plugins as `serve` would and list them, with load failures.
    List {
        #[command(flatten)]
        plugins: PluginArgs,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// SQLite database and other state.
    #[arg(long, env = "BUILDSNAP_DATA_DIR", default_value = "./data")]
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
}

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

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address of the HTTP API and web page.
    #[arg(long, env = "BUILDSNAP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub plugins: PluginArgs,
    /// Admin bearer token. Default: generated at first start, printed
    /// once, stored hashed.
    #[arg(long, env = "BUILDSNAP_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Seconds between background refreshes of recent builds; 0 turns it off.
    #[arg(long, env = "BUILDSNAP_SYNC_INTERVAL", default_value_t = 300)]
    pub sync_interval: u64,
    /// Deploy snapshots captured at once. More drains a burst of deploys
    /// sooner; each capture holds one provider call slot of its integration.
    #[arg(long, env = "BUILDSNAP_CAPTURE_CONCURRENCY", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub capture_concurrency: u32,
    /// Tries of a capture (on timeouts, 5xx, rate limits) before its
    /// snapshot ends in `error`; retries back off from 1 s to 5 min.
    #[arg(long, env = "BUILDSNAP_CAPTURE_ATTEMPTS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub capture_attempts: u32,
    /// Newest pipelines a commit search looks through before it gives up on
    /// an unknown SHA (each page of 20 is one provider request).
    #[arg(long, env = "BUILDSNAP_SEARCH_MAX_PIPELINES", default_value_t = 2000,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub search_max_pipelines: u32,
    /// Most HTTP connections served at once. Past it `/healthz` still
    /// answers and other requests get 503 `overloaded`; keep it below the
    /// process's open-file limit (`ulimit -n`).
    #[arg(long, env = "BUILDSNAP_MAX_CONNECTIONS", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Log filter, tracing syntax (`info`, `buildsnap=debug,plugin=trace`).
    #[arg(long, env = "BUILDSNAP_LOG", default_value = "info")]
    pub log: String,
    /// Log line format.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
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
}
