//! The harness against a real PostgreSQL server. Each test starts its own
//! cluster (the tests are about the cluster's life cycle); the store's tests
//! share one cluster and take a database each.
//!
//! Without PostgreSQL binaries and with `CI` unset, each test prints the
//! harness's notice and returns; with `CI` set they fail.

use std::net::{Ipv6Addr, TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use buildsnap_pg_cluster::{Error, PgCluster};
use tokio_postgres::{Client, NoTls};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    tokio::spawn(async move {
        // Ends with an error when a test kills the server under it.
        let _ = connection.await;
    });
    client
}

/// `Some(state)` from `/proc/<pid>/stat`, `None` when there is no such
/// process.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

#[test]
fn two_databases_on_one_cluster() {
    let Some(cluster) = PgCluster::start().expect("start the cluster") else {
        return;
    };
    let alpha = cluster.create_database("alpha").unwrap();
    let beta = cluster.create_database("beta").unwrap();
    let port = cluster.port();
    assert_eq!(
        alpha,
        format!("postgres://buildsnap@127.0.0.1:{port}/alpha")
    );
    assert_eq!(beta, format!("postgres://buildsnap@127.0.0.1:{port}/beta"));

    // A name taken twice, or one that would need quoting, is refused.
    let err = cluster.create_database("alpha").unwrap_err();
    assert!(
        matches!(&err, Error::Command { output, .. } if output.contains("already exists")),
        "{err}"
    );
    assert!(matches!(
        cluster.create_database("Robert\"; DROP"),
        Err(Error::InvalidDatabaseName(_))
    ));

    runtime().block_on(async {
        let a = connect(&alpha).await;
        let b = connect(&beta).await;
        for client in [&a, &b] {
            client
                .batch_execute("CREATE TABLE note (id bigint PRIMARY KEY, body text NOT NULL)")
                .await
                .unwrap();
        }
        a.execute(
            "INSERT INTO note (id, body) VALUES ($1, $2), ($3, $4)",
            &[&1i64, &"first", &2i64, &"zwei – ünïcode"],
        )
        .await
        .unwrap();
        b.execute(
            "INSERT INTO note (id, body) VALUES ($1, $2)",
            &[&7i64, &"beta only"],
        )
        .await
        .unwrap();

        let rows = a
            .query("SELECT id, body FROM note ORDER BY id", &[])
            .await
            .unwrap();
        let got: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(
            got,
            [(1, "first".to_string()), (2, "zwei – ünïcode".to_string())]
        );
        // The databases are separate: beta sees only its own row.
        let rows = b.query("SELECT id FROM note", &[]).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.get(0)).collect::<Vec<i64>>(), [7]);

        // `execute` runs SQL in the database it names, and says why it
        // failed: beta's note gets a second row, alpha's none.
        cluster
            .execute(
                "beta",
                "INSERT INTO note (id, body) VALUES (8, 'psql'); ANALYZE note",
            )
            .unwrap();
        let rows = b
            .query("SELECT id FROM note ORDER BY id", &[])
            .await
            .unwrap();
        assert_eq!(rows.iter().map(|r| r.get(0)).collect::<Vec<i64>>(), [7, 8]);
        let n: i64 = a
            .query_one("SELECT count(*) FROM note", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 2);
        let err = cluster
            .execute("alpha", "SELECT * FROM no_such_table")
            .unwrap_err();
        assert!(
            matches!(&err, Error::Command { output, .. } if output.contains("no_such_table")),
            "{err}"
        );
        assert!(matches!(
            cluster.execute("Robert\"; DROP", "SELECT 1"),
            Err(Error::InvalidDatabaseName(_))
        ));

        // The settings the harness promises.
        let show = |name: &'static str| {
            let a = &a;
            async move {
                let row = a.query_one(&format!("SHOW {name}"), &[]).await.unwrap();
                row.get::<_, String>(0)
            }
        };
        assert_eq!(show("listen_addresses").await, "127.0.0.1");
        assert_eq!(show("port").await, port.to_string());
        assert_eq!(show("fsync").await, "off");
        assert_eq!(show("server_encoding").await, "UTF8");
        assert_eq!(show("lc_collate").await, "C");
        let row = a
            .query_one("SELECT host(inet_server_addr()), current_user", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "127.0.0.1");
        assert_eq!(row.get::<_, String>(1), "buildsnap");
    });

    // Nothing listens on the IPv6 loopback at that port (also true where
    // the machine has no IPv6).
    assert!(
        TcpStream::connect_timeout(&(Ipv6Addr::LOCALHOST, port).into(), Duration::from_secs(2))
            .is_err()
    );
}

