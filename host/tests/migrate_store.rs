//! `buildsnap migrate-store` at the binary level: a SQLite data dir made
//! through the store, copied by the built executable into a throwaway
//! PostgreSQL database (host/pg-cluster; skipped loudly without PostgreSQL
//! binaries, failing when `CI` is set), then `buildsnap serve` on that
//! database serves the copied deploy over HTTP with the data dir's key.
//! The refusals (data dir in use, target not empty, no key) exit non-zero
//! with one line, and the URL's password is never printed.

#[path = "support/ports.rs"]
mod ports;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use buildsnap_pg_cluster::PgCluster;
use buildsnap_store::{
    Account, NewCodeDeployment, NewDeploy, ProviderToken, Scope, SecretKey, Store,
};
use ports::free_port;

const PASSWORD: &str = "pw-secret-4711";

/// The binary with no `BUILDSNAP_*` variable inherited from the test's
/// environment.
fn buildsnap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_buildsnap"));
    for (k, _) in std::env::vars() {
        if k.starts_with("BUILDSNAP_") {
            c.env_remove(k);
        }
    }
    c
}

fn run(c: &mut Command) -> (Output, String, String) {
    let out = c.stdin(Stdio::null()).output().expect("run buildsnap");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("stdout: {stdout}\nstderr: {stderr}");
    assert!(
        !stdout.contains(PASSWORD) && !stderr.contains(PASSWORD),
        "the password was printed"
    );
    (out, stdout, stderr)
}

/// `migrate-store --from dir`, the URL in BUILDSNAP_DATABASE_URL (out of
/// the process list).
fn migrate(dir: &Path, url: &str) -> Command {
    let mut c = buildsnap();
    c.args(["migrate-store", "--from"])
        .arg(dir)
        .env("BUILDSNAP_DATABASE_URL", url);
    c
}

/// A refusal: non-zero, one line on stderr, nothing on stdout.
fn refused(c: &mut Command) -> String {
    let (out, stdout, stderr) = run(c);
    assert!(!out.status.success(), "should have been refused");
    assert_eq!(stdout, "");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    stderr
}

/// An installation: org acme with a token, a project with a code
/// deployment, circleci enabled (a sealed token), one deploy.
fn seed(dir: &Path) -> (String, i64) {
    let s = Store::open(dir, SecretKey::load_or_create(dir, None).unwrap()).unwrap();
    s.create_org("acme", "Acme").unwrap();
    let token = s.create_token("acme", "ops", Scope::All).unwrap().token;
    s.create_project("acme", "web", "Web").unwrap();
    s.create_code_deployment(
        "acme",
        "web",
        &NewCodeDeployment {
            slug: "main".into(),
            repo_url: "https://github.com/acme/web".into(),
            branch: "main".into(),
            build_project: None,
            branch_builds_only: false,
        },
    )
    .unwrap();
    s.enable_integration(
        "acme",
        "circleci",
        "https://circleci.com",
        &ProviderToken::new("tok-123456".into()),
        &Account {
            id: "1".into(),
            login: "octo".into(),
            name: "Octo".into(),
        },
    )
    .unwrap();
    let d = s
        .register_deploy(
            "acme",
            "web",
            &NewDeploy {
                sha: "abcdef1".into(),
                environment: Some("staging".into()),
                deployed_at: None,
                code_deployment: None,
            },
        )
        .unwrap();
    (token, d.id)
}

fn wait_healthy(child: &mut Child, port: u16, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let client = reqwest::blocking_client();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("buildsnap exited ({status}) before serving: {log}");
        }
        if client.get(port, "/healthz", None).0 == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for /healthz");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A small blocking HTTP client over reqwest's async one.
mod reqwest {
    pub struct Blocking(tokio::runtime::Runtime, ::reqwest::Client);

    pub fn blocking_client() -> Blocking {
        Blocking(
            tokio::runtime::Runtime::new().unwrap(),
            ::reqwest::Client::builder().no_proxy().build().unwrap(),
        )
    }

    impl Blocking {
        /// Status and JSON body of `GET path` on 127.0.0.1:`port`.
        pub fn get(&self, port: u16, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
            self.0.block_on(async {
                let mut req = self.1.get(format!("http://127.0.0.1:{port}{path}"));
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                match req.send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        (status, r.json().await.unwrap_or(serde_json::Value::Null))
                    }
                    Err(_) => (0, serde_json::Value::Null),
                }
            })
        }
    }
}

#[test]
fn migrate_store_then_serve_from_postgres() {
    let Some(cluster) = PgCluster::start().expect("starting a PostgreSQL cluster") else {
        return;
    };
    let plain = cluster.create_database("migrate_cli").unwrap();
    // The cluster trusts loopback, so a password in the URL is not checked:
    // it is there to be kept out of the output.
    let url = plain.replacen(
        "postgres://buildsnap@",
        &format!("postgres://buildsnap:{PASSWORD}@"),
        1,
    );
    assert_ne!(url, plain);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (token, id) = seed(&data);
    let key = std::fs::read_to_string(data.join(SecretKey::FILE_NAME)).unwrap();

    // Refused while another store has the data dir open (as a server does).
    let open = Store::open(&data, SecretKey::load_or_create(&data, None).unwrap()).unwrap();
    let err = refused(&mut migrate(&data, &url));
    assert!(
        err.contains("is in use") && err.contains("stop it first"),
        "{err}"
    );
    assert!(err.contains("<redacted>"), "{err}");
    drop(open);

    // Without a key and no key file: refused, naming what to give.
    let bare = tmp.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    let err = refused(&mut migrate(&bare, &url));
    assert!(err.contains("no secret key given"), "{err}");

    // The copy: the data dir's own key file is used.
    let (out, stdout, _) = run(&mut migrate(&data, &url));
    assert!(out.status.success());
    assert!(
        stdout.contains("postgres://buildsnap:<redacted>@"),
        "{stdout}"
    );
    assert!(stdout.contains("in one transaction"), "{stdout}");
    let deploys = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("deploys "))
        .unwrap_or_else(|| panic!("no deploys line: {stdout}"));
    assert!(deploys.contains(" 1 rows"), "{deploys}");
    assert!(stdout.contains("; 1 sealed values opened"), "{stdout}");

    // Again: the target holds data now, refused.
    let err = refused(&mut migrate(&data, &url));
    assert!(err.contains("not empty"), "{err}");

    // Served from PostgreSQL with the data dir's key: the deploy is there,
    // and so is the org token.
    let served = tmp.path().join("served");
    std::fs::create_dir(&served).unwrap();
    let port = free_port();
    let log = served.join("serve.log");
    let mut server = buildsnap()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&served)
        .args(["--sync-interval", "0"])
        .env("BUILDSNAP_DATABASE_URL", &url)
        .env("BUILDSNAP_SECRET_KEY", key.trim())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_healthy(&mut server, port, &log);
    let client = reqwest::blocking_client();
    let (status, back) = client.get(
        port,
        &format!("/api/v1/orgs/acme/deploys/{id}"),
        Some(&token),
    );
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["sha"].as_str(), Some("abcdef1"), "{back}");
    assert_eq!(back["environment"].as_str(), Some("staging"), "{back}");
    let (status, list) = client.get(port, "/api/v1/orgs/acme/deploys", Some(&token));
    assert_eq!(status, 200);
    assert_eq!(list["deploys"].as_array().map(Vec::len), Some(1), "{list}");
    server.kill().unwrap();
    server.wait().unwrap();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!log.contains(PASSWORD), "{log}");
    drop(cluster);
}
