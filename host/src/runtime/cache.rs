//! On-disk cache of precompiled components.
//!
//! Compiling a component with Cranelift takes hundreds of milliseconds;
//! loading a precompiled artifact is a file map. Artifacts are keyed by the
//! component's SHA-256 and by the engine's compatibility hash, so a changed
//! component or a different wasmtime build (or engine settings) never picks
//! up a stale artifact: it simply misses and compiles again.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where precompiled artifacts live. The directory is created with mode
/// 0700: deserialising an artifact runs its code, so only this process may
/// write there.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
}

/// Whether a load was served from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheOutcome {
    /// A valid precompiled artifact was deserialised: no compilation.
    Hit,
    /// Compiled from the bytes, and the artifact stored for next time.
    Miss,
    /// No cache is configured: compiled from the bytes, nothing stored.
    Disabled,
}

impl ArtifactCache {
    /// Opens (creating if needed) the cache directory and sets it to 0700.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(ArtifactCache { dir })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, engine: &Engine, content_sha256: &str) -> PathBuf {
        let mut hasher = Sha256Hasher::default();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = hex::encode(&hasher.0.finalize()[..8]);
        self.dir
            .join(format!("{content_sha256}-{engine_key}.cwasm"))
    }

    /// The compiled component: from the cache when present and valid,
    /// otherwise compiled from `bytes` and stored for next time.
    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        content_sha256: &str,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.path_for(engine, content_sha256);
        if path.exists() {
            // SAFETY: the file was written by `store` below, in a 0700
            // directory only this process writes, under a name that
            // includes the source's hash and this engine's compatibility
            // hash. wasmtime still checks the header and refuses artifacts
            // of another version or configuration.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %err, "discarding unreadable precompiled artifact");
                    let _ = fs::remove_file(&path);
                }
            }
        }
        let component = Component::from_binary(engine, bytes)?;
        if let Err(err) = self.store(&path, &component) {
            // A read-only data dir costs start-up time, not correctness.
            tracing::warn!(path = %path.display(), error = %err, "could not cache precompiled artifact");
        }
        Ok((component, CacheOutcome::Miss))
    }

    /// Write-then-rename, so a crash or a concurrent start never leaves a
    /// half-written artifact under the final name.
    fn store(&self, path: &Path, component: &Component) -> anyhow::Result<()> {
        let serialized = component.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&serialized)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok(())
    }
}

/// Content hash used for cache keys and for reporting which build of a
/// plugin is loaded.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Feeds `Hash` output into SHA-256: std's `DefaultHasher` may change
/// between Rust releases, and a cache key must not.
#[derive(Default)]
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
    }
}
