//! `buildsnap plugin check <file.wasm> [--json]`: load a plugin as the
//! server would (a file from the plugins folder: only origins the operator
//! grants are reachable), and print its id, name, version, contract
//! version, imports, declared origins, size and compile time; or the reason
//! it is refused, with exit code 1.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::stage::StageError;
use crate::runtime::origin::AllowList;

/// What `check` found out about a loadable plugin.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Provider id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// The contract version it targets.
    pub contract: String,
    /// Every import of the component, by name.
    pub imports: Vec<String>,
    /// Origins it declares, each with whether the given grants reach it.
    pub origins: Vec<OriginGrant>,
    /// Size of the file in bytes.
    pub size: usize,
    /// Milliseconds to compile and load it (no cache).
    pub compile_ms: u64,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    /// Whether it imports WASI 0.2.
    pub uses_wasi: bool,
}

/// One declared origin.
#[derive(Debug, Clone, Serialize)]
pub struct OriginGrant {
    /// `scheme://host:port`.
    pub origin: String,
    /// Whether `--allow-hosts` grants it (a plugins-folder plugin reaches
    /// nothing else, its own default included).
    pub granted: bool,
}

/// The names of a component's imports, in order (none for bytes that are
/// not a component).
pub fn component_imports(bytes: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload {
            // Only the outer component's own imports: nested modules and
            // components have theirs.
            Ok(wasmparser::Payload::ModuleSection { .. })
            | Ok(wasmparser::Payload::ComponentSection { .. }) => depth += 1,
            Ok(wasmparser::Payload::End(_)) => depth = depth.saturating_sub(1),
            Ok(wasmparser::Payload::ComponentImportSection(reader)) if depth == 0 => {
                for import in reader.into_iter().flatten() {
                    names.push(import.name.name.to_string());
                }
            }
            Err(_) => break,
            _ => {}
        }
    }
    names
}

/// Loads `file` with the grants in `allow_hosts`, as the server loads a
/// plugins-folder file; `Err` is the reason it is refused.
pub async fn check(file: &Path, allow_hosts: &str) -> anyhow::Result<CheckReport> {
    let grants = AllowList::parse(allow_hosts)?;
    let started = Instant::now();
    let staged = super::stage::load(file, grants.clone(), None)
        .await
        .map_err(|e| match e {
            StageError::Read(m) => anyhow::anyhow!(m),
            StageError::Refused(m) => anyhow::anyhow!("refused: {m}"),
        })?;
    let compile_ms = started.elapsed().as_millis() as u64;
    let (plugin, bytes) = (&staged.plugin, &staged.bytes);
    let info = &plugin.info;
    Ok(CheckReport {
        id: info.id.clone(),
        name: info.name.clone(),
        version: info.version.clone(),
        contract: info.api_version.clone(),
        imports: component_imports(bytes),
        origins: info
            .origins
            .iter()
            .map(|o| OriginGrant {
                origin: o.to_string(),
                granted: grants.allows(o),
            })
            .collect(),
        size: bytes.len(),
        compile_ms,
        sha256: info.sha256.clone(),
        uses_wasi: info.uses_wasi,
    })
}

impl CheckReport {
    /// The report as aligned lines for a terminal.
    pub fn text(&self) -> String {
        let origins: Vec<String> = self
            .origins
            .iter()
            .map(|o| {
                if o.granted {
                    o.origin.clone()
                } else {
                    format!(
                        "{} (not granted: add it to BUILDSNAP_ALLOW_HOSTS)",
                        o.origin
                    )
                }
            })
            .collect();
        [
            ("id", self.id.clone()),
            ("name", self.name.clone()),
            ("version", self.version.clone()),
            ("contract", self.contract.clone()),
            ("imports", self.imports.join(", ")),
            ("origins", origins.join(", ")),
            ("size", format!("{} bytes", self.size)),
            ("compile", format!("{} ms", self.compile_ms)),
            ("sha256", self.sha256.clone()),
            ("wasi", if self.uses_wasi { "yes" } else { "no" }.into()),
        ]
        .iter()
        .map(|(k, v)| format!("{k:<9} {v}\n"))
        .collect()
    }
}
