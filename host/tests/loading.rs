//! Loading: refusals with clear reasons while the rest load, the
//! precompiled cache, the built-in plugin, and committed components
//! matching their sources.

mod support;

use buildsnap::runtime::cache::CacheOutcome;
use buildsnap::runtime::{LoadError, Registry};
use support::*;

#[tokio::test]
async fn broken_and_incompatible_files_are_skipped_while_others_load() {
    let dir = tempfile::tempdir().unwrap();
    let echo = guest("echo");
    std::fs::write(dir.path().join("a-truncated.wasm"), &echo[..echo.len() / 2]).unwrap();
    // A valid core module (magic + version 1), not a component.
    std::fs::write(
        dir.path().join("b-core.wasm"),
        wasm_encoder::Module::new().finish(),
    )
    .unwrap();
    std::fs::write(dir.path().join("c-future.wasm"), guest("future-contract")).unwrap();
    std::fs::write(dir.path().join("d-echo.wasm"), &echo).unwrap();
    std::fs::write(dir.path().join("e-notes.txt"), b"ignored: not *.wasm").unwrap();

    let registry = Registry::builder()
        .plugins_dir(dir.path())
        .build()
        .await
        .unwrap();
    let ids: Vec<String> = registry.plugins().map(|p| p.id().to_string()).collect();
    assert_eq!(ids, ["circleci", "echo", "github-actions"]);

    let failures = registry.failures();
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert!(
        matches!(failures[0].error, LoadError::Malformed { .. }),
        "{:?}",
        failures[0]
    );
    assert!(failures[0].error.to_string().contains("a-truncated.wasm"));
    assert!(
        matches!(failures[1].error, LoadError::CoreModule { .. }),
        "{:?}",
        failures[1]
    );
    let future = failures[2].error.to_string();
    assert!(
        matches!(failures[2].error, LoadError::UnsupportedVersion { .. }),
        "{future}"
    );
    assert!(
        future.contains("9.0.0") && future.contains("0.1.0"),
        "names found and supported versions: {future}"
    );
}

#[tokio::test]
async fn duplicate_ids_keep_the_first() {
    let registry = Registry::builder()
        .builtin(false)
        .source(source("echo"))
        .source(source("echo"))
        .build()
        .await
        .unwrap();
    assert_eq!(registry.plugins().count(), 1);
    assert!(matches!(
        registry.failures()[0].error,
        LoadError::Duplicate { .. }
    ));
}

#[tokio::test]
async fn precompiled_cache_is_reused_and_invalidated_on_change() {
    let cache = tempfile::tempdir().unwrap();
    let load = |bytes: Vec<u8>| {
        let dir = cache.path().to_path_buf();
        async move {
            Registry::builder()
                .builtin(false)
                .cache_dir(dir)
                .source(buildsnap::runtime::PluginSource {
                    origin: "test:echo".into(),
                    bytes,
                })
                .build()
                .await
                .unwrap()
        }
    };
    let echo = guest("echo");
    assert_eq!(
        load(echo.clone()).await.cache_outcome("echo"),
        Some(CacheOutcome::Miss)
    );
    assert_eq!(
        load(echo.clone()).await.cache_outcome("echo"),
        Some(CacheOutcome::Hit)
    );
    // Same plugin, different bytes (an extra custom section): recompiled.
    let mut changed = echo.clone();
    changed.extend_from_slice(&[0, 4, 1, b'x', 1, 2]);
    assert_eq!(
        load(changed).await.cache_outcome("echo"),
        Some(CacheOutcome::Miss)
    );
    let artifacts = std::fs::read_dir(cache.path()).unwrap().count();
    assert_eq!(artifacts, 2);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(cache.path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
    }
}

#[tokio::test]
async fn corrupt_cached_artifact_is_discarded_and_rebuilt() {
    let cache = tempfile::tempdir().unwrap();
    let build = || {
        Registry::builder()
            .builtin(false)
            .cache_dir(cache.path())
            .source(source("echo"))
            .build()
    };
    build().await.unwrap();
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
    }
    let registry = build().await.unwrap();
    assert_eq!(registry.cache_outcome("echo"), Some(CacheOutcome::Miss));
    assert_eq!(
        registry.get("echo").unwrap().describe().await.unwrap().id,
        "echo"
    );
}

#[tokio::test]
async fn builtin_circleci_describes_itself() {
    let registry = Registry::builder().build().await.unwrap();
    let circleci = registry.get("circleci").expect("built-in plugin loads");
    assert_eq!(circleci.info.api_version, "0.2.0");
    assert_eq!(circleci.info.name, "CircleCI");
    assert_eq!(circleci.info.max_concurrency, 8);
    assert_eq!(
        circleci.info.default_base_url.as_str(),
        "https://circleci.com/"
    );
    assert!(
        !circleci.info.uses_wasi,
        "the shipped plugin imports nothing beyond the contract"
    );
    assert!(
        circleci
            .info
            .token_help_url
            .starts_with("https://app.circleci.com/")
    );
}

#[test]
fn committed_components_match_their_sources() {
    let root = repo();
    let mut stale = Vec::new();
    for plugin in xtask::PLUGINS {
        let bytes = std::fs::read(root.join(plugin.output)).unwrap();
        let stamped = xtask::stamped_hash(&bytes).unwrap();
        let current = xtask::source_hash(&root, plugin).unwrap();
        if stamped.as_deref() != Some(current.as_str()) {
            stale.push(plugin.output);
        }
    }
    assert!(
        stale.is_empty(),
        "components older than their sources: {stale:?}; run `cargo xtask plugins`"
    );
}
