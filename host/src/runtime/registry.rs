//! The set of loaded plugins: the built-in components (CircleCI, GitHub
//! Actions) plus every `*.wasm` in the operator's plugins folder. A file
//! that cannot be loaded is skipped with a log line and recorded, while
//! the rest load; [`Registry::reload`] takes up the folder's changes
//! while the server runs ([`super::folder`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use super::folder::{Folder, Loaded, PluginFile, ReloadReport};

use super::cache::{ArtifactCache, CacheOutcome};
use super::engine::EngineSettings;
use super::limits::PluginLimits;
use super::loader::{LoadError, Loader, PluginSource, Provenance};
use super::origin::AllowList;
use super::outbound::Outbound;
use super::pause::Pauses;
use super::plugin::{Plugin, PluginInfo};

/// The CircleCI component, built by `cargo xtask plugins` and committed,
/// so that building the host needs no wasm toolchain.
pub const BUILTIN_CIRCLECI: &[u8] = include_bytes!("../../../plugins/dist/circleci.wasm");

/// The GitHub Actions component, built and committed the same way.
pub const BUILTIN_GITHUB_ACTIONS: &[u8] =
    include_bytes!("../../../plugins/dist/github-actions.wasm");

/// The components every host carries, by origin name, in load order.
/// Embedding them costs the binary their size (about 250 KB each) and
/// saves operators a download for the two providers most teams use.
pub const BUILTINS: &[(&str, &[u8])] = &[
    ("builtin:circleci", BUILTIN_CIRCLECI),
    ("builtin:github-actions", BUILTIN_GITHUB_ACTIONS),
];

/// A plugin file that was refused, and why.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    /// `builtin:circleci` or the file's path.
    pub source: String,
    /// Why it was refused.
    pub error: LoadError,
}

/// Loaded plugins by id.
pub struct Registry {
    /// The plugins and the folder's files; written at load and at each
    /// reload, read (an `Arc` cloned out) by every call.
    loaded: RwLock<Loaded>,
    /// Refusals of built-in and embedded sources (the folder's are in its
    /// files' states).
    failures: Vec<LoadFailure>,
    cache_outcomes: BTreeMap<String, CacheOutcome>,
    /// The HTTP client and rate-limit pauses every plugin's calls share.
    outbound: Arc<Outbound>,
    /// The plugins folder, when there is one.
    folder: Option<Folder>,
}

/// Builds a [`Registry`]. Defaults: built-in plugin on, no plugins folder,
/// no cache (set `cache_dir` to keep compiled artifacts between starts),
/// no extra origins granted.
pub struct RegistryBuilder {
    engine: EngineSettings,
    limits: PluginLimits,
    cache_dir: Option<PathBuf>,
    plugins_dir: Option<PathBuf>,
    builtin: bool,
    extra: Vec<PluginSource>,
    grants: AllowList,
    tape: Option<Arc<super::outbound::tape::Tape>>,
}

impl Default for RegistryBuilder {
    fn default() -> Self {
        RegistryBuilder {
            engine: EngineSettings::default(),
            limits: PluginLimits::default(),
            cache_dir: None,
            plugins_dir: None,
            builtin: true,
            extra: Vec::new(),
            grants: AllowList::default(),
            tape: None,
        }
    }
}

