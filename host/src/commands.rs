//! Operator subcommands besides `serve`. They work on the data dir
//! directly (SQLite serialises writers, so a running server is fine).

use buildsnap_store::Scope;

use crate::cli::{OrgsCommand, ProvidersCommand, TokensCommand};
use crate::serve::{load_plugins, open_store};
use crate::settings::Settings;

/// Run an `orgs` subcommand.
pub fn orgs(command: OrgsCommand) -> anyhow::Result<()> {
    match command {
        OrgsCommand::Create { slug, name, data } => {
            let store = open_store(&data.settings()?)?;
            let org = store.create_org(&slug, name.as_deref().unwrap_or(&slug))?;
            println!("created org {} ({})", org.slug, org.name);
            Ok(())
        }
    }
}

/// Run a `tokens` subcommand; the new token goes to stdout alone.
pub fn tokens(command: TokensCommand) -> anyhow::Result<()> {
    match command {
        TokensCommand::Create {
            org,
            name,
            scope,
            data,
        } => {
            let scope = match scope.as_str() {
                "all" => Scope::All,
                "register_deploy" => Scope::RegisterDeploy,
                other => anyhow::bail!("unknown scope `{other}`: use `all` or `register_deploy`"),
            };
            let store = open_store(&data.settings()?)?;
            let token = store.create_token(&org, &name, scope)?;
            // The token itself on stdout alone, for `$(buildsnap tokens create ...)`.
            eprintln!(
                "created {} token `{}` for org {org} (shown once)",
                scope.as_str(),
                token.name
            );
            println!("{}", token.token);
            Ok(())
        }
    }
}

/// Run a `providers` subcommand.
pub async fn providers(command: ProvidersCommand) -> anyhow::Result<()> {
    match command {
        ProvidersCommand::List { plugins, data } => {
            buildsnap_store::create_data_dir(&data.data_dir)?;
            let settings = plugins.apply(data.apply(Settings::builder())).build()?;
            let registry = load_plugins(&settings).await?;
            for p in registry.plugins() {
                println!(
                    "{:<12} {:<16} {:<8} contract {}  {}",
                    p.info.id, p.info.name, p.info.version, p.info.api_version, p.info.source
                );
            }
            for f in registry.failures() {
                println!("FAILED       {}: {}", f.source, f.error);
            }
            Ok(())
        }
    }
}
