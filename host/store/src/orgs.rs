//! Organisations.

use crate::sql::{Tx, args};
use crate::{Org, Result, Store, StoreError, ts, validate};

/// The row id of org `slug`, or `OrgNotFound`.
pub(crate) fn org_id(tx: &Tx<'_>, slug: &str) -> Result<i64> {
    tx.query_opt("SELECT id FROM orgs WHERE slug = ?1", &args![slug], |r| {
        r.get(0)
    })?
    .ok_or_else(|| StoreError::OrgNotFound(slug.to_string()))
}

impl Store {
    /// Creates an organisation. `SlugTaken` if the slug is used.
    pub fn create_org(&self, slug: &str, name: &str) -> Result<Org> {
        validate::slug(slug)?;
        validate::text("name", name, 200)?;
        let now = ts::now();
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO orgs (slug, name, created_at) VALUES (?1, ?2, ?3)",
                &args![slug, name, ts::to_nanos(now)],
            )
            .map_err(|e| {
                if e.is_unique_violation() {
                    StoreError::SlugTaken {
                        kind: "organisation",
                        slug: slug.to_string(),
                    }
                } else {
                    e
                }
            })?;
            Ok(())
        })?;
        Ok(Org {
            slug: slug.to_string(),
            name: name.to_string(),
            created_at: ts::format(now),
        })
    }

    /// The organisation `slug`, if it exists.
    pub fn get_org(&self, slug: &str) -> Result<Option<Org>> {
        self.db.read(|tx| {
            tx.query_opt(
                "SELECT slug, name, created_at FROM orgs WHERE slug = ?1",
                &args![slug],
                |r| {
                    Ok(Org {
                        slug: r.get(0)?,
                        name: r.get(1)?,
                        created_at: ts::nanos_to_string(r.get(2)?),
                    })
                },
            )
        })
    }
}