impl RegistryBuilder {
    /// Settings of the wasm engine every plugin runs in.
    pub fn engine(mut self, settings: EngineSettings) -> Self {
        self.engine = settings;
        self
    }
    /// Memory, time, concurrency and HTTP limits for every plugin's calls.
    pub fn limits(mut self, limits: PluginLimits) -> Self {
        self.limits = limits;
        self
    }
    /// Keep precompiled artifacts here (created 0700).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }
    /// Load every `*.wasm` file of this folder, in name order. They get no
    /// origin the grants do not cover ([`Provenance::PluginsFolder`]).
    pub fn plugins_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.plugins_dir = Some(dir.into());
        self
    }
    /// Load the embedded plugins, [`BUILTINS`] (default true).
    pub fn builtin(mut self, on: bool) -> Self {
        self.builtin = on;
        self
    }
    /// Load these bytes too (tests, embedding). They count as bundled
    /// ([`Provenance::Bundled`]): their default origin is granted.
    pub fn source(mut self, source: PluginSource) -> Self {
        self.extra.push(source);
        self
    }
    /// Record every plugin request on `tape`, or answer them from it
    /// (`buildsnap plugin call --record/--replay`).
    pub fn tape(mut self, tape: Arc<super::outbound::tape::Tape>) -> Self {
        self.tape = Some(tape);
        self
    }
    /// Origins the operator grants beyond each plugin's default.
    pub fn grants(mut self, grants: AllowList) -> Self {
        self.grants = grants;
        self
    }

    /// Compiles and loads every source. Fails only on setup (engine, cache,
    /// plugins folder); a plugin that cannot load is recorded in
    /// [`Registry::failures`] and the rest still load.
    pub async fn build(self) -> anyhow::Result<Registry> {
        let engine = self
            .engine
            .build()
            .map_err(|e| anyhow::anyhow!("wasm engine: {e:#}"))?;
        let cache = match &self.cache_dir {
            Some(dir) => Some(
                ArtifactCache::open(dir)
                    .map_err(|e| anyhow::anyhow!("plugin cache {}: {e}", dir.display()))?,
            ),
            None => None,
        };
        let mut outbound = Outbound::new(self.limits.http.clone())?;
        if let Some(tape) = self.tape {
            outbound = outbound.with_tape(tape);
        }
        let outbound = Arc::new(outbound);
        let loader = Loader::new(
            engine,
            cache,
            self.limits,
            outbound.clone(),
            Arc::new(self.grants),
        )
        .map_err(|e| anyhow::anyhow!("plugin linker: {e:#}"))?;
        let mut sources = Vec::new();
        if self.builtin {
            sources.extend(BUILTINS.iter().map(|(origin, bytes)| {
                (
                    PluginSource {
                        origin: (*origin).into(),
                        bytes: bytes.to_vec(),
                    },
                    Provenance::Bundled,
                )
            }));
        }
        sources.extend(self.extra.into_iter().map(|s| (s, Provenance::Bundled)));
        let mut registry = Registry {
            loaded: RwLock::default(),
            failures: Vec::new(),
            cache_outcomes: BTreeMap::new(),
            outbound,
            folder: None,
        };
        for (source, provenance) in sources {
            let origin = source.origin.clone();
            match loader.load(source, provenance).await {
                Ok((plugin, stats)) => registry.add(plugin, stats.cache),
                Err(error) => {
                    tracing::error!(source = %origin, %error, "plugin not loaded");
                    registry.failures.push(LoadFailure {
                        source: origin,
                        error,
                    });
                }
            }
        }
        if let Some(dir) = self.plugins_dir {
            let folder = Folder {
                dir,
                loader,
                reloading: tokio::sync::Mutex::new(()),
            };
            folder
                .reload(&registry.loaded)
                .await
                .map_err(|e| anyhow::anyhow!("plugins dir {}: {e}", folder.dir.display()))?;
            registry.folder = Some(folder);
        }
        Ok(registry)
    }
}

