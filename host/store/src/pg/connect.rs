//! Opening one connection to PostgreSQL from a URL: the one place that
//! parses the URL and chooses the transport, shared by the store's pool
//! (`pool.rs`) and the copy from SQLite (`copy_to_postgres`).

use postgres::{Client, Config, NoTls};

use crate::{Result, StoreError};

/// The parsed connection settings of `url` (a `postgres://` URL or a
/// `key=value` string).
///
/// TLS is not supported yet: a URL asking for it (`sslmode=require`) is
/// refused rather than connected to in the clear.
pub(crate) fn config(url: &str) -> Result<Config> {
    let config: Config = url.parse()?;
    if config.get_ssl_mode() == postgres::config::SslMode::Require {
        return Err(StoreError::Invalid(
            "the PostgreSQL URL asks for sslmode=require, but TLS to PostgreSQL is not \
             supported yet: connect over a trusted network (or a local tunnel) without it"
                .into(),
        ));
    }
    Ok(config)
}

/// One new connection with `config`. sslmode=prefer (the default) falls
/// back to plain with `NoTls`.
pub(crate) fn client(config: &Config) -> Result<Client> {
    Ok(config.connect(NoTls)?)
}
