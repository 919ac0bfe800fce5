//! Turning bytes into a [`Plugin`]: format checks, compilation (through
//! the artifact cache), contract version and import checks, `InstancePre`,
//! and the plugin's descriptor. Everything that can be refused is refused
//! here, at load, with a message naming the fix.

use std::sync::Arc;

use url::Url;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::cache::{ArtifactCache, CacheOutcome, sha256_hex};
use super::limits::PluginLimits;
use super::origin::{AllowList, Origin};
use super::outbound::{AuthScheme, Outbound};
use super::plugin::{Integration, Plugin, PluginInfo};
use super::state::PluginState;
use super::wit::{self, ProviderPre, latest::provider::AuthScheme as WitAuth};

/// Bytes of a plugin and where they came from.
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// `builtin:circleci` or the file's path, for messages.
    pub origin: String,
    /// The component's bytes, as read (not yet validated).
    pub bytes: Vec<u8>,
}

/// Where a plugin came from, which decides whether its own default origin
/// is granted without the operator listing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// Shipped inside the program: the built-in CircleCI plugin, or bytes
    /// the embedding program passed to `RegistryBuilder::source`. Whoever
    /// built the program chose it, so its declared default origin is
    /// granted.
    Bundled,
    /// A file from the operator's plugins folder. Anyone who can write a
    /// file there would otherwise choose what the server may reach, so
    /// every origin it declares, its default included, is reachable only
    /// when BUILDSNAP_ALLOW_HOSTS covers it.
    PluginsFolder,
}

/// Why a plugin was refused at load. Each message names the plugin's
/// origin and, where there is one, the fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// The bytes are not a WebAssembly component, or failed to compile.
    #[error("{origin}: not a valid WebAssembly component (truncated or corrupt?): {reason}")]
    Malformed {
        /// Where the bytes came from ([`PluginSource::origin`]).
        origin: String,
        /// What the parser or compiler said.
        reason: String,
    },
    /// A core module (wasm32 without the component wrapper), not a component.
    #[error(
        "{origin}: is a core WebAssembly module, not a component; build it as a component (see docs/plugin-authors.md)"
    )]
    CoreModule {
        /// Where the bytes came from.
        origin: String,
    },
    /// The component does not export the provider interface.
    #[error(
        "{origin}: exports no `{}` interface, so it is not a buildsnap provider (it exports: {exports})",
        wit::PROVIDER_EXPORT
    )]
    NotAProvider {
        /// Where the bytes came from.
        origin: String,
        /// What it exports instead, comma-separated.
        exports: String,
    },
    /// The provider export is of a contract version this host does not serve.
    #[error(
        "{origin}: built for contract {}@{found}, but this host supports {}@{{{supported}}}; rebuild the plugin against a supported version",
        wit::PACKAGE,
        wit::PACKAGE
    )]
    UnsupportedVersion {
        /// Where the bytes came from.
        origin: String,
        /// The version its export carries (or `(unversioned)`).
        found: String,
        /// The versions this host serves, comma-separated.
        supported: String,
    },
    /// An import outside the plugin's own contract version and WASI 0.2.
    #[error(
        "{origin}: imports `{import}`, which the contract does not provide; plugins may import only {}/http, {}/log and {}/types of their contract version, and WASI 0.2",
        wit::PACKAGE,
        wit::PACKAGE,
        wit::PACKAGE
    )]
    ForbiddenImport {
        /// Where the bytes came from.
        origin: String,
        /// The offending import's full name.
        import: String,
    },
    /// The linker could not satisfy the component's imports or exports.
    #[error("{origin}: cannot be linked: {reason}")]
    Link {
        /// Where the bytes came from.
        origin: String,
        /// What wasmtime said.
        reason: String,
    },
    /// The `describe` call trapped, timed out or otherwise failed.
    #[error("{origin}: describe() failed: {reason}")]
    Describe {
        /// Where the bytes came from.
        origin: String,
        /// The call's error.
        reason: String,
    },
    /// `describe` answered, but with a bad id, URL, origin or auth header.
    #[error("{origin}: invalid descriptor: {reason}")]
    InvalidDescriptor {
        /// Where the bytes came from.
        origin: String,
        /// Which field is wrong and why.
        reason: String,
    },
    /// The file could not be read.
    #[error("{origin}: cannot be read: {reason}")]
    Unreadable {
        /// The file's path.
        origin: String,
        /// What the operating system said.
        reason: String,
    },
    /// Another loaded plugin already has this id.
    #[error("{origin}: plugin id `{id}` is already loaded from {other}")]
    Duplicate {
        /// Where the refused plugin came from.
        origin: String,
        /// The id both plugins declare.
        id: String,
        /// Where the plugin already loaded came from.
        other: String,
    },
}

