//! The operator commands at the binary level: the built `buildsnap`
//! executable run as an operator would, its stdout, stderr and exit status
//! checked, and its effects read back from the data dir.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use buildsnap_store::{Account, Principal, ProviderToken, Scope, SecretKey, Store};

/// The binary with no `BUILDSNAP_*` variable inherited from the test's
/// environment (each test sets what it means to).
fn buildsnap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_buildsnap"));
    for (k, _) in std::env::vars() {
        if k.starts_with("BUILDSNAP_") {
            c.env_remove(k);
        }
    }
    c
}

fn run(c: &mut Command) -> Output {
    let out = c.output().expect("run buildsnap");
    eprintln!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn open(dir: &Path) -> Store {
    Store::open(dir, SecretKey::load_or_create(dir, None).unwrap()).unwrap()
}

#[test]
fn orgs_create_then_tokens_create_prints_the_token_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = run(buildsnap().args([
        "orgs",
        "create",
        "acme",
        "--name",
        "Acme Inc",
        "--data-dir",
        d,
    ]));
    assert!(out.status.success());
    assert_eq!(stdout(&out), "created org acme (Acme Inc)\n");
    assert_eq!(
        open(dir.path()).get_org("acme").unwrap().unwrap().name,
        "Acme Inc"
    );

    let out = run(buildsnap().args([
        "tokens",
        "create",
        "--org",
        "acme",
        "--name",
        "deployer",
        "--scope",
        "register_deploy",
        "--data-dir",
        d,
    ]));
    assert!(out.status.success());
    // `TOKEN=$(buildsnap tokens create ...)` gets the token and nothing else.
    let text = stdout(&out);
    let token = text.strip_suffix('\n').expect("one line");
    assert!(
        !token.is_empty() && !token.contains(char::is_whitespace),
        "{text:?}"
    );
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(note.contains("register_deploy token `deployer`"), "{note}");
    assert!(!note.contains(token), "the token is shown once, on stdout");
    // It is a working token of that org and scope.
    let p = open(dir.path())
        .authenticate(token)
        .unwrap()
        .expect("token authenticates");
    assert_eq!(
        p,
        Principal::Org {
            org: "acme".into(),
            scope: Scope::RegisterDeploy
        }
    );

    // Bad input: a clear error, a failure status, nothing on stdout.
    let out = run(buildsnap().args([
        "tokens",
        "create",
        "--org",
        "acme",
        "--name",
        "x",
        "--scope",
        "root",
        "--data-dir",
        d,
    ]));
    assert!(!out.status.success());
    assert!(stdout(&out).is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scope `root`"));
}

#[test]
fn the_flag_wins_over_the_environment() {
    let from_env = tempfile::tempdir().unwrap();
    let from_flag = tempfile::tempdir().unwrap();
    let out = run(buildsnap()
        .env("BUILDSNAP_DATA_DIR", from_env.path())
        .args(["orgs", "create", "acme", "--data-dir"])
        .arg(from_flag.path()));
    assert!(out.status.success());
    assert!(open(from_flag.path()).get_org("acme").unwrap().is_some());
    assert!(
        std::fs::read_dir(from_env.path()).unwrap().next().is_none(),
        "nothing was written where the environment pointed"
    );
    // Without the flag, the environment is used.
    let out = run(buildsnap()
        .env("BUILDSNAP_DATA_DIR", from_env.path())
        .args(["orgs", "create", "globex"]));
    assert!(out.status.success());
    assert!(open(from_env.path()).get_org("globex").unwrap().is_some());
}

#[test]
fn secret_key_file_is_the_key_that_opens_the_stored_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("buildsnap.key");
    std::fs::write(&key_file, format!("{}\n", "ab".repeat(32))).unwrap();
    // A provider token sealed under that key.
    let store = Store::open(dir.path(), SecretKey::from_file(&key_file).unwrap()).unwrap();
    store.create_org("acme", "Acme").unwrap();
    store
        .enable_integration(
            "acme",
            "circleci",
            "https://circleci.com",
            &ProviderToken::new("provider-token".into()),
            &Account {
                id: "1".into(),
                login: "a".into(),
                name: "A".into(),
            },
        )
        .unwrap();
    drop(store);

    let out = run(buildsnap()
        .args([
            "tokens",
            "create",
            "--org",
            "acme",
            "--name",
            "me",
            "--data-dir",
        ])
        .arg(dir.path())
        .arg("--secret-key-file")
        .arg(&key_file));
    assert!(out.status.success());
    assert!(
        !dir.path().join("secret.key").exists(),
        "no key file made in the data dir"
    );

    // Without it, a new key is made in the data dir and refused: it does
    // not open what the key file's key sealed.
    let out = run(buildsnap()
        .args([
            "tokens",
            "create",
            "--org",
            "acme",
            "--name",
            "me2",
            "--data-dir",
        ])
        .arg(dir.path()));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BUILDSNAP_SECRET_KEY"), "{err}");

    // A key file that holds no key is a clear error.
    std::fs::write(&key_file, "not a key").unwrap();
    let out = run(buildsnap()
        .args(["orgs", "create", "x", "--data-dir"])
        .arg(dir.path())
        .arg("--secret-key-file")
        .arg(&key_file));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("buildsnap.key"));
}

#[test]
fn providers_list_shows_the_built_in_plugin_folder_plugins_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/plugins/dist");
    std::fs::copy(dist.join("echo.wasm"), plugins.path().join("echo.wasm")).unwrap();
    std::fs::write(plugins.path().join("broken.wasm"), b"\0asm but not really").unwrap();
    let out = run(buildsnap()
        .args(["providers", "list", "--data-dir"])
        .arg(dir.path())
        .arg("--plugins-dir")
        .arg(plugins.path()));
    assert!(out.status.success());
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("circleci ") && l.contains("contract 0.2.0")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("echo ") && l.contains("contract 0.1.0")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("github-actions ") && l.contains("contract 0.2.0")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("FAILED") && l.contains("broken.wasm")),
        "{text}"
    );
    assert_eq!(lines.len(), 4, "{text}");
}

#[test]
fn serve_with_log_format_json_writes_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = buildsnap()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--sync-interval",
            "0",
        ])
        .args([
            "--admin-token",
            "cli-test-admin-token-0123456789",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    // Until the server says it is serving (compiling the built-in plugin
    // on an empty cache takes a while on a busy machine).
    let serving = loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => {
                let v: serde_json::Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                lines.push(line);
                if v["message"] == "buildsnap serving" {
                    break v;
                }
            }
            Err(e) => {
                let _ = child.kill();
                panic!("no `buildsnap serving` line ({e}); got {lines:#?}");
            }
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(serving["level"], "INFO", "{serving}");
    assert!(
        serving["listen"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{serving}"
    );
    assert_eq!(serving["plugin_timeout_s"], 30, "{serving}");
    assert!(
        !lines.iter().any(|l| l.contains("cli-test-admin-token")),
        "{lines:#?}"
    );
}
