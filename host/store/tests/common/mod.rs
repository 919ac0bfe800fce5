//! Set-up shared by the store's integration tests.
#![allow(dead_code)] // each test crate uses a different part

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use buildsnap_pg_cluster::PgCluster;
use buildsnap_store::*;

pub fn open(dir: &Path) -> Store {
    Store::open(dir, SecretKey::load_or_create(dir, None).unwrap()).unwrap()
}

/// The cluster the PostgreSQL halves of the tests running now share. Only a
/// `Weak` in the static: the tests hold the cluster (an `Arc` each), so it
/// is stopped when the last test using it ends, and a later test starts a
/// new one; nothing of it outlives the test binary (pg-cluster's docs: a
/// cluster in a static is never dropped).
static CLUSTER: Mutex<Weak<PgCluster>> = Mutex::new(Weak::new());

/// The shared cluster (started when none runs); `None` when there are no
/// PostgreSQL binaries and `CI` is unset (the harness printed its notice).
fn cluster() -> Option<Arc<PgCluster>> {
    let mut shared = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = shared.upgrade() {
        return Some(c);
    }
    let c = Arc::new(PgCluster::start().expect("starting a PostgreSQL cluster")?);
    *shared = Arc::downgrade(&c);
    Some(c)
}

/// One backend's fresh, empty store for a test: a temp data dir (SQLite),
/// or a fresh database in a shared cluster (PostgreSQL) with its key file
/// in a temp dir.
pub struct TestDb {
    /// The SQLite data dir, or where the PostgreSQL store's key file lives.
    pub dir: tempfile::TempDir,
    pg: Option<(Arc<PgCluster>, String)>,
}

impl TestDb {
    /// A fresh SQLite store.
    pub fn sqlite() -> TestDb {
        TestDb {
            dir: tempfile::tempdir().unwrap(),
            pg: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` without PostgreSQL binaries
    /// (and `CI` unset).
    pub fn postgres(test: &str) -> Option<TestDb> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let cluster = cluster()?;
        let n = N.fetch_add(1, Ordering::Relaxed);
        let url = cluster
            .create_database(&format!(
                "{}_{n}",
                &test.to_lowercase()[..test.len().min(50)]
            ))
            .unwrap();
        Some(TestDb {
            dir: tempfile::tempdir().unwrap(),
            pg: Some((cluster, url)),
        })
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// The backend's name, for messages.
    pub fn name(&self) -> &'static str {
        if self.is_postgres() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// The store with this test's key (the same at each call).
    pub fn open(&self) -> Store {
        self.open_with(SecretKey::load_or_create(self.dir.path(), None).unwrap())
            .unwrap()
    }

    /// The PostgreSQL database's URL (`None` on SQLite).
    pub fn url(&self) -> Option<&str> {
        self.pg.as_ref().map(|(_, url)| url.as_str())
    }

    /// A client of the PostgreSQL database (`None` on SQLite), to look at
    /// what the store wrote.
    pub fn pg_client(&self) -> Option<postgres::Client> {
        let (_, url) = self.pg.as_ref()?;
        Some(postgres::Client::connect(url, postgres::NoTls).unwrap())
    }

    /// The one integer `sql` (no parameters, the same text on both) answers,
    /// read straight from the database.
    pub fn scalar(&self, sql: &str) -> i64 {
        match self.pg_client() {
            Some(mut c) => c.query_one(sql, &[]).unwrap().get(0),
            None => rusqlite::Connection::open(self.dir.path().join(Store::DB_FILE))
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap(),
        }
    }

    /// Runs `sql` (SQLite's text, `?N` placeholders; written `$N` for
    /// PostgreSQL) with byte-string arguments, straight on the database.
    pub fn execute_bytes(&self, sql: &str, args: &[&[u8]]) {
        match self.pg_client() {
            Some(mut c) => {
                let args: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
                let params: Vec<&(dyn postgres::types::ToSql + Sync)> = args
                    .iter()
                    .map(|a| a as &(dyn postgres::types::ToSql + Sync))
                    .collect();
                c.execute(&sql.replace('?', "$"), &params).unwrap();
            }
            None => {
                rusqlite::Connection::open(self.dir.path().join(Store::DB_FILE))
                    .unwrap()
                    .execute(sql, rusqlite::params_from_iter(args))
                    .unwrap();
            }
        }
    }

    /// Another fresh, empty store on the same backend.
    pub fn another(&self, test: &str) -> TestDb {
        match self.pg {
            None => TestDb::sqlite(),
            Some(_) => TestDb::postgres(test).expect("the cluster runs"),
        }
    }

    /// The store with `key`.
    pub fn open_with(&self, key: SecretKey) -> Result<Store> {
        match &self.pg {
            None => Store::open(self.dir.path(), key),
            Some((_, url)) => Store::open_postgres(url, key),
        }
    }
}

/// Runs `body` on a fresh SQLite store, then on a fresh PostgreSQL one
/// (skipped loudly without PostgreSQL binaries; failing with `CI` set).
/// `test` names the PostgreSQL database (lower-case letters, digits, `_`).
pub fn on_both(test: &str, body: impl Fn(&TestDb)) {
    let sqlite = TestDb::sqlite();
    body(&sqlite);
    if let Some(pg) = TestDb::postgres(test) {
        eprintln!("{test}: on postgres");
        body(&pg);
    }
}

pub fn account() -> Account {
    Account {
        id: "1".into(),
        login: "octo".into(),
        name: "Octo".into(),
    }
}

/// org acme, project web with code deployment main, circleci enabled and its build server.
pub fn seed(s: &Store) {
    s.create_org("acme", "Acme").unwrap();
    s.create_project("acme", "web", "Web").unwrap();
    let cd = NewCodeDeployment {
        slug: "main".into(),
        repo_url: "https://github.com/acme/web".into(),
        branch: "main".into(),
        build_project: Some("gh/acme/web".into()),
        branch_builds_only: false,
    };
    s.create_code_deployment("acme", "web", &cd).unwrap();
    s.enable_integration(
        "acme",
        "circleci",
        "https://circleci.com",
        &ProviderToken::new("tok-123456".into()),
        &account(),
    )
    .unwrap();
    s.set_default_build_server("acme", "circleci", "web")
        .unwrap();
}

/// A frozen build with only an id and a status worth looking at.
pub fn frozen(id: &str, status: buildsnap_domain::Status) -> buildsnap_domain::FrozenBuild {
    buildsnap_domain::FrozenBuild {
        attempt: 1,
        parent_id: None,
        branch: None,
        created_at: "2025-06-01T11:00:00Z".into(),
        id: id.into(),
        jobs: vec![],
        jobs_complete: true,
        name: "build".into(),
        pipeline_id: "p1".into(),
        pipeline_number: None,
        provider_status: status.as_str().into(),
        sha: "a".repeat(40),
        status,
        stopped_at: None,
        tag: None,
        url: None,
    }
}

/// A search report as a plugin would give it.
pub fn report(pipelines: u32) -> buildsnap_domain::SearchReport {
    buildsnap_domain::SearchReport {
        oldest_searched: None,
        pages_fetched: 1,
        pipelines_searched: pipelines,
        stopped_because: buildsnap_domain::StopReason::EndOfHistory,
        without_commit: 0,
    }
}

/// A deploy of `sha` to acme/web registered now.
pub fn deploy_now(s: &Store, sha: &str) -> Deploy {
    s.register_deploy(
        "acme",
        "web",
        &NewDeploy {
            sha: sha.into(),
            environment: None,
            deployed_at: None,
            code_deployment: None,
        },
    )
    .unwrap()
}