/// What the loader needs, shared by every load.
pub struct Loader {
    /// The engine every plugin is compiled for and runs in.
    pub engine: Engine,
    /// Precompiled artifacts; `None` compiles every load from scratch
    /// (seconds of CPU each, but nothing on disk).
    pub cache: Option<ArtifactCache>,
    /// Memory, time and fuel limits each loaded plugin's calls run under.
    pub limits: PluginLimits,
    /// The shared HTTP client handed to each plugin's calls.
    pub outbound: Arc<Outbound>,
    /// The operator's origin grants (BUILDSNAP_ALLOW_HOSTS).
    pub grants: Arc<AllowList>,
    plain: Linker<PluginState>,
    with_wasi: Linker<PluginState>,
}

/// How a load went, besides the plugin itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadStats {
    /// Whether the compiled artifact came from the cache.
    pub cache: CacheOutcome,
}

struct Shape {
    version: String,
    uses_wasi: bool,
}

impl Loader {
    /// A loader with its two linkers (with and without WASI) built once.
    pub fn new(
        engine: Engine,
        cache: Option<ArtifactCache>,
        limits: PluginLimits,
        outbound: Arc<Outbound>,
        grants: Arc<AllowList>,
    ) -> wasmtime::Result<Self> {
        let plain = wit::linker(&engine, false)?;
        let with_wasi = wit::linker(&engine, true)?;
        Ok(Loader {
            engine,
            cache,
            limits,
            outbound,
            grants,
            plain,
            with_wasi,
        })
    }

    /// Compile (or fetch from cache) on a blocking thread, then check and
    /// describe. Compiling is seconds of CPU for a cold cache.
    pub async fn load(
        &self,
        source: PluginSource,
        provenance: Provenance,
    ) -> Result<(Plugin, LoadStats), LoadError> {
        let origin = source.origin.clone();
        let bytes = source.bytes;
        if wasmparser::Parser::is_core_wasm(&bytes) {
            return Err(LoadError::CoreModule { origin });
        }
        if !wasmparser::Parser::is_component(&bytes) {
            return Err(LoadError::Malformed {
                origin,
                reason: "missing the component header".into(),
            });
        }
        let sha256 = sha256_hex(&bytes);
        let (engine, cache, sha) = (self.engine.clone(), self.cache.clone(), sha256.clone());
        let compiled = tokio::task::spawn_blocking(move || match &cache {
            Some(cache) => cache.load(&engine, &bytes, &sha),
            None => Component::from_binary(&engine, &bytes).map(|c| (c, CacheOutcome::Disabled)),
        })
        .await
        .expect("compile task panicked");
        let (component, cache_outcome) = compiled.map_err(|e| LoadError::Malformed {
            origin: origin.clone(),
            reason: format!("{e:#}"),
        })?;
        let shape = self.shape(&origin, &component)?;
        let linker = if shape.uses_wasi {
            &self.with_wasi
        } else {
            &self.plain
        };
        let pre = linker
            .instantiate_pre(&component)
            .and_then(|pre| ProviderPre::new(&shape.version, pre))
            .map_err(|e| LoadError::Link {
                origin: origin.clone(),
                reason: format!("{e:#}"),
            })?;
        // Describe runs under the plugin's own limits, with placeholder
        // info until the descriptor is known.
        let provisional = PluginInfo {
            id: origin.clone(),
            name: origin.clone(),
            version: String::new(),
            api_version: shape.version.clone(),
            token_help_url: String::new(),
            max_concurrency: 1,
            rate_limits: Vec::new(),
            webhooks: None,
            default_base_url: Url::parse("https://invalid.invalid").expect("static url"),
            auth: AuthScheme::Bearer,
            origins: Vec::new(),
            source: origin.clone(),
            provenance,
            sha256,
            uses_wasi: shape.uses_wasi,
        };
        let make = |info| {
            Plugin::new(
                info,
                self.engine.clone(),
                pre.clone(),
                self.limits.clone(),
                self.outbound.clone(),
                self.grants.clone(),
            )
        };
        let descriptor =
            make(provisional.clone())
                .describe()
                .await
                .map_err(|e| LoadError::Describe {
                    origin: origin.clone(),
                    reason: e.to_string(),
                })?;
        let info = validate_descriptor(&origin, descriptor, provisional)?;
        // The token page of the default server, for the enable form; an
        // integration on another server asks again with its base URL.
        let default_integration = Integration {
            org: None,
            base_url: info.default_base_url.clone(),
            settings: Vec::new(),
            credential: None,
        };
        let token_help_url = make(info.clone())
            .token_help_url(&default_integration)
            .await
            .map_err(|e| LoadError::Describe {
                origin: origin.clone(),
                reason: format!("token-help-url: {e}"),
            })?;
        let info = PluginInfo {
            token_help_url,
            ..info
        };
        Ok((
            Plugin::new(
                info,
                self.engine.clone(),
                pre,
                self.limits.clone(),
                self.outbound.clone(),
                self.grants.clone(),
            ),
            LoadStats {
                cache: cache_outcome,
            },
        ))
    }

