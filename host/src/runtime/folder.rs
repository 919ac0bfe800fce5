//! The operator's plugins folder, loaded and reloaded.
//!
//! Every `*.wasm` file of the folder is a [`PluginFile`] with a state.
//! [`Folder::reload`] compares the folder with what is loaded: a new or
//! changed file is loaded through the same [`Loader`] as at start (so the
//! precompiled cache is reused: an artifact is keyed by the file's SHA-256)
//! and swapped in, a file whose bytes did not change is left alone, a
//! refused file leaves the version already loaded serving, and a removed
//! file unloads its plugin. A swap replaces one `Arc<Plugin>` in the map:
//! calls in flight hold the old one and finish on it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::cache::{CacheOutcome, sha256_hex};
use super::loader::{LoadError, Loader, PluginSource, Provenance};
use super::plugin::{Plugin, PluginInfo};

/// Where a file of the plugins folder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    /// Its current bytes are the plugin that serves.
    Loaded,
    /// Its current bytes were refused ([`PluginFile::last_error`] says why);
    /// an earlier version keeps serving when [`PluginFile::provider`] is set.
    Refused,
    /// The file is gone and its plugin unloaded.
    Removed,
}

/// One file of the plugins folder, as the last load or reload left it.
#[derive(Debug, Clone, Serialize)]
pub struct PluginFile {
    /// The file's path.
    pub path: String,
    /// Where it stands.
    pub state: FileState,
    /// Id of the plugin this file serves (possibly an earlier version of
    /// the file), if one does.
    pub provider: Option<String>,
    /// Version of the serving plugin.
    pub version: Option<String>,
    /// Hex SHA-256 of the bytes on disk at the last look (`None` once removed
    /// or when unreadable).
    pub sha256: Option<String>,
    /// Hex SHA-256 of the bytes that serve, when a plugin serves.
    pub serving_sha256: Option<String>,
    /// Whether the serving plugin's compiled code came from the
    /// precompiled cache.
    pub cache: Option<CacheOutcome>,
    /// When the state last changed (RFC 3339, UTC).
    pub changed_at: String,
    /// Why the current bytes were refused (`refused` only).
    pub last_error: Option<String>,
    /// The refusal itself, for callers that match on it.
    #[serde(skip)]
    pub error: Option<LoadError>,
}

/// What one reload did, for the log and for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Paths whose plugin was loaded or swapped in.
    pub loaded: Vec<String>,
    /// Paths whose new bytes were refused.
    pub refused: Vec<String>,
    /// Paths removed, their plugins unloaded.
    pub removed: Vec<String>,
}

impl ReloadReport {
    /// Whether the reload changed nothing.
    pub fn is_empty(&self) -> bool {
        self.loaded.is_empty() && self.refused.is_empty() && self.removed.is_empty()
    }
}

/// The loaded plugins and the plugins folder's files. The registry owns
/// one and locks it for each change; reads clone `Arc`s out.
#[derive(Default)]
pub(super) struct Loaded {
    /// Plugins by id.
    pub plugins: BTreeMap<String, Arc<Plugin>>,
    /// The folder's files by path.
    pub files: BTreeMap<PathBuf, PluginFile>,
    /// What plugins unloaded because their file went away described
    /// themselves as, by id: integrations that use them need attention.
    pub unloaded: BTreeMap<String, PluginInfo>,
}

/// The plugins folder and the loader its files go through.
pub(super) struct Folder {
    pub dir: PathBuf,
    pub loader: Loader,
    /// One reload at a time (the watcher, SIGHUP and a test may all ask).
    pub reloading: tokio::sync::Mutex<()>,
}

fn now() -> String {
    buildsnap_domain::ts::format(buildsnap_domain::ts::now())
}

/// The `*.wasm` files of `dir`, in name order.
pub(super) fn wasm_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "wasm") && p.is_file())
        .collect();
    paths.sort();
    Ok(paths)
}

