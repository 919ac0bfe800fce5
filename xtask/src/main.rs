//! `cargo xtask plugins`: build every plugin crate into a component.
//! `cargo xtask check-plugins`: verify each committed component was built
//! from the sources now in the tree.
//!
//! Two toolchain routes, picked automatically:
//! - a toolchain with the `wasm32-unknown-unknown` target installed: plain
//!   `cargo build --target wasm32-unknown-unknown`;
//! - otherwise Debian's `rustc-web`/`cargo-web` with `rust-web-src` and
//!   `lld`: `RUSTC_BOOTSTRAP=1 /usr/bin/cargo build -Zbuild-std=...`, which
//!   builds std for wasm from source (about a minute the first time).

#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use xtask::{PLUGINS, PluginCrate, componentize, repo_root, source_hash, stamped_hash};

const TARGET: &str = "wasm32-unknown-unknown";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = repo_root();
    match args.first().map(String::as_str) {
        Some("plugins") => {
            let only: Vec<&str> = args[1..].iter().map(String::as_str).collect();
            build_all(&root, &only)
        }
        Some("check-plugins") => check_all(&root),
        _ => {
            eprintln!("usage: cargo xtask plugins [PACKAGE...] | cargo xtask check-plugins");
            std::process::exit(2);
        }
    }
}

enum Route {
    /// The cargo on PATH has the target's std installed.
    Installed,
    /// Debian's toolchain, building std from source.
    BuildStd { cargo: PathBuf, linker: PathBuf },
}

fn pick_route() -> Result<Route> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == TARGET)
        })
        .unwrap_or(false);
    if installed {
        return Ok(Route::Installed);
    }
    let cargo = PathBuf::from("/usr/bin/cargo");
    let linker = (14..=30)
        .rev()
        .map(|v| PathBuf::from(format!("/usr/lib/llvm-{v}/bin/wasm-ld")))
        .find(|p| p.exists());
    let src = Path::new("/usr/lib/rustlib/src/rust/library");
    match linker {
        Some(linker) if cargo.exists() && src.exists() => Ok(Route::BuildStd { cargo, linker }),
        _ => bail!(
            "no way to build wasm here: install the target (`rustup target add {TARGET}`) or Debian's \
             toolchain (`apt-get install -y rustc-web cargo-web rust-web-src lld-22`)"
        ),
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
        cargo_build(root, &route, manifest, &packages, &target_dir)?;
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

fn cargo_build(
    root: &Path,
    route: &Route,
    manifest: &str,
    packages: &[&str],
    target_dir: &Path,
) -> Result<()> {
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo")
        });
    // Build paths end up in panic messages; map them to fixed names so the
    // same sources give the same bytes on every machine.
    let mut rustflags = format!(
        "--remap-path-prefix={}=/buildsnap --remap-path-prefix={}=/cargo",
        root.display(),
        home.display()
    );
    let mut cmd = match route {
        Route::Installed => Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())),
        Route::BuildStd { cargo, linker } => {
            let mut cmd = Command::new(cargo);
            cmd.env("RUSTC_BOOTSTRAP", "1")
                .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", linker)
                // Debian's cargo must use Debian's rustc, not rustup's.
                .env("RUSTC", "/usr/bin/rustc")
                .env_remove("RUSTUP_TOOLCHAIN");
            rustflags.push_str(" -Zlocation-detail=none");
            cmd
        }
    };
    cmd.current_dir(root)
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags.replace(' ', "\x1f"))
        .env_remove("RUSTFLAGS")
        .args([
            "build",
            "--locked",
            "--manifest-path",
            manifest,
            "--profile",
            "plugin",
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(target_dir);
    if let Route::BuildStd { .. } = route {
        cmd.arg("-Zbuild-std=std,panic_abort");
    }
    for p in packages {
        cmd.args(["-p", p]);
    }
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("cargo build of {packages:?} failed ({status})");
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