    /// The contract version from the exports, and whether every import is
    /// one the contract (or WASI 0.2) provides.
    fn shape(&self, origin: &str, component: &Component) -> Result<Shape, LoadError> {
        let ty = component.component_type();
        let exports: Vec<String> = ty
            .exports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let provider = exports
            .iter()
            .find(|name| name.split('@').next() == Some(wit::PROVIDER_EXPORT));
        let Some(provider) = provider else {
            return Err(LoadError::NotAProvider {
                origin: origin.into(),
                exports: exports.join(", "),
            });
        };
        let version = provider
            .split_once('@')
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| "(unversioned)".into());
        if !wit::SUPPORTED_VERSIONS.contains(&version.as_str()) {
            return Err(LoadError::UnsupportedVersion {
                origin: origin.into(),
                found: version,
                supported: wit::SUPPORTED_VERSIONS.join(", "),
            });
        }
        let mut uses_wasi = false;
        for (name, _) in ty.imports(&self.engine) {
            let (iface, ver) = name.split_once('@').unwrap_or((name, ""));
            let ours = matches!(
                iface
                    .strip_prefix(wit::PACKAGE)
                    .and_then(|rest| rest.strip_prefix('/')),
                Some("http" | "log" | "types")
            ) && ver == version;
            let wasi = iface.starts_with("wasi:") && ver.starts_with("0.2.");
            if !(ours || wasi) {
                return Err(LoadError::ForbiddenImport {
                    origin: origin.into(),
                    import: name.into(),
                });
            }
            uses_wasi |= wasi;
        }
        Ok(Shape { version, uses_wasi })
    }
}

fn validate_descriptor(
    origin: &str,
    d: wit::Descriptor,
    base: PluginInfo,
) -> Result<PluginInfo, LoadError> {
    let bad = |reason: String| LoadError::InvalidDescriptor {
        origin: origin.into(),
        reason,
    };
    let id_ok = !d.id.is_empty()
        && d.id.len() <= 32
        && d.id.starts_with(|c: char| c.is_ascii_lowercase())
        && d.id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !id_ok {
        return Err(bad(format!(
            "id `{}` must match ^[a-z][a-z0-9-]{{0,31}}$",
            d.id
        )));
    }
    let default_base_url = Url::parse(&d.default_base_url)
        .map_err(|e| bad(format!("default-base-url `{}`: {e}", d.default_base_url)))?;
    let default_origin = Origin::of(&default_base_url).ok_or_else(|| {
        bad(format!(
            "default-base-url `{}` is not http(s)",
            d.default_base_url
        ))
    })?;
    let mut origins = d
        .origins
        .iter()
        .map(|o| Origin::parse(o).map_err(|e| bad(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    if !origins.contains(&default_origin) {
        origins.push(default_origin);
    }
    if d.max_concurrency == 0 {
        return Err(bad("max-concurrency must be at least 1".into()));
    }
    if let Some(i) = d.rate_limits.iter().position(|r| r.statuses.is_empty()) {
        return Err(bad(format!("rate-limit rule {i} names no status")));
    }
    let auth = match d.auth {
        WitAuth::Header(name) => {
            if reqwest::header::HeaderName::try_from(name.as_str()).is_err() {
                return Err(bad(format!(
                    "auth header name `{name}` is not a valid header name"
                )));
            }
            AuthScheme::Header(name.to_ascii_lowercase())
        }
        WitAuth::Bearer => AuthScheme::Bearer,
        WitAuth::BasicUser => AuthScheme::BasicUser,
    };
    Ok(PluginInfo {
        id: d.id,
        name: d.name,
        version: d.version,
        max_concurrency: d.max_concurrency,
        rate_limits: d.rate_limits,
        webhooks: d.webhooks,
        default_base_url,
        auth,
        origins,
        ..base
    })
}
