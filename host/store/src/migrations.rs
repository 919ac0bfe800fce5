//! The schema, in one place, as numbered migrations. `PRAGMA user_version`
//! records how many have been applied; each runs in its own transaction
//! together with the version bump, so a crash leaves either the old or the new
//! schema. Never edit a released migration: append a new one.

use rusqlite::Connection;

use crate::{Result, StoreError};

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) STRICT;

    -- The single admin token, SHA-256 hashed.
    CREATE TABLE admin (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        token_hash  BLOB NOT NULL,
        created_at  INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE orgs (
        id          INTEGER PRIMARY KEY,
        slug        TEXT NOT NULL UNIQUE,
        name        TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    ) STRICT;

    -- Org tokens, SHA-256 hashed (they are 256-bit random, so an unsalted
    -- fast hash is enough: there is nothing to brute-force).
    CREATE TABLE tokens (
        id          INTEGER PRIMARY KEY,
        org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        name        TEXT NOT NULL,
        scope       TEXT NOT NULL CHECK (scope IN ('all', 'register_deploy')),
        token_hash  BLOB NOT NULL UNIQUE,
        created_at  INTEGER NOT NULL
    ) STRICT;

    -- One row per (org, provider) once it has been enabled at least once.
    -- token_sealed: nonce || ChaCha20-Poly1305 ciphertext, NULL when disabled.
    CREATE TABLE integrations (
        id             INTEGER PRIMARY KEY,
        org_id         INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        provider       TEXT NOT NULL,
        enabled        INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        base_url       TEXT,
        token_sealed   BLOB,
        account_id     TEXT,
        account_login  TEXT,
        account_name   TEXT,
        status         TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'needs_attention')),
        last_error     TEXT,
        updated_at     INTEGER NOT NULL,
        UNIQUE (org_id, provider),
        CHECK (enabled = 0 OR token_sealed IS NOT NULL)
    ) STRICT;

    -- build_server: provider id of the integration that is this project's
    -- build server (at most one per project, by construction).
    CREATE TABLE projects (
        id            INTEGER PRIMARY KEY,
        org_id        INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        slug          TEXT NOT NULL,
        name          TEXT NOT NULL,
        build_server  TEXT,
        created_at    INTEGER NOT NULL,
        UNIQUE (org_id, slug)
    ) STRICT;

    CREATE TABLE code_deployments (
        id             INTEGER PRIMARY KEY,
        project_id     INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        slug           TEXT NOT NULL,
        repo_url       TEXT NOT NULL,
        branch         TEXT NOT NULL,
        build_project  TEXT,
        created_at     INTEGER NOT NULL,
        UNIQUE (project_id, slug)
    ) STRICT;

    CREATE TABLE deploys (
        id                  INTEGER PRIMARY KEY,
        org_id              INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        project_id          INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        code_deployment_id  INTEGER NOT NULL REFERENCES code_deployments(id) ON DELETE CASCADE,
        sha                 TEXT NOT NULL,
        environment         TEXT NOT NULL,
        deployed_at         INTEGER NOT NULL,
        created_at          INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX deploys_by_org ON deploys (org_id, deployed_at DESC, id DESC);
    CREATE INDEX deploys_by_project ON deploys (project_id, deployed_at DESC, id DESC);

    -- The build snapshot of each deploy. provider/build_project are fixed at
    -- registration (what the deploy was to be captured from); builds is the
    -- JSON array of <build> objects.
    CREATE TABLE snapshots (
        deploy_id      INTEGER PRIMARY KEY REFERENCES deploys(id) ON DELETE CASCADE,
        state          TEXT NOT NULL CHECK (state IN ('pending', 'complete', 'no_build_server', 'error')),
        provider       TEXT,
        build_project  TEXT,
        summary        TEXT NOT NULL,
        builds         TEXT NOT NULL,
        explain        TEXT,
        captured_at    INTEGER
    ) STRICT;

    -- Durable work queue of the capture worker.
    CREATE TABLE capture_jobs (
        deploy_id   INTEGER PRIMARY KEY REFERENCES deploys(id) ON DELETE CASCADE,
        state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done')),
        attempts    INTEGER NOT NULL DEFAULT 0,
        not_before  INTEGER NOT NULL,
        last_error  TEXT,
        updated_at  INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX capture_jobs_due ON capture_jobs (state, not_before);
    "#,
    // 2: the capture worker's local index of provider builds, commit-search
    // marks, sync cursors, webhook de-duplication and the webhook secret.
    r#"
    -- Builds as the provider last showed them, per org (tenant isolation: an
    -- org only ever reads what its own credentials fetched) and provider.
    -- Timestamps are Unix nanoseconds; statuses use buildsnap's vocabulary.
    CREATE TABLE provider_builds (
        org_id           INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        provider         TEXT NOT NULL,
        build_id         TEXT NOT NULL,
        project          TEXT NOT NULL,
        sha              TEXT NOT NULL,
        name             TEXT NOT NULL,
        status           TEXT NOT NULL,
        provider_status  TEXT NOT NULL,
        final            INTEGER NOT NULL CHECK (final IN (0, 1)),
        url              TEXT,
        pipeline_id      TEXT NOT NULL,
        pipeline_number  INTEGER,
        branch           TEXT,
        tag              TEXT,
        created_at       INTEGER NOT NULL,
        stopped_at       INTEGER,
        jobs_complete    INTEGER NOT NULL CHECK (jobs_complete IN (0, 1)),
        first_seen       INTEGER NOT NULL,
        last_seen        INTEGER NOT NULL,
        PRIMARY KEY (org_id, provider, build_id)
    ) STRICT;
    CREATE INDEX provider_builds_by_sha ON provider_builds (org_id, provider, project, sha);
    CREATE INDEX provider_builds_unfinished ON provider_builds (org_id, provider, project, final, created_at);

    CREATE TABLE provider_jobs (
        org_id           INTEGER NOT NULL,
        provider         TEXT NOT NULL,
        build_id         TEXT NOT NULL,
        job_id           TEXT NOT NULL,
        position         INTEGER NOT NULL,
        name             TEXT NOT NULL,
        number           INTEGER,
        kind             TEXT NOT NULL,
        status           TEXT NOT NULL,
        provider_status  TEXT NOT NULL,
        started_at       INTEGER,
        stopped_at       INTEGER,
        url              TEXT,
        PRIMARY KEY (org_id, provider, build_id, job_id),
        FOREIGN KEY (org_id, provider, build_id)
            REFERENCES provider_builds (org_id, provider, build_id) ON DELETE CASCADE
    ) STRICT;

    -- A commit search (`builds_for_commit`) whose whole answer was stored:
    -- every build of `project` for `sha_query` that existed at searched_at
    -- is in provider_builds. The capture's proof that the index is complete.
    CREATE TABLE commit_searches (
        org_id       INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        provider     TEXT NOT NULL,
        project      TEXT NOT NULL,
        sha_query    TEXT NOT NULL,
        searched_at  INTEGER NOT NULL,
        report       TEXT NOT NULL,
        PRIMARY KEY (org_id, provider, project, sha_query)
    ) STRICT;

    CREATE TABLE sync_cursors (
        org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        provider    TEXT NOT NULL,
        project     TEXT NOT NULL,
        cursor      TEXT,
        synced_at   INTEGER NOT NULL,
        PRIMARY KEY (org_id, provider, project)
    ) STRICT;

    CREATE TABLE webhook_events (
        org_id       INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        provider     TEXT NOT NULL,
        event_id     TEXT NOT NULL,
        kind         TEXT NOT NULL,
        received_at  INTEGER NOT NULL,
        PRIMARY KEY (org_id, provider, event_id)
    ) STRICT;

    -- nonce || ChaCha20-Poly1305 ciphertext of the webhook signing secret.
    ALTER TABLE integrations ADD COLUMN webhook_secret_sealed BLOB;
    "#,
    // 3: each frozen build's id and status by position, so that reading a
    // deploy finds the builds whose status has moved on since with one
    // indexed join, instead of parsing the snapshot's JSON on every read.
    r#"
    CREATE TABLE snapshot_builds (
        deploy_id  INTEGER NOT NULL REFERENCES snapshots(deploy_id) ON DELETE CASCADE,
        position   INTEGER NOT NULL,
        build_id   TEXT NOT NULL,
        status     TEXT,
        PRIMARY KEY (deploy_id, position)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO snapshot_builds (deploy_id, position, build_id, status)
        SELECT s.deploy_id, CAST(j.key AS INTEGER), j.value ->> '$.id',
               CASE WHEN json_type(j.value, '$.status') = 'text' THEN j.value ->> '$.status' END
        FROM snapshots s, json_each(s.builds) j
        WHERE json_type(j.value, '$.id') = 'text';
    "#,
    // 4: snapshots' builds stored compressed (`builds_codec.rs`). Existing
    // rows keep their text and read as they are ('json'); rows written from
    // now on hold one zstd frame in builds_zstd and '' in builds. Re-encoding
    // old rows is a separate, batched step (not part of this migration).
    r#"
    ALTER TABLE snapshots ADD COLUMN builds_encoding TEXT NOT NULL DEFAULT 'json'
        CHECK (builds_encoding IN ('json', 'zstd'));
    ALTER TABLE snapshots ADD COLUMN builds_zstd BLOB;
    "#,
    // 5: the rows still stored as text, for the batched re-encoding
    // (`reencode.rs`) to find without a scan; empty once it is done.
    r#"
    CREATE INDEX snapshots_stored_as_text ON snapshots (deploy_id) WHERE builds_encoding = 'json';
    "#,
    // 6: the frozen builds that were not final at freeze time, by build id:
    // index retention (`retention.rs`) keeps their index rows, which give
    // those snapshots their `current_status`. Small: most builds are final
    // when a deploy is frozen.
    r#"
    CREATE INDEX snapshot_builds_unsettled ON snapshot_builds (build_id)
        WHERE (status IS NULL OR status NOT IN ('success', 'failed', 'error', 'canceled', 'not_run'));
    "#,
    // 7: deploy alerts (`alerts.rs`): an org's hooks (their URL shown
    // masked, the URL itself and the signing secret sealed like provider
    // tokens), and the durable queue of deliveries.
    r#"
    CREATE TABLE alert_hooks (
        id             INTEGER PRIMARY KEY,
        org_id         INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        url            TEXT NOT NULL,
        url_sealed     BLOB NOT NULL,
        events         TEXT NOT NULL,
        format         TEXT NOT NULL CHECK (format IN ('buildsnap', 'slack')),
        secret_sealed  BLOB NOT NULL,
        created_at     INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE alert_deliveries (
        id           INTEGER PRIMARY KEY,
        hook_id      INTEGER NOT NULL REFERENCES alert_hooks(id) ON DELETE CASCADE,
        delivery     TEXT NOT NULL UNIQUE,
        event        TEXT NOT NULL,
        deploy_id    INTEGER NOT NULL,
        changed      TEXT,
        body         TEXT,
        state        TEXT NOT NULL CHECK (state IN ('queued', 'delivered', 'failed')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_at      INTEGER NOT NULL,
        created_at   INTEGER NOT NULL,
        last_status  INTEGER,
        last_error   TEXT,
        finished_at  INTEGER
    ) STRICT;
    CREATE INDEX alert_deliveries_due ON alert_deliveries (next_at) WHERE state = 'queued';
    CREATE INDEX alert_deliveries_by_hook ON alert_deliveries (hook_id, id);
    "#,
    // 8: a code deployment may take only builds of its own branch.
    r#"
    ALTER TABLE code_deployments ADD COLUMN branch_builds_only INTEGER NOT NULL DEFAULT 0
        CHECK (branch_builds_only IN (0, 1));
    "#,
    // 9: deploys by commit, for the alerts of builds that ran on a deployed
    // commit after its deploy (`alerts.rs`, later builds).
    r#"
    CREATE INDEX deploys_by_sha ON deploys (org_id, sha);
    "#,
    // 10: contract 0.2.0: the attempt of a run (GitHub re-runs) and the
    // build that started this one (child pipelines, setup workflows).
    r#"
    ALTER TABLE provider_builds ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1);
    ALTER TABLE provider_builds ADD COLUMN parent_id TEXT;
    "#,
    // 11: index rows without redundancy (`index_thin.rs`): a final build a
    // snapshot froze exactly as the index holds it keeps only the columns
    // queries filter on, and `frozen_in` names the deploy whose snapshot
    // holds the rest (its jobs rows go). Three indexes cover only what their
    // queries ask for. Creating them reads the tables once, at start.
    r#"
    ALTER TABLE provider_builds ADD COLUMN frozen_in INTEGER;
    -- Snapshots written from now on are thinned as they are written; the
    -- background pass goes through those before this one (digits: `meta`
    -- holds blobs).
    INSERT INTO meta (key, value)
        SELECT 'index_thin_until', CAST(CAST(COALESCE(MAX(deploy_id), 0) AS TEXT) AS BLOB) FROM snapshots;
    DROP INDEX provider_builds_unfinished;
    CREATE INDEX provider_builds_unfinished ON provider_builds (org_id, provider, project, created_at)
        WHERE final = 0;
    -- Builds by commit: the first 7 hex digits (the shortest SHA a deploy
    -- may give) find a commit's few rows, which the query then checks in
    -- full (`index_rows::builds_of_commit`). A fifth of the old index's
    -- size, and the old one was not even used for the SHA: `LIKE` is
    -- case-insensitive, so SQLite walked the whole project.
    DROP INDEX provider_builds_by_sha;
    CREATE INDEX provider_builds_by_sha7 ON provider_builds (org_id, substr(sha, 1, 7));
    -- Only queued jobs are ever looked up by time; done ones are most.
    DROP INDEX capture_jobs_due;
    CREATE INDEX capture_jobs_due ON capture_jobs (not_before) WHERE state = 'queued';
    "#,
    // 12: several replicas on one database (`docs/operations.md`,
    // "Replicas"). With SQLite there is one process, but both backends keep
    // one schema, and the same code claims work through these tables.
    r#"
    -- A claimed capture job is leased: `lease_owner` (a replica's id) holds
    -- it until `lease_until` (Unix nanoseconds) and renews the lease while
    -- it works. A job whose lease ran out (its replica died) is taken over
    -- by the next claim.
    ALTER TABLE capture_jobs ADD COLUMN lease_owner TEXT;
    ALTER TABLE capture_jobs ADD COLUMN lease_until INTEGER;
    CREATE INDEX capture_jobs_leased ON capture_jobs (lease_until) WHERE state = 'running';

    -- Named leases: work that one replica at a time may do (the sync of one
    -- build project, an upkeep pass). A lease is free when it has no row or
    -- its `until` has passed.
    CREATE TABLE leases (
        name   TEXT PRIMARY KEY,
        owner  TEXT NOT NULL,
        until  INTEGER NOT NULL
    ) STRICT;

    -- The provider-call slots of each integration, held across replicas:
    -- an integration's calls in flight, whichever replica makes them, never
    -- exceed its budget. A slot is free when it has no row or its `until`
    -- has passed (a replica that died holding it).
    CREATE TABLE call_slots (
        org       TEXT NOT NULL,
        provider  TEXT NOT NULL,
        slot      INTEGER NOT NULL,
        owner     TEXT NOT NULL,
        kind      TEXT NOT NULL CHECK (kind IN ('capture', 'sync')),
        until     INTEGER NOT NULL,
        PRIMARY KEY (org, provider, slot)
    ) STRICT;

    -- Rate-limit pauses of each integration (org, plugin, origin) that
    -- have not ended, as Unix milliseconds: every replica honours them, and
    -- so does a restarted one.
    CREATE TABLE rate_limit_pauses (
        org            TEXT NOT NULL,
        plugin         TEXT NOT NULL,
        origin         TEXT NOT NULL,
        until_unix_ms  INTEGER NOT NULL,
        PRIMARY KEY (org, plugin, origin)
    ) STRICT;
    "#,
    // 13: reads of one deploy with fewer seeks (docs/performance.md,
    // "HTTP reads at 1,000,000 deploys").
    r#"
    -- Builds by commit with their creation time, so that a deploy's later
    -- builds (created after it) are a range of this index: the commit's
    -- earlier builds, most of them, are no longer read from the table.
    DROP INDEX provider_builds_by_sha7;
    CREATE INDEX provider_builds_by_sha7 ON provider_builds (org_id, substr(sha, 1, 7), created_at);

    -- Builds whose final status changed (a re-run: GitHub keeps a run's id
    -- across attempts). A snapshot that froze a build as final needs the
    -- index only for these to tell its `current_status`; a build frozen
    -- before it was final is always looked up. Kept when retention drops
    -- the build's row: the row may come back.
    CREATE TABLE changed_final_builds (
        org_id    INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        provider  TEXT NOT NULL,
        build_id  TEXT NOT NULL,
        PRIMARY KEY (org_id, provider, build_id)
    ) STRICT, WITHOUT ROWID;
    -- A trigger, not the upsert's code, so no path that writes a status
    -- can forget it.
    CREATE TRIGGER provider_builds_final_changed AFTER UPDATE OF status ON provider_builds
        WHEN OLD.final = 1 AND NEW.status IS DISTINCT FROM OLD.status
    BEGIN
        -- Not `INSERT OR IGNORE`: the conflict policy of the statement that
        -- fired the trigger (the index's upsert: abort) overrides a
        -- trigger's own, so a second change of the same build would fail.
        INSERT INTO changed_final_builds (org_id, provider, build_id)
            SELECT NEW.org_id, NEW.provider, NEW.build_id
            WHERE NOT EXISTS (SELECT 1 FROM changed_final_builds c
                              WHERE c.org_id = NEW.org_id AND c.provider = NEW.provider
                                AND c.build_id = NEW.build_id);
    END;
    -- What already differs: frozen-final builds whose index status is
    -- another now (one pass over the frozen builds, at start).
    INSERT OR IGNORE INTO changed_final_builds (org_id, provider, build_id)
        SELECT d.org_id, s.provider, sb.build_id
        FROM snapshot_builds sb
        JOIN snapshots s ON s.deploy_id = sb.deploy_id
        JOIN deploys d ON d.id = sb.deploy_id
        JOIN provider_builds pb
          ON pb.org_id = d.org_id AND pb.provider = s.provider AND pb.build_id = sb.build_id
        WHERE sb.status IN ('success', 'failed', 'error', 'canceled', 'not_run')
          AND pb.status IS DISTINCT FROM sb.status;
    "#,
];

/// Highest schema version this build knows.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

pub(crate) fn apply(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > LATEST {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: LATEST,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied database migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database written before migration 3 gets `snapshot_builds` filled
    /// from its snapshots' JSON: string ids only, positions as in the array.
    #[test]
    fn migration_3_backfills_snapshot_builds() {
        let mut c = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..2] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 2).unwrap();
        c.execute_batch(
            r#"
            INSERT INTO orgs (id, slug, name, created_at) VALUES (1, 'acme', 'Acme', 0);
            INSERT INTO projects (id, org_id, slug, name, created_at) VALUES (1, 1, 'web', 'Web', 0);
            INSERT INTO code_deployments (id, project_id, slug, repo_url, branch, created_at)
                VALUES (1, 1, 'main', 'https://github.com/acme/web', 'main', 0);
            INSERT INTO deploys (id, org_id, project_id, code_deployment_id, sha, environment, deployed_at, created_at)
                VALUES (7, 1, 1, 1, 'abc', 'production', 0, 0);
            INSERT INTO snapshots (deploy_id, state, provider, summary, builds)
                VALUES (7, 'complete', 'circleci', 'failed',
                        '[{"id":"w1","status":"failed"},{"id":2,"status":"success"},{"id":"w3"}]');
            "#,
        )
        .unwrap();
        apply(&mut c).unwrap();
        let rows: Vec<(i64, String, Option<String>)> = c
            .prepare("SELECT position, build_id, status FROM snapshot_builds WHERE deploy_id = 7 ORDER BY position")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (0, "w1".into(), Some("failed".into())),
                (2, "w3".into(), None)
            ]
        );
    }

    #[test]
    fn migrations_are_idempotent_and_versioned() {
        let mut c = Connection::open_in_memory().unwrap();
        apply(&mut c).unwrap();
        apply(&mut c).unwrap();
        let v: i64 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, LATEST);
        c.pragma_update(None, "user_version", LATEST + 1).unwrap();
        assert!(matches!(
            apply(&mut c),
            Err(StoreError::SchemaTooNew { .. })
        ));
    }
}
