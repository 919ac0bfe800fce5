//! The wasm build route: which toolchain this machine has, the cargo
//! invocation on it, and building a plugin crate outside this workspace
//! (`cargo xtask component`, the plugin kit's walkthrough test).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// The target every route builds for; the component encoding follows.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// How this machine builds wasm.
pub enum Route {
    /// The cargo on PATH has the target's std installed.
    Installed,
    /// Debian's toolchain, building std from source.
    BuildStd { cargo: PathBuf, linker: PathBuf },
}

pub fn pick_route() -> Result<Route> {
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

/// `cargo build` of `packages` (all of the manifest's when empty) for
/// [`TARGET`] under `profile`, run in `root` with its paths remapped so the
/// same sources give the same bytes on every machine.
pub fn cargo_build(
    root: &Path,
    route: &Route,
    manifest: &Path,
    packages: &[&str],
    target_dir: &Path,
    profile: &str,
    locked: bool,
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
        .arg("build")
        .arg("--manifest-path")
        .arg(manifest)
        .args(["--profile", profile, "--target", TARGET])
        .arg("--target-dir")
        .arg(target_dir);
    if locked {
        cmd.arg("--locked");
    }
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

/// Builds the plugin crate in `dir` (its own workspace, such as one
/// `buildsnap plugin new` made) with this machine's route and encodes it
/// as a component at `dir/target/<id>.wasm`, `<id>` being the package name
/// without its `buildsnap-plugin-` prefix. Returns that path.
pub fn component(dir: &Path) -> Result<PathBuf> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("plugin crate {}", dir.display()))?;
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let package = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "name").then(|| v.trim().trim_matches('"').to_string())
        })
        .with_context(|| format!("no package name in {}", manifest.display()))?;
    let route = pick_route()?;
    let target_dir = dir.join("target");
    cargo_build(&dir, &route, &manifest, &[], &target_dir, "release", false)?;
    let core_path = target_dir
        .join(TARGET)
        .join("release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    let core =
        std::fs::read(&core_path).with_context(|| format!("reading {}", core_path.display()))?;
    let hash = hex::encode(Sha256::digest(&core));
    let component = crate::componentize(&core, &hash)?;
    let id = package
        .strip_prefix("buildsnap-plugin-")
        .unwrap_or(&package);
    let out = target_dir.join(format!("{id}.wasm"));
    std::fs::write(&out, component)?;
    Ok(out)
}