impl Registry {
    /// A [`RegistryBuilder`] with its defaults.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    fn add(&mut self, plugin: Plugin, cache: CacheOutcome) {
        let id = plugin.info.id.clone();
        let plugins = &mut self.loaded.get_mut().unwrap().plugins;
        if let Some(existing) = plugins.get(&id) {
            let error = LoadError::Duplicate {
                origin: plugin.info.source.clone(),
                id: id.clone(),
                other: existing.info.source.clone(),
            };
            tracing::error!(%error, "plugin not loaded");
            self.failures.push(LoadFailure {
                source: plugin.info.source.clone(),
                error,
            });
            return;
        }
        tracing::info!(
            plugin = %id, version = %plugin.info.version, contract = %plugin.info.api_version,
            source = %plugin.info.source, cache = ?cache, "plugin loaded"
        );
        warn_ungranted(&plugin);
        self.cache_outcomes.insert(id.clone(), cache);
        plugins.insert(id, Arc::new(plugin));
    }

    /// The loaded plugin with this id. A call keeps the `Arc` it got: a
    /// reload that swaps the plugin meanwhile does not disturb it.
    pub fn get(&self, id: &str) -> Option<Arc<Plugin>> {
        self.loaded.read().unwrap().plugins.get(id).cloned()
    }

    /// Loaded plugins in id order, as they are now.
    pub fn plugins(&self) -> std::vec::IntoIter<Arc<Plugin>> {
        let loaded = self.loaded.read().unwrap();
        loaded
            .plugins
            .values()
            .cloned()
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// The sources that are refused now: built-in and embedded ones at
    /// load, then each plugins-folder file whose current bytes were refused.
    pub fn failures(&self) -> Vec<LoadFailure> {
        let loaded = self.loaded.read().unwrap();
        let files = loaded.files.values().filter_map(|f| {
            f.error.clone().map(|error| LoadFailure {
                source: f.path.clone(),
                error,
            })
        });
        self.failures.iter().cloned().chain(files).collect()
    }

    /// The plugins folder's files and where each stands, in path order
    /// (none without a folder).
    pub fn files(&self) -> Vec<PluginFile> {
        self.loaded
            .read()
            .unwrap()
            .files
            .values()
            .cloned()
            .collect()
    }

    /// What plugins unloaded because their file was removed described
    /// themselves as (until the file is back).
    pub fn unloaded(&self) -> Vec<PluginInfo> {
        self.loaded
            .read()
            .unwrap()
            .unloaded
            .values()
            .cloned()
            .collect()
    }

    /// Takes up the plugins folder's changes: new and changed files are
    /// loaded and swapped in, refused ones leave the loaded version
    /// serving, removed ones are unloaded. Without a folder: nothing to do.
    pub async fn reload(&self) -> std::io::Result<ReloadReport> {
        match &self.folder {
            Some(folder) => folder.reload(&self.loaded).await,
            None => Ok(ReloadReport::default()),
        }
    }

    /// The plugins folder, when there is one.
    pub fn plugins_dir(&self) -> Option<&std::path::Path> {
        self.folder.as_ref().map(|f| f.dir.as_path())
    }

    /// The integrations' rate-limit pauses (shared by every plugin call);
    /// set their observer before the first call.
    pub fn pauses(&self) -> &Pauses {
        self.outbound.pauses()
    }

    /// Whether a plugin's compiled code came from the on-disk cache.
    pub fn cache_outcome(&self, id: &str) -> Option<CacheOutcome> {
        self.cache_outcomes.get(id).copied()
    }
}

/// Logs the origins `plugin` declares that the operator's grants do not
/// cover, with the setting that would grant them.
pub(super) fn warn_ungranted(plugin: &Plugin) {
    let id = &plugin.info.id;
    let ungranted = plugin.ungranted_origins();
    if !ungranted.is_empty() {
        let list = ungranted
            .iter()
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let why = match plugin.info.provenance {
            Provenance::PluginsFolder => {
                "plugin from the plugins folder: the origins it declares, its default included, are reachable only when BUILDSNAP_ALLOW_HOSTS grants them"
            }
            Provenance::Bundled => {
                "the plugin declares origins BUILDSNAP_ALLOW_HOSTS does not grant"
            }
        };
        tracing::warn!(
            plugin = %id, source = %plugin.info.source, ungranted = %list,
            "{why}; to let it reach them set BUILDSNAP_ALLOW_HOSTS={list}"
        );
    }
}
