//! Which builds of a frozen snapshot have moved on since: the
//! `current_status` of a deploy's reads. The index is looked at only for
//! the builds whose status there can differ from the frozen one (frozen
//! unfinished, or listed in `changed_final_builds`, migration 13), and
//! this is where the frozen builds that need it from the start are listed.

use buildsnap_domain::{FrozenBuild, Status};

use crate::Result;
use crate::sql::{Tx, args};

/// Positions in deploy `deploy_id`'s frozen `builds` array whose build's
/// status in the index differs from the frozen one, with the index's status.
/// All lookups are by primary key (`snapshot_builds` by deploy, then
/// `provider_builds` by `(org_id, provider, build_id)`), so the usual
/// answer, nothing, costs no JSON parsing at all.
///
/// Only the builds that can differ are looked up in the index: those
/// frozen before they were final, and those frozen final whose final
/// status has changed since (`changed_final_builds`, kept by a trigger,
/// migration 13: a small table, where the index has millions of rows). A
/// frozen-final build's status came from the index, so its index row can
/// only differ after such a change, or when it was not in the index as
/// frozen ([`note_frozen_apart`]). A row dropped (retention, a disable) and
/// indexed again with another status is the one case not seen; retention
/// keeps only the rows of builds frozen unfinished for the same reason
/// (`retention.rs`). Measured in docs/performance.md ("HTTP reads at
/// 1,000,000 deploys").
pub(crate) fn moved_statuses(
    tx: &Tx<'_>,
    org_id: i64,
    provider: &str,
    deploy_id: i64,
) -> Result<Vec<(usize, Status)>> {
    const SQL: &str = concat!(
        "SELECT sb.position, pb.status
         FROM snapshot_builds sb
         JOIN provider_builds pb ON pb.org_id = ?1 AND pb.provider = ?2 AND pb.build_id = sb.build_id
         WHERE sb.deploy_id = ?3
           AND (",
        crate::retention::unsettled!(),
        " OR EXISTS (SELECT 1 FROM changed_final_builds c
                          WHERE c.org_id = ?1 AND c.provider = ?2 AND c.build_id = sb.build_id))
           AND pb.status IS DISTINCT FROM sb.status
         ORDER BY sb.position"
    );
    tx.query_all(SQL, &args![org_id, provider, deploy_id], |r| {
        Ok((r.get::<i64>(0)? as usize, r.word(1)?))
    })
}

/// Adds to `changed_final_builds` the builds of a snapshot being frozen
/// that it holds as final but the index holds otherwise (or not at all):
/// their index row has to be looked at on every read, since no later
/// update need happen for it to differ. The capture freezes what it just
/// indexed, so this is usually nothing.
pub(crate) fn note_frozen_apart(
    tx: &Tx<'_>,
    org_id: i64,
    provider: &str,
    builds: &[FrozenBuild],
) -> Result<()> {
    for b in builds.iter().filter(|b| b.status.is_final()) {
        tx.execute(
            "INSERT INTO changed_final_builds (org_id, provider, build_id)
             SELECT ?1, ?2, ?3 WHERE NOT EXISTS (
                 SELECT 1 FROM provider_builds
                 WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3 AND status = ?4)
             ON CONFLICT DO NOTHING",
            &args![org_id, provider, &b.id, b.status.as_str()],
        )?;
    }
    Ok(())
}
