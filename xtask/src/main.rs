//! `cargo xtask plugins`: build every plugin crate into a component.
//! `cargo xtask check-plugins`: verify each committed component was built
//! from the sources now in the tree.
//! `cargo xtask component DIR`: build a plugin crate of its own (one
//! `buildsnap plugin new` made) into `DIR/target/<id>.wasm`.
//!
//! Two toolchain routes, picked automatically:
//! - a toolchain with the `wasm32-unknown-unknown` target installed: plain
//!   `cargo build --target wasm32-unknown-unknown`;
//! - otherwise Debian's `rustc-web`/`cargo-web` with `rust-web-src` and
//!   `lld`: `RUSTC_BOOTSTRAP=1 /usr/bin/cargo build -Zbuild-std=...`, which
//!   builds std for wasm from source (about a minute the first time).

#![warn(missing_docs)]

use std::path::Path;

use anyhow::{Context, Result, bail};
use xtask::route::{TARGET, cargo_build, pick_route};
use xtask::{PLUGINS, PluginCrate, componentize, repo_root, source_hash, stamped_hash};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = repo_root();
    match args.first().map(String::as_str) {
        Some("plugins") => {
            let only: Vec<&str> = args[1..].iter().map(String::as_str).collect();
            build_all(&root, &only)
        }
        Some("check-plugins") => check_all(&root),
        Some("component") if args.len() == 2 => {
            let out = xtask::route::component(Path::new(&args[1]))?;
            println!("{}", out.display());
            Ok(())
        }
        _ => {
            eprintln!(
                "usage: cargo xtask plugins [PACKAGE...] | cargo xtask check-plugins | cargo xtask component CRATE-DIR"
            );
            std::process::exit(2);
        }
    }
}

fn build_all(root: &Path, only: &[&str]) -> Result<()> {
    let route = pick_route()?;
    let selected: Vec<&PluginCrate> = PLUGINS
        .iter()
        .filter(|p| only.is_empty() || only.contains(&p.package))
        .collect();
    if selected.is_empty() {
        bail!(
            "no plugin named {only:?}; known: {:?}",
            PLUGINS.iter().map(|p| p.package).collect::<Vec<_>>()
        );
    }
    let target_dir = root.join("target/wasm");
    // One cargo invocation per workspace keeps std built once per run.
    let mut manifests: Vec<&str> = selected.iter().map(|p| p.manifest).collect();
    manifests.dedup();
    for manifest in manifests {
        let packages: Vec<&str> = selected
            .iter()
            .filter(|p| p.manifest == manifest)
            .map(|p| p.package)
            .collect();
        cargo_build(
            root,
            &route,
            Path::new(manifest),
            &packages,
            &target_dir,
            "plugin",
            true,
        )?;
    }
    for plugin in selected {
        let core_path = target_dir
            .join(TARGET)
            .join("plugin")
            .join(format!("{}.wasm", plugin.package.replace('-', "_")));
        let core = std::fs::read(&core_path)
            .with_context(|| format!("reading {}", core_path.display()))?;
        let hash = source_hash(root, plugin)?;
        let component = componentize(&core, &hash)
            .with_context(|| format!("componentizing {}", plugin.package))?;
        let out = root.join(plugin.output);
        std::fs::create_dir_all(out.parent().expect("output has a folder"))?;
        std::fs::write(&out, &component)?;
        println!(
            "{:<20} {:>8} bytes  {}",
            plugin.package,
            component.len(),
            plugin.output
        );
    }
    Ok(())
}

fn check_all(root: &Path) -> Result<()> {
    let mut stale = Vec::new();
    for plugin in PLUGINS {
        let bytes = std::fs::read(root.join(plugin.output))
            .with_context(|| format!("reading {}", plugin.output))?;
        let want = source_hash(root, plugin)?;
        match stamped_hash(&bytes)? {
            Some(have) if have == want => println!("ok     {}", plugin.output),
            _ => {
                println!("STALE  {}", plugin.output);
                stale.push(plugin.package);
            }
        }
    }
    if !stale.is_empty() {
        bail!("stale components {stale:?}: run `cargo xtask plugins`");
    }
    Ok(())
}