impl Folder {
    /// Brings `state` in line with the folder. The state is locked only for
    /// the short moments a change is written; loading (a compile on a cold
    /// cache takes seconds) happens outside the lock, so calls keep getting
    /// plugins meanwhile.
    pub async fn reload(&self, state: &std::sync::RwLock<Loaded>) -> std::io::Result<ReloadReport> {
        let _one = self.reloading.lock().await;
        let present = wasm_files(&self.dir)?;
        let mut report = ReloadReport::default();
        for path in &present {
            let origin = path.display().to_string();
            let bytes = match std::fs::read(path) {
                Ok(bytes) => bytes,
                Err(err) => {
                    let error = LoadError::Unreadable {
                        origin: origin.clone(),
                        reason: err.to_string(),
                    };
                    refuse(state, path, None, error);
                    report.refused.push(origin);
                    continue;
                }
            };
            let sha = sha256_hex(&bytes);
            let known = state.read().unwrap().files.get(path).cloned();
            if known.as_ref().is_some_and(|f| {
                f.sha256.as_deref() == Some(sha.as_str()) && f.state != FileState::Removed
            }) {
                continue;
            }
            let source = PluginSource {
                origin: origin.clone(),
                bytes,
            };
            match self.loader.load(source, Provenance::PluginsFolder).await {
                Ok((plugin, stats)) => match swap_in(state, path, plugin, stats.cache) {
                    Ok(id) => {
                        tracing::info!(plugin = %id, source = %origin, cache = ?stats.cache, "plugin loaded from the plugins folder");
                        if let Some(plugin) = state.read().unwrap().plugins.get(&id) {
                            super::registry::warn_ungranted(plugin);
                        }
                        report.loaded.push(origin);
                    }
                    Err(error) => {
                        tracing::error!(%error, "plugin not loaded");
                        refuse(state, path, Some(sha), error);
                        report.refused.push(origin);
                    }
                },
                Err(error) => {
                    let serving = known.and_then(|f| f.provider);
                    match &serving {
                        Some(id) => {
                            tracing::error!(%error, plugin = %id, "plugin file refused; the version already loaded keeps serving")
                        }
                        None => tracing::error!(%error, "plugin not loaded"),
                    }
                    refuse(state, path, Some(sha), error);
                    report.refused.push(origin);
                }
            }
        }
        let mut guard = state.write().unwrap();
        let gone: Vec<PathBuf> = guard
            .files
            .iter()
            .filter(|(p, f)| f.state != FileState::Removed && !present.contains(p))
            .map(|(p, _)| p.clone())
            .collect();
        for path in gone {
            let origin = path.display().to_string();
            let provider = guard.files.get(&path).and_then(|f| f.provider.clone());
            if let Some(id) = &provider
                && let Some(plugin) = guard.plugins.get(id).cloned()
                && plugin.info.source == origin
            {
                guard.plugins.remove(id);
                guard.unloaded.insert(id.clone(), plugin.info.clone());
                tracing::warn!(plugin = %id, source = %origin, "plugin file removed; plugin unloaded (its integrations need attention until it is back)");
            }
            guard.files.insert(
                path,
                PluginFile {
                    path: origin.clone(),
                    state: FileState::Removed,
                    provider: None,
                    version: None,
                    sha256: None,
                    serving_sha256: None,
                    cache: None,
                    changed_at: now(),
                    last_error: None,
                    error: None,
                },
            );
            report.removed.push(origin);
        }
        Ok(report)
    }
}

/// Puts `plugin`, loaded from `path`, in place of what served before.
/// Refused when another source already serves the same id.
fn swap_in(
    state: &std::sync::RwLock<Loaded>,
    path: &Path,
    plugin: Plugin,
    cache: CacheOutcome,
) -> Result<String, LoadError> {
    let mut guard = state.write().unwrap();
    let id = plugin.info.id.clone();
    if let Some(existing) = guard.plugins.get(&id)
        && existing.info.source != plugin.info.source
    {
        return Err(LoadError::Duplicate {
            origin: plugin.info.source.clone(),
            id,
            other: existing.info.source.clone(),
        });
    }
    // The file used to serve another id: that one goes.
    let before = guard.files.get(path).and_then(|f| f.provider.clone());
    if let Some(old) = before.filter(|old| *old != id) {
        guard.plugins.remove(&old);
    }
    guard.unloaded.remove(&id);
    guard.files.insert(
        path.to_path_buf(),
        PluginFile {
            path: plugin.info.source.clone(),
            state: FileState::Loaded,
            provider: Some(id.clone()),
            version: Some(plugin.info.version.clone()),
            sha256: Some(plugin.info.sha256.clone()),
            serving_sha256: Some(plugin.info.sha256.clone()),
            cache: Some(cache),
            changed_at: now(),
            last_error: None,
            error: None,
        },
    );
    guard.plugins.insert(id.clone(), Arc::new(plugin));
    Ok(id)
}

/// Records that `path`'s current bytes were refused; whatever served from
/// it before keeps serving.
fn refuse(
    state: &std::sync::RwLock<Loaded>,
    path: &Path,
    sha256: Option<String>,
    error: LoadError,
) {
    let mut guard = state.write().unwrap();
    let before = guard.files.get(path).cloned();
    let (provider, version, serving_sha256, cache) = match before {
        Some(f) if f.state != FileState::Removed => {
            (f.provider, f.version, f.serving_sha256, f.cache)
        }
        _ => (None, None, None, None),
    };
    guard.files.insert(
        path.to_path_buf(),
        PluginFile {
            path: path.display().to_string(),
            state: FileState::Refused,
            provider,
            version,
            sha256,
            serving_sha256,
            cache,
            changed_at: now(),
            last_error: Some(error.to_string()),
            error: Some(error),
        },
    );
}
