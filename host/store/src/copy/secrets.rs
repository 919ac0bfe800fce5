//! Before a copy: every sealed value of the source opens with the key, so
//! that a PostgreSQL store served with the same key can use them all.
//! `Store::open` checks the key against one sealed sample (`meta`'s
//! `key_check`); this opens each provider token, webhook secret and alert
//! hook URL and secret, which also finds a row sealed under another key.

use crate::sql::Tx;
use crate::{Result, Store, alerts, integrations};

/// Opens every sealed value of `store` with its key; how many there were.
/// The first that does not open is
/// [`StoreError::WrongSecretKey`](crate::StoreError::WrongSecretKey).
pub(super) fn check_sealed(store: &Store) -> Result<u64> {
    let key = &store.db.key;
    store.db.read(|tx: &Tx<'_>| {
        let mut opened = 0;
        type Sealed = (i64, String, Option<Vec<u8>>, Option<Vec<u8>>);
        let rows: Vec<Sealed> = tx.query_all(
            "SELECT org_id, provider, token_sealed, webhook_secret_sealed FROM integrations",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        for (org_id, provider, token, secret) in rows {
            if let Some(t) = token {
                key.open(&t, &integrations::aad(org_id, &provider))?;
                opened += 1;
            }
            if let Some(s) = secret {
                key.open(&s, &integrations::webhook_aad(org_id, &provider))?;
                opened += 1;
            }
        }
        let hooks: Vec<(i64, i64, Vec<u8>, Vec<u8>)> = tx.query_all(
            "SELECT id, org_id, url_sealed, secret_sealed FROM alert_hooks",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        for (id, org_id, url, secret) in hooks {
            key.open(&url, &alerts::aad(org_id, id, "url"))?;
            key.open(&secret, &alerts::aad(org_id, id, "secret"))?;
            opened += 2;
        }
        Ok(opened)
    })
}
