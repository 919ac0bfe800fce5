//! What the plugin build and the staleness test share: which plugins
//! exist, how their sources are hashed, and how the hash is stamped into
//! (and read back from) a component.
//!
//! The hash covers the plugin crate's own files and the WIT it targets,
//! not Cargo.lock or the workspace manifest: those change for unrelated
//! crates every day, and a stale-component alarm that fires for them
//! would be ignored.

pub mod route;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// Custom section holding the source hash of a built component.
pub const SOURCE_HASH_SECTION: &str = "buildsnap:source-hash";

/// A plugin crate and where its component goes.
#[derive(Debug, Clone)]
pub struct PluginCrate {
    /// Cargo package name.
    pub package: &'static str,
    /// Crate folder, relative to the repository root.
    pub dir: &'static str,
    /// Cargo workspace manifest that builds it.
    pub manifest: &'static str,
    /// Where the component is written (committed).
    pub output: &'static str,
    /// Other folders whose contents the component depends on.
    pub inputs: &'static [&'static str],
}

const WIT: &[&str] = &["wit/since_v0.1.0"];

const WIT_0_2: &[&str] = &["wit/since_v0.2.0"];
/// The built-in plugins: contract 0.2.0 through the guest kit.
const PDK_0_2: &[&str] = &["wit/since_v0.2.0", "plugins/pdk"];

/// Every plugin the repository builds: the shipped ones, then the test
/// guests that exercise the sandbox.
pub const PLUGINS: &[PluginCrate] = &[
    PluginCrate {
        package: "buildsnap-circleci",
        dir: "plugins/circleci",
        manifest: "Cargo.toml",
        output: "plugins/dist/circleci.wasm",
        inputs: PDK_0_2,
    },
    PluginCrate {
        package: "buildsnap-github-actions",
        dir: "plugins/github-actions",
        manifest: "Cargo.toml",
        output: "plugins/dist/github-actions.wasm",
        inputs: PDK_0_2,
    },
    test_plugin(
        "looper",
        "tests/plugins/looper",
        "tests/plugins/dist/looper.wasm",
    ),
    test_plugin("hog", "tests/plugins/hog", "tests/plugins/dist/hog.wasm"),
    test_plugin(
        "panicker",
        "tests/plugins/panicker",
        "tests/plugins/dist/panicker.wasm",
    ),
    test_plugin("spy", "tests/plugins/spy", "tests/plugins/dist/spy.wasm"),
    test_plugin(
        "future-contract",
        "tests/plugins/future-contract",
        "tests/plugins/dist/future-contract.wasm",
    ),
    test_plugin("echo", "tests/plugins/echo", "tests/plugins/dist/echo.wasm"),
    PluginCrate {
        package: "probe",
        dir: "tests/plugins/probe",
        manifest: "tests/plugins/Cargo.toml",
        output: "tests/plugins/dist/probe.wasm",
        inputs: WIT_0_2,
    },
];

const fn test_plugin(
    package: &'static str,
    dir: &'static str,
    output: &'static str,
) -> PluginCrate {
    PluginCrate {
        package,
        dir,
        manifest: "tests/plugins/Cargo.toml",
        output,
        inputs: WIT,
    }
}

/// The repository root (this crate lives in `<root>/xtask`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent")
        .to_path_buf()
}

/// SHA-256 over the plugin's sources: every file under its folder and its
/// input folders (except build output), by relative path and content.
pub fn source_hash(root: &Path, plugin: &PluginCrate) -> Result<String> {
    let mut files = Vec::new();
    for dir in std::iter::once(plugin.dir).chain(plugin.inputs.iter().copied()) {
        collect(&root.join(dir), &mut files)?;
    }
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        let rel = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .to_string_lossy()
            .replace('\\', "/");
        let content = fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        hasher.update((rel.len() as u64).to_le_bytes());
        hasher.update(rel.as_bytes());
        hasher.update((content.len() as u64).to_le_bytes());
        hasher.update(&content);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "target" || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// The source hash stamped into a component, if any.
pub fn stamped_hash(component: &[u8]) -> Result<Option<String>> {
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        if let wasmparser::Payload::CustomSection(section) = payload?
            && section.name() == SOURCE_HASH_SECTION
        {
            return Ok(Some(String::from_utf8_lossy(section.data()).into_owned()));
        }
    }
    Ok(None)
}

/// Core module → component: drop debug names and producer info (size,
/// and they embed build paths that would make builds irreproducible),
/// encode as a component with no WASI adapter, and stamp the hash.
pub fn componentize(core: &[u8], source_hash: &str) -> Result<Vec<u8>> {
    let stripped = strip_custom_sections(core)?;
    let mut component = wit_component::ComponentEncoder::default()
        .module(&stripped)?
        .validate(true)
        .encode()?;
    let section = wasm_encoder::CustomSection {
        name: SOURCE_HASH_SECTION.into(),
        data: source_hash.as_bytes().into(),
    };
    use wasm_encoder::Encode;
    component.push(0); // section id 0: custom
    section.encode(&mut component);
    Ok(component)
}

fn strip_custom_sections(module: &[u8]) -> Result<Vec<u8>> {
    let mut out = wasm_encoder::Module::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let payload = payload?;
        match &payload {
            wasmparser::Payload::Version { encoding, .. } => {
                if *encoding != wasmparser::Encoding::Module {
                    bail!("expected a core module");
                }
            }
            wasmparser::Payload::CustomSection(c) if !c.name().starts_with("component-type") => {}
            wasmparser::Payload::End(_) => {}
            other => {
                if let Some((id, range)) = other.as_section() {
                    out.section(&wasm_encoder::RawSection {
                        id,
                        data: &module[range.start as usize..range.end as usize],
                    });
                }
            }
        }
    }
    Ok(out.finish())
}
