//! Operator subcommands besides `serve`. They work on the data dir
//! directly (SQLite serialises writers, so a running server is fine),
//! except `migrate-store`, which needs the data dir alone.

use anyhow::Context;
use buildsnap_store::{CopyReport, Scope, SecretKey, StoreError};

use crate::cli::{MigrateStoreArgs, OrgsCommand, ProvidersCommand, TokensCommand};
use crate::serve::{load_plugins, open_store};
use crate::settings::{Settings, redact_database_url};

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

/// Run `migrate-store`: copy the SQLite store of `--from` into the empty
/// PostgreSQL database of `--to` and print what was copied. The key is
/// taken as `serve` takes it (`--secret-key-file`, then
/// BUILDSNAP_SECRET_KEY), else from the data dir's key file, which is
/// only read: a data dir without one has nothing sealed to copy with it.
pub fn migrate_store(args: MigrateStoreArgs) -> anyhow::Result<()> {
    let shown = redact_database_url(&args.to);
    let key = match (&args.secret_key_file, &args.secret_key) {
        (Some(path), _) => SecretKey::from_file(path)?,
        (None, Some(text)) => SecretKey::parse(text, "BUILDSNAP_SECRET_KEY")?,
        (None, None) => {
            let path = args.from.join(SecretKey::FILE_NAME);
            if !path.is_file() {
                anyhow::bail!(
                    "no secret key given and no key file {}: give the key the data dir is \
                     served with (BUILDSNAP_SECRET_KEY or --secret-key-file)",
                    path.display()
                );
            }
            SecretKey::from_file(&path)?
        }
    };
    let report = buildsnap_store::copy_to_postgres(&args.from, key, &args.to)
        .map_err(|e| match e {
            StoreError::WrongSecretKey => anyhow::anyhow!(
                "the secret key does not open the data dir's stored tokens: give the key it is \
                 served with (BUILDSNAP_SECRET_KEY or --secret-key-file); nothing was copied"
            ),
            e => anyhow::Error::new(e),
        })
        .with_context(|| format!("copying {} to PostgreSQL at {shown}", args.from.display()))?;
    print!("{}", report_text(&report, &args.from, &shown));
    Ok(())
}

/// The report `migrate-store` prints: a line per table, then the totals.
fn report_text(r: &CopyReport, from: &std::path::Path, shown_url: &str) -> String {
    let mut out = format!(
        "copied {} to PostgreSQL at {shown_url} (schema version {}), in one transaction:\n",
        from.display(),
        r.schema_version
    );
    for t in &r.tables {
        out.push_str(&format!(
            "  {:<20} {:>10} rows {:>12} bytes\n",
            t.table, t.rows, t.bytes
        ));
    }
    let secs = r.elapsed.as_secs_f64();
    out.push_str(&format!(
        "total: {} rows, {} bytes in {secs:.2} s ({:.0} rows/s); {} sealed values opened with the key\n",
        r.rows(),
        r.bytes(),
        r.rows() as f64 / secs.max(1e-9),
        r.sealed_checked
    ));
    out.push_str(
        "next: serve it with --database-url (or BUILDSNAP_DATABASE_URL) and the same secret key\n",
    );
    out
}