#[test]
fn drop_stops_the_server_and_removes_the_dir() {
    let Some(cluster) = PgCluster::start().expect("start the cluster") else {
        return;
    };
    let dir = cluster.dir().to_path_buf();
    let port = cluster.port();
    let pid = cluster.postmaster_pid().expect("postmaster.pid");
    assert!(dir.join("data").join("PG_VERSION").is_file());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
    assert!(process_state(pid).is_some());

    drop(cluster);

    assert!(!Path::new(&dir).exists(), "{} still exists", dir.display());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "something still listens on {port}"
    );
    TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("port {port} is not free after drop: {e}"));
    // Gone, or a zombie waiting for whoever adopted it to reap it.
    let state = process_state(pid);
    assert!(
        matches!(state, None | Some('Z')),
        "postmaster {pid} is {state:?}"
    );
}

#[test]
fn kill_and_restart_keep_committed_rows() {
    let Some(mut cluster) = PgCluster::start().expect("start the cluster") else {
        return;
    };
    let url = cluster.create_database("crash").unwrap();
    let rt = runtime();
    rt.block_on(async {
        let client = connect(&url).await;
        client
            .batch_execute("CREATE TABLE t (v int); INSERT INTO t VALUES (42);")
            .await
            .unwrap();
    });

    cluster.kill_server().unwrap();
    assert!(!cluster.is_running());
    assert_eq!(cluster.postmaster_pid(), None);
    assert!(TcpStream::connect(("127.0.0.1", cluster.port())).is_err());
    cluster.kill_server().unwrap(); // stopping a stopped server does nothing

    cluster.restart().unwrap();
    assert!(cluster.is_running());
    assert!(
        cluster.server_log().contains("not properly shut down"),
        "expected crash recovery:\n{}",
        cluster.server_log()
    );
    rt.block_on(async {
        let client = connect(&url).await;
        let row = client.query_one("SELECT v FROM t", &[]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), 42);
    });
}

#[test]
fn a_taken_port_is_retried_on_another() {
    // Hold a port, and ask the harness to try it first.
    let holder = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let taken = holder.local_addr().unwrap().port();
    let Some(cluster) = PgCluster::builder()
        .first_port(taken)
        .start()
        .expect("start the cluster")
    else {
        return;
    };
    assert_ne!(cluster.port(), taken);
    assert!(TcpStream::connect(("127.0.0.1", cluster.port())).is_ok());

    // With a single attempt, the taken port is the error.
    let err = PgCluster::builder()
        .first_port(taken)
        .start_attempts(1)
        .start()
        .unwrap_err();
    assert!(
        matches!(&err, Error::PortsExhausted { attempts: 1, log } if log.contains("Address already in use")),
        "{err}"
    );
    drop(holder);
}

/// `psql` (libpq, independent of the store's rustls code) against the
/// cluster with `conninfo`: its output or its error text.
fn psql(cluster: &PgCluster, conninfo: &str, sql: &str) -> Result<String, String> {
    let out = std::process::Command::new(cluster.bin_dir().join("psql"))
        .env_remove("PGSSLMODE")
        .env_remove("PGSSLROOTCERT")
        .args(["-X", "-A", "-t", "-d", conninfo, "-c", sql])
        .output()
        .expect("running psql");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn tls_cluster_serves_a_certificate_its_ca_verifies() {
    let Some(cluster) = PgCluster::builder()
        .tls(true)
        .start()
        .expect("start the cluster")
    else {
        return;
    };
    let ca = cluster.ca_cert_path().expect("a TLS cluster has a CA");
    assert!(ca.is_file(), "{}", ca.display());
    for name in ["server.crt", "server.key"] {
        let meta = std::fs::metadata(cluster.data_dir().join(name)).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
    }
    let base = format!(
        "host=127.0.0.1 port={} user=buildsnap dbname=postgres",
        cluster.port()
    );
    let ssl = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    // The IP address SAN, checked by libpq's verify-full.
    let full = format!("{base} sslmode=verify-full sslrootcert={}", ca.display());
    assert_eq!(psql(&cluster, &full, ssl).unwrap(), "t");
    // And the DNS name `localhost`.
    let by_name = full.replace("host=127.0.0.1", "host=localhost hostaddr=127.0.0.1");
    assert_eq!(psql(&cluster, &by_name, ssl).unwrap(), "t");
    assert_eq!(
        psql(&cluster, &format!("{base} sslmode=disable"), ssl).unwrap(),
        "f"
    );
    // Another CA does not vouch for the server.
    let other = cluster.dir().join("other-ca.crt");
    std::fs::write(&other, buildsnap_pg_cluster::unrelated_ca_pem().unwrap()).unwrap();
    let wrong = format!("{base} sslmode=verify-full sslrootcert={}", other.display());
    let err = psql(&cluster, &wrong, ssl).unwrap_err();
    assert!(err.contains("certificate verify failed"), "{err}");
}

#[test]
fn plain_cluster_declines_tls() {
    let Some(cluster) = PgCluster::start().expect("start the cluster") else {
        return;
    };
    assert_eq!(cluster.ca_cert_path(), None);
    let base = format!(
        "host=127.0.0.1 port={} user=buildsnap dbname=postgres",
        cluster.port()
    );
    let err = psql(&cluster, &format!("{base} sslmode=require"), "SELECT 1").unwrap_err();
    assert!(err.contains("does not support SSL"), "{err}");
}
