//! `buildsnap serve` with `BUILDSNAP_DATABASE_URL` asking for
//! `sslmode=verify-full` and the CA in `sslrootcert`, against a throwaway
//! cluster serving TLS (pg-cluster's `Builder::tls`; skipped loudly without
//! PostgreSQL binaries): `/readyz` answers 200 on PostgreSQL, and the
//! server's connections are encrypted (the server's `pg_stat_ssl`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use buildsnap_pg_cluster::PgCluster;
use serde_json::Value;

#[path = "support/ports.rs"]
mod ports;

const KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";

/// Kills the server when the test ends, passing or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_connects_to_postgres_over_verified_tls() {
    let Some(cluster) = PgCluster::builder()
        .tls(true)
        .start()
        .expect("starting a TLS PostgreSQL cluster")
    else {
        return;
    };
    let db = "tls_serve";
    cluster.create_database(db).unwrap();
    let ca = cluster.ca_cert_path().unwrap();
    let url = format!(
        "{}?application_name={db}&sslmode=verify-full&sslrootcert={}",
        cluster.url(db),
        ca.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let port = ports::free_port();
    let log_path = dir.path().join("serve.log");
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_buildsnap"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir.path())
            .args([
                "--admin-token",
                "admin-token-for-tls-serve",
                "--sync-interval",
                "0",
            ])
            .env("BUILDSNAP_DATABASE_URL", &url)
            .env("BUILDSNAP_SECRET_KEY", KEY)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .expect("spawn buildsnap"),
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let ready: Value = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("buildsnap exited ({status}) before serving: {log}");
        }
        let answer = rt.block_on(async {
            let r = client
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
                .ok()?;
            (r.status() == 200).then_some(())?;
            r.json::<Value>().await.ok()
        });
        if let Some(body) = answer {
            break body;
        }
        assert!(Instant::now() < deadline, "timed out waiting for /readyz");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(ready["database"], "postgresql", "{ready}");

    let (count, ssl) = cluster.encrypted_connections(db).unwrap();
    assert!(
        count >= 1 && ssl,
        "{count} connections, all encrypted: {ssl}"
    );
    // The password-free URL is fine to log, but the log must still not
    // show the root file's contents or fail on the extra options.
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(!log.contains("BEGIN CERTIFICATE"), "{log}");
}
