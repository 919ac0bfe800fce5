//! Integrations: an org's encrypted credentials for one provider, and which
//! projects use it as their build server.

use crate::events::StoreEvent;
use crate::sql::{Tx, args};
use crate::{
    Account, IntegrationState, ProviderToken, Result, Store, StoreError, orgs, projects, ts,
    validate,
};

const KEY_CHECK_PLAINTEXT: &[u8] = b"buildsnap secret key check v1";
const KEY_CHECK_AAD: &[u8] = b"meta/key_check";

/// Associated data of a token ciphertext: binds it to its row.
pub(crate) fn aad(org_id: i64, provider: &str) -> Vec<u8> {
    format!("integration/{org_id}/{provider}").into_bytes()
}

fn state(tx: &Tx<'_>, org_id: i64, provider: &str) -> Result<IntegrationState> {
    let used_by: Vec<String> = tx.query_all(
        "SELECT slug FROM projects WHERE org_id = ?1 AND build_server = ?2 ORDER BY slug",
        &args![org_id, provider],
        |r| r.get(0),
    )?;
    let row = tx.query_opt(
        "SELECT enabled, base_url, account_id, account_login, account_name, status, last_error,
                webhook_secret_sealed IS NOT NULL
         FROM integrations WHERE org_id = ?1 AND provider = ?2",
        &args![org_id, provider],
        |r| {
            let account = match (
                r.get::<Option<String>>(2)?,
                r.get::<Option<String>>(3)?,
                r.get::<Option<String>>(4)?,
            ) {
                (Some(id), Some(login), Some(name)) => Some(Account { id, login, name }),
                _ => None,
            };
            Ok(IntegrationState {
                provider: provider.to_string(),
                enabled: r.get(0)?,
                account,
                base_url: r.get(1)?,
                default_build_server_for: vec![],
                status: r.get(5)?,
                last_error: r.get(6)?,
                webhook_configured: r.get(7)?,
            })
        },
    )?;
    let mut s = row.unwrap_or_else(|| IntegrationState {
        provider: provider.to_string(),
        enabled: false,
        account: None,
        base_url: None,
        default_build_server_for: vec![],
        status: "ok".into(),
        last_error: None,
        webhook_configured: false,
    });
    s.default_build_server_for = used_by;
    Ok(s)
}

impl Store {
    /// Refuses to run with a key that does not decrypt this database's data
    /// (and records the key check the first time).
    pub(crate) fn check_secret_key(&self) -> Result<()> {
        self.db.write(|tx| {
            let stored: Option<Vec<u8>> =
                tx.query_opt("SELECT value FROM meta WHERE key = 'key_check'", &[], |r| {
                    r.get(0)
                })?;
            match stored {
                Some(sealed) => {
                    let plain = self.db.key.open(&sealed, KEY_CHECK_AAD)?;
                    if plain.as_slice() != KEY_CHECK_PLAINTEXT {
                        return Err(StoreError::WrongSecretKey);
                    }
                }
                None => {
                    let sealed = self.db.key.seal(KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD)?;
                    tx.execute(
                        "INSERT INTO meta (key, value) VALUES ('key_check', ?1)",
                        &args![&sealed],
                    )?;
                }
            }
            Ok(())
        })
    }

