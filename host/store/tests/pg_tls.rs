//! TLS to PostgreSQL: the store against a cluster serving TLS with a
//! certificate from its own throwaway CA (pg-cluster's `Builder::tls`).
//! Whether a connection is encrypted is read from the server's own
//! `pg_stat_ssl` view, from a separate plain connection, for the store's
//! connections picked out by a per-test `application_name`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use buildsnap_pg_cluster::PgCluster;
use buildsnap_store::{SecretKey, Store, StoreError};

/// One TLS cluster for the tests running now (the `Weak` pattern of
/// `common::cluster`: stopped when the last test using it ends).
static CLUSTER: Mutex<Weak<PgCluster>> = Mutex::new(Weak::new());

fn cluster() -> Option<Arc<PgCluster>> {
    let mut shared = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = shared.upgrade() {
        return Some(c);
    }
    let c = Arc::new(
        PgCluster::builder()
            .tls(true)
            .start()
            .expect("starting a TLS PostgreSQL cluster")?,
    );
    *shared = Arc::downgrade(&c);
    Some(c)
}

/// A test's database on the TLS cluster and a temp dir for its key.
struct Fixture {
    cluster: Arc<PgCluster>,
    db: String,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(test: &str) -> Option<Fixture> {
        let cluster = cluster()?;
        cluster.create_database(test).unwrap();
        Some(Fixture {
            cluster,
            db: test.to_string(),
            dir: tempfile::tempdir().unwrap(),
        })
    }

    fn ca(&self) -> PathBuf {
        self.cluster.ca_cert_path().unwrap()
    }

    /// The URL of the test's database with `query` (TLS options) and the
    /// test's `application_name`.
    fn url(&self, query: &str) -> String {
        format!(
            "{}?application_name={}&{query}",
            self.cluster.url(&self.db),
            self.db
        )
    }

    fn open(&self, url: &str) -> Result<Store, StoreError> {
        Store::open_postgres(
            url,
            SecretKey::load_or_create(self.dir.path(), None).unwrap(),
        )
    }

    /// The error opening a store at `url`, which must fail.
    fn refused(&self, url: &str) -> StoreError {
        match self.open(url) {
            Ok(_) => panic!("opened {url}, which should have been refused"),
            Err(e) => e,
        }
    }

    /// How many connections named after this test the server has, and
    /// whether every one of them is encrypted.
    fn encrypted(&self) -> (i64, bool) {
        self.cluster.encrypted_connections(&self.db).unwrap()
    }

    /// Opens a store at `url`, uses it, and says whether its connections
    /// were encrypted.
    fn open_and_check(&self, url: &str) -> bool {
        let store = self
            .open(url)
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
        if store.get_org("acme").unwrap().is_none() {
            store.create_org("acme", "Acme").unwrap();
        }
        assert!(store.get_org("acme").unwrap().is_some());
        let (count, ssl) = self.encrypted();
        assert!(count >= 1, "no connection named {} at {url}", self.db);
        drop(store);
        ssl
    }
}

#[test]
fn require_encrypts_without_checking_the_certificate() {
    let Some(f) = Fixture::new("tls_require") else {
        return;
    };
    assert!(f.open_and_check(&f.url("sslmode=require")));
}

#[test]
fn prefer_encrypts_when_the_server_offers_tls() {
    let Some(f) = Fixture::new("tls_prefer") else {
        return;
    };
    // The default: no sslmode at all.
    let url = format!("{}?application_name={}", f.cluster.url(&f.db), f.db);
    assert!(f.open_and_check(&url));
}

#[test]
fn disable_stays_plain() {
    let Some(f) = Fixture::new("tls_disable") else {
        return;
    };
    assert!(!f.open_and_check(&f.url("sslmode=disable")));
}

#[test]
fn verify_full_with_the_clusters_ca() {
    let Some(f) = Fixture::new("tls_verify_full") else {
        return;
    };
    let url = f.url(&format!(
        "sslmode=verify-full&sslrootcert={}",
        f.ca().display()
    ));
    assert!(f.open_and_check(&url));
    // The key=value form too, with the host name the certificate names.
    let kv = format!(
        "host=localhost hostaddr=127.0.0.1 port={} user=buildsnap dbname={db} \
         application_name={db} sslmode=verify-full sslrootcert='{}'",
        f.cluster.port(),
        f.ca().display(),
        db = f.db
    );
    assert!(f.open_and_check(&kv));
}

#[test]
fn verify_full_with_another_ca_fails_on_the_certificate() {
    let Some(f) = Fixture::new("tls_wrong_ca") else {
        return;
    };
    let other = f.dir.path().join("other-ca.pem");
    std::fs::write(&other, buildsnap_pg_cluster::unrelated_ca_pem().unwrap()).unwrap();
    for mode in ["verify-full", "verify-ca", "require"] {
        let url = f.url(&format!("sslmode={mode}&sslrootcert={}", other.display()));
        let err = f.refused(&url).to_string();
        assert!(
            err.contains("invalid peer certificate") && err.contains("UnknownIssuer"),
            "{mode}: {err}"
        );
    }
    // Without sslrootcert, Mozilla's roots: they do not know this CA either.
    let err = f.refused(&f.url("sslmode=verify-full")).to_string();
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert_eq!(f.encrypted().0, 0, "no connection got through");
}

#[test]
fn verify_ca_skips_the_host_name_verify_full_does_not() {
    let Some(f) = Fixture::new("tls_host_name") else {
        return;
    };
    let url = |mode: &str| {
        format!(
            "host=db.invalid hostaddr=127.0.0.1 port={} user=buildsnap dbname={db} \
             application_name={db} sslmode={mode} sslrootcert={}",
            f.cluster.port(),
            f.ca().display(),
            db = f.db
        )
    };
    let err = f.refused(&url("verify-full")).to_string();
    assert!(
        err.contains("invalid peer certificate")
            && err.contains("not valid for name \"db.invalid\""),
        "{err}"
    );
    assert!(f.open_and_check(&url("verify-ca")));
}

#[test]
fn bad_tls_options_are_refused_clearly() {
    let Some(f) = Fixture::new("tls_bad_options") else {
        return;
    };
    let err = f.refused(&f.url("sslmode=verify"));
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(
        err.to_string().contains("unknown sslmode=\"verify\""),
        "{err}"
    );
    let garbage = f.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "hello\n").unwrap();
    for (root, says) in [
        (garbage.display().to_string(), "no CERTIFICATE block"),
        ("/nonexistent/ca.pem".to_string(), "cannot read it"),
    ] {
        let err = f
            .refused(&f.url(&format!("sslmode=verify-full&sslrootcert={root}")))
            .to_string();
        assert!(
            err.contains(&format!("sslrootcert={root}")) && err.contains(says),
            "{err}"
        );
    }
}
