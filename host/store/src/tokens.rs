//! Admin and organisation bearer tokens: generated with 256 bits from the OS
//! random source, stored as SHA-256 hashes, compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::sql::args;
use crate::{NewToken, Principal, Result, Scope, Store, StoreError, orgs, ts, validate};

/// Prefixes make leaked tokens recognisable (secret scanners, logs).
const ADMIN_PREFIX: &str = "bsa_";
const ORG_PREFIX: &str = "bso_";

fn random_token(prefix: &str) -> Result<String> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(|e| StoreError::Crypto(e.to_string()))?;
    Ok(format!("{prefix}{}", hex::encode(b)))
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Store {
    /// Sets up the admin token. With `given` (BUILDSNAP_ADMIN_TOKEN), its hash
    /// replaces whatever was stored and `None` is returned. Without it, a token
    /// is generated only if none is stored yet, and returned (`Some`) so that
    /// the binary prints it once; it is never retrievable again.
    pub fn bootstrap_admin(&self, given: Option<&str>) -> Result<Option<String>> {
        let now = ts::to_nanos(ts::now());
        if let Some(t) = given {
            if t.trim().is_empty() {
                return Err(StoreError::Invalid(
                    "BUILDSNAP_ADMIN_TOKEN must not be empty".into(),
                ));
            }
            if t.len() < 16 {
                tracing::warn!(
                    "BUILDSNAP_ADMIN_TOKEN is shorter than 16 characters; use a long random value"
                );
            }
            let h = hash(t);
            self.db.write(|tx| {
                tx.execute(
                    "INSERT INTO admin (id, token_hash, created_at) VALUES (1, ?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash",
                    &args![&h[..], now],
                )?;
                Ok(())
            })?;
            // The admin hash changed: forget cached principals (after the
            // commit, so no lookup can re-cache the old admin token).
            self.db
                .auth_cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
            Ok(None)
        } else {
            self.db.write(|tx| {
                let exists: bool =
                    tx.query_one("SELECT EXISTS (SELECT 1 FROM admin)", &[], |r| r.get(0))?;
                if exists {
                    return Ok(None);
                }
                let t = random_token(ADMIN_PREFIX)?;
                tx.execute(
                    "INSERT INTO admin (id, token_hash, created_at) VALUES (1, ?1, ?2)",
                    &args![&hash(&t)[..], now],
                )?;
                Ok(Some(t))
            })
        }
    }

    /// Creates a token for `org`; the returned value is the only copy.
    pub fn create_token(&self, org: &str, name: &str, scope: Scope) -> Result<NewToken> {
        validate::text("name", name, 200)?;
        let token = random_token(ORG_PREFIX)?;
        let h = hash(&token);
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            tx.execute(
                "INSERT INTO tokens (org_id, name, scope, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                &args![org_id, name, scope.as_str(), &h[..], ts::to_nanos(ts::now())],
            )?;
            Ok(())
        })?;
        Ok(NewToken {
            token,
            name: name.to_string(),
            scope,
            org: org.to_string(),
        })
    }

    /// Who `token` belongs to, if it was authenticated before (memory only,
    /// never blocks on the database: callable from async code). `None` means
    /// "ask [`Store::authenticate`]", not "unknown".
    pub fn authenticate_cached(&self, token: &str) -> Option<Principal> {
        let h = hash(token);
        self.db
            .auth_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&h)
            .cloned()
    }

    /// Who `token` belongs to, or `None` for an unknown token.
    ///
    /// The org-token row is found through the unique index on the hash, and
    /// a token seen before through an in-memory map keyed by the hash: both
    /// lookups leak at most timing about a SHA-256 *output*, which a caller
    /// cannot steer towards a valid token. Every comparison of a stored hash
    /// with the presented one in the database is done in constant time.
    pub fn authenticate(&self, token: &str) -> Result<Option<Principal>> {
        if token.is_empty() {
            return Ok(None);
        }
        let h = hash(token);
        if let Some(p) = self
            .db
            .auth_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&h)
        {
            return Ok(Some(p.clone()));
        }
        let found = self.db.read(|tx| {
            let admin: Option<Vec<u8>> =
                tx.query_opt("SELECT token_hash FROM admin WHERE id = 1", &[], |r| {
                    r.get(0)
                })?;
            if let Some(a) = admin
                && bool::from(a.as_slice().ct_eq(&h[..]))
            {
                return Ok(Some(Principal::Admin));
            }
            let row: Option<(Vec<u8>, String, String)> = tx.query_opt(
                "SELECT t.token_hash, o.slug, t.scope FROM tokens t JOIN orgs o ON o.id = t.org_id
                 WHERE t.token_hash = ?1",
                &args![&h[..]],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            Ok(match row {
                Some((stored, org, scope)) if bool::from(stored.as_slice().ct_eq(&h[..])) => {
                    Some(Principal::Org {
                        org,
                        scope: Scope::from_db(&scope),
                    })
                }
                _ => None,
            })
        })?;
        if let Some(p) = &found {
            self.db
                .auth_cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(h, p.clone());
        }
        Ok(found)
    }
}
