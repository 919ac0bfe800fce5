//! Loading one file as `serve` loads a file of its plugins folder, for
//! `plugin check` and `plugin call`: the file is copied into a folder of
//! its own and loaded through the plugins-folder route, with its
//! provenance rules (only granted origins are reachable) and no compile
//! cache.

use std::path::Path;
use std::sync::Arc;

use crate::runtime::origin::AllowList;
use crate::runtime::outbound::tape::Tape;
use crate::runtime::{Plugin, Registry};

/// A loaded file and its staging folder (kept while the plugin lives).
pub(super) struct Staged {
    /// The plugin.
    pub plugin: Arc<Plugin>,
    /// The file's bytes, as read.
    pub bytes: Vec<u8>,
    _dir: tempfile::TempDir,
}

/// Why a file gave no plugin.
pub(super) enum StageError {
    /// It could not be read or staged.
    Read(String),
    /// The loader refused it; the reason names the file, not the copy.
    Refused(String),
}

/// Loads `file` with `grants` (and every request on `tape`, if given).
pub(super) async fn load(
    file: &Path,
    grants: AllowList,
    tape: Option<Arc<Tape>>,
) -> Result<Staged, StageError> {
    let bytes = std::fs::read(file)
        .map_err(|e| StageError::Read(format!("cannot read {}: {e}", file.display())))?;
    let dir = tempfile::tempdir().map_err(|e| StageError::Read(e.to_string()))?;
    let staged = dir.path().join("plugin.wasm");
    std::fs::write(&staged, &bytes).map_err(|e| StageError::Read(e.to_string()))?;
    let mut builder = Registry::builder()
        .builtin(false)
        .grants(grants)
        .plugins_dir(dir.path());
    if let Some(tape) = tape {
        builder = builder.tape(tape);
    }
    let registry = builder
        .build()
        .await
        .map_err(|e| StageError::Refused(format!("{e:#}")))?;
    if let Some(f) = registry.failures().first() {
        let reason = f
            .error
            .to_string()
            .replace(&staged.display().to_string(), &file.display().to_string());
        return Err(StageError::Refused(reason));
    }
    let plugin = registry.plugins().next().ok_or_else(|| {
        StageError::Refused(format!("nothing was loaded from {}", file.display()))
    })?;
    Ok(Staged {
        plugin,
        bytes,
        _dir: dir,
    })
}
