//! `buildsnap plugin check` at the binary level: a good component is
//! described, refused ones exit 1 with the reason.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn check(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_buildsnap"))
        .args(["plugin", "check"])
        .args(args)
        .env_remove("BUILDSNAP_ALLOW_HOSTS")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_loadable_component_is_described_as_the_server_would_load_it() {
    let file = root().join("plugins/dist/circleci.wasm");
    let size = std::fs::metadata(&file).unwrap().len();
    let (code, out, err) = check(&[
        file.to_str().unwrap(),
        "--json",
        "--allow-hosts",
        "https://circleci.com",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["id"], "circleci");
    assert_eq!(r["name"], "CircleCI");
    assert!(r["contract"].as_str().unwrap().starts_with("0."), "{r}");
    let imports: Vec<&str> = r["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("buildsnap:provider/http@")),
        "{imports:?}"
    );
    assert_eq!(r["size"], size);
    assert_eq!(r["origins"][0]["origin"], "https://circleci.com:443");
    assert_eq!(r["origins"][0]["granted"], true);
    assert_eq!(r["sha256"].as_str().unwrap().len(), 64);
    assert!(r["compile_ms"].as_u64().is_some());

    // Text form; without the grant, it says what to add.
    let (code, out, _) = check(&[file.to_str().unwrap()]);
    assert_eq!(code, Some(0));
    assert!(out.contains("id        circleci\n"), "{out}");
    assert!(
        out.contains("not granted: add it to BUILDSNAP_ALLOW_HOSTS"),
        "{out}"
    );
}

#[test]
fn refused_components_exit_1_with_the_reason() {
    let future = root().join("tests/plugins/dist/future-contract.wasm");
    let (code, out, err) = check(&[future.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty());
    assert!(
        err.contains("refused:") && err.contains("this host supports"),
        "{err}"
    );
    assert!(
        err.contains(future.to_str().unwrap()),
        "names the file asked about: {err}"
    );
    assert!(!err.contains("/tmp/.tmp"), "not the staging folder: {err}");

    let not_wasm = root().join("README.md");
    let (code, _, err) = check(&[not_wasm.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not a valid WebAssembly component"), "{err}");

    let (code, _, err) = check(&["/nonexistent/plugin.wasm"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("cannot read /nonexistent/plugin.wasm"),
        "{err}"
    );
}