    /// The stored state of `org`'s integration with `provider` (a disabled,
    /// empty state when it was never enabled).
    pub fn integration(&self, org: &str, provider: &str) -> Result<IntegrationState> {
        self.db.read(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            state(tx, org_id, provider)
        })
    }

    /// The stored state of each of `providers` for `org`, in the given order.
    pub fn integrations(&self, org: &str, providers: &[String]) -> Result<Vec<IntegrationState>> {
        self.db.read(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            providers.iter().map(|p| state(tx, org_id, p)).collect()
        })
    }

    /// Stores validated credentials: the token encrypted, the account, the
    /// base URL; the integration becomes enabled with status `ok`. Call this
    /// only after the provider accepted the token.
    pub fn enable_integration(
        &self,
        org: &str,
        provider: &str,
        base_url: &str,
        token: &ProviderToken,
        account: &Account,
    ) -> Result<IntegrationState> {
        let base_url = validate::http_url("base_url", base_url)?;
        if token.expose().is_empty() {
            return Err(StoreError::Invalid("\"token\" must not be empty".into()));
        }
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            let sealed = self.db.key.seal(token.expose().as_bytes(), &aad(org_id, provider))?;
            tx.execute(
                "INSERT INTO integrations (org_id, provider, enabled, base_url, token_sealed, account_id,
                     account_login, account_name, status, last_error, updated_at)
                 VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, 'ok', NULL, ?8)
                 ON CONFLICT (org_id, provider) DO UPDATE SET enabled = 1, base_url = excluded.base_url,
                     token_sealed = excluded.token_sealed, account_id = excluded.account_id,
                     account_login = excluded.account_login, account_name = excluded.account_name,
                     status = 'ok', last_error = NULL, updated_at = excluded.updated_at",
                &args![org_id, provider, &base_url, &sealed, &account.id, &account.login, &account.name, ts::to_nanos(ts::now())],
            )?;
            state(tx, org_id, provider)
        })
    }

    /// Disables the integration: erases the token (and account), removes it as
    /// build server from every project of the org, and ends the pending
    /// captures that would have used it (their snapshots become `error` with an
    /// explanation; complete snapshots are untouched). A no-op when never enabled.
    pub fn disable_integration(&self, org: &str, provider: &str) -> Result<()> {
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            let now = ts::to_nanos(ts::now());
            tx.execute(
                "UPDATE integrations SET enabled = 0, token_sealed = NULL, account_id = NULL, account_login = NULL,
                     account_name = NULL, status = 'ok', last_error = NULL, webhook_secret_sealed = NULL,
                     updated_at = ?3
                 WHERE org_id = ?1 AND provider = ?2",
                &args![org_id, provider, now],
            )?;
            // What was fetched with the erased credentials goes with them.
            Store::erase_index(tx, org_id, provider)?;
            tx.execute(
                "UPDATE projects SET build_server = NULL WHERE org_id = ?1 AND build_server = ?2",
                &args![org_id, provider],
            )?;
            let explain = format!(
                "the {provider} integration was disabled before the builds of this deploy were captured"
            );
            tx.execute(
                "UPDATE snapshots SET state = 'error', explain = ?3, captured_at = ?4
                 WHERE state = 'pending' AND provider = ?2
                   AND deploy_id IN (SELECT id FROM deploys WHERE org_id = ?1)",
                &args![org_id, provider, &explain, now],
            )?;
            tx.execute(
                "UPDATE capture_jobs SET state = 'done', last_error = ?3, updated_at = ?4,
                     lease_owner = NULL, lease_until = NULL
                 WHERE state != 'done' AND deploy_id IN (
                     SELECT d.id FROM deploys d JOIN snapshots s ON s.deploy_id = d.id
                     WHERE d.org_id = ?1 AND s.provider = ?2)",
                &args![org_id, provider, &explain, now],
            )?;
            // Every replica ends its in-flight calls of the integration.
            tx.emit(&StoreEvent::IntegrationDisabled {
                org: org.to_string(),
                provider: provider.to_string(),
            })?;
            Ok(())
        })
    }

    /// Makes the integration `project`'s build server (replacing any other;
    /// a no-op when it already is). Requires the integration enabled
    /// (`IntegrationDisabled`) and a code deployment (`NoCodeDeployment`).
    pub fn set_default_build_server(
        &self,
        org: &str,
        provider: &str,
        project: &str,
    ) -> Result<IntegrationState> {
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            let p = projects::project_row(tx, org_id, project)?;
            let enabled: bool = tx.query_opt(
                "SELECT enabled FROM integrations WHERE org_id = ?1 AND provider = ?2",
                &args![org_id, provider],
                |r| r.get::<i64>(0),
            )? == Some(1);
            if !enabled {
                return Err(StoreError::IntegrationDisabled {
                    provider: provider.to_string(),
                });
            }
            if projects::code_deployments(tx, p.id)?.is_empty() {
                return Err(StoreError::NoCodeDeployment {
                    project: project.to_string(),
                });
            }
            if p.build_server.as_deref() != Some(provider) {
                tx.execute(
                    "UPDATE projects SET build_server = ?2 WHERE id = ?1",
                    &args![p.id, provider],
                )?;
            }
            state(tx, org_id, provider)
        })
    }

    /// `project` stops using the integration as build server (no-op if it did not).
    pub fn unset_default_build_server(
        &self,
        org: &str,
        provider: &str,
        project: &str,
    ) -> Result<()> {
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            let p = projects::project_row(tx, org_id, project)?;
            tx.execute(
                "UPDATE projects SET build_server = NULL WHERE id = ?1 AND build_server = ?2",
                &args![p.id, provider],
            )?;
            Ok(())
        })
    }

    /// The base URL and decrypted token of an enabled integration; `None` when
    /// it is disabled or was never enabled (the worker then makes no call).
    pub fn integration_token(
        &self,
        org: &str,
        provider: &str,
    ) -> Result<Option<(String, ProviderToken)>> {
        self.db.read(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            let row: Option<(Option<String>, Option<Vec<u8>>)> = tx.query_opt(
                "SELECT base_url, token_sealed FROM integrations WHERE org_id = ?1 AND provider = ?2 AND enabled = 1",
                &args![org_id, provider],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            match row {
                Some((Some(base_url), Some(mut sealed))) => {
                    let plain = self.db.key.open(&sealed, &aad(org_id, provider));
                    zeroize::Zeroize::zeroize(&mut sealed);
                    Ok(Some((base_url, ProviderToken::from_bytes(plain?)?)))
                }
                _ => Ok(None),
            }
        })
    }

    /// Records the provider's verdict on stored credentials (e.g. the worker got
    /// a 401): `needs_attention` with the error, or back to `ok`.
    pub fn set_integration_status(
        &self,
        org: &str,
        provider: &str,
        needs_attention: bool,
        last_error: Option<&str>,
    ) -> Result<()> {
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            tx.execute(
                "UPDATE integrations SET status = ?3, last_error = ?4, updated_at = ?5 WHERE org_id = ?1 AND provider = ?2",
                &args![
                    org_id,
                    provider,
                    if needs_attention { "needs_attention" } else { "ok" },
                    last_error,
                    ts::to_nanos(ts::now())
                ],
            )?;
            Ok(())
        })
    }

    /// Sets (or replaces) the secret that signs the integration's webhook
    /// deliveries. Stored encrypted like the token; write-only. Requires the
    /// integration enabled (`IntegrationDisabled`); an empty secret removes it.
    pub fn set_webhook_secret(
        &self,
        org: &str,
        provider: &str,
        secret: &ProviderToken,
    ) -> Result<()> {
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            if !crate::index::enabled(tx, org_id, provider)? {
                return Err(StoreError::IntegrationDisabled { provider: provider.to_string() });
            }
            let sealed = if secret.expose().is_empty() {
                None
            } else {
                Some(self.db.key.seal(secret.expose().as_bytes(), &webhook_aad(org_id, provider))?)
            };
            tx.execute(
                "UPDATE integrations SET webhook_secret_sealed = ?3, updated_at = ?4 WHERE org_id = ?1 AND provider = ?2",
                &args![org_id, provider, &sealed, ts::to_nanos(ts::now())],
            )?;
            Ok(())
        })
    }

    /// The base URL and decrypted webhook secret of an enabled integration
    /// that has one; `None` otherwise (deliveries are then refused).
    pub fn webhook_secret(
        &self,
        org: &str,
        provider: &str,
    ) -> Result<Option<(String, ProviderToken)>> {
        self.db.read(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            let row: Option<(Option<String>, Option<Vec<u8>>)> = tx.query_opt(
                "SELECT base_url, webhook_secret_sealed FROM integrations
                 WHERE org_id = ?1 AND provider = ?2 AND enabled = 1",
                &args![org_id, provider],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            match row {
                Some((Some(base_url), Some(mut sealed))) => {
                    let plain = self.db.key.open(&sealed, &webhook_aad(org_id, provider));
                    zeroize::Zeroize::zeroize(&mut sealed);
                    Ok(Some((base_url, ProviderToken::from_bytes(plain?)?)))
                }
                _ => Ok(None),
            }
        })
    }
}

/// Associated data of a webhook secret ciphertext (distinct from the token's).
pub(crate) fn webhook_aad(org_id: i64, provider: &str) -> Vec<u8> {
    format!("integration/{org_id}/{provider}/webhook-secret").into_bytes()
}
