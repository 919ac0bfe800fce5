//! `buildsnap plugin new <id> [--dir DIR]`: a provider plugin crate of its
//! own, outside any workspace: its `Cargo.toml`, the contract WIT vendored
//! at the version it targets (0.2.0), a provider implementing every export
//! against a small example CI API, native tests on a recording in the
//! `plugin call --record` format, and a README with the build commands of
//! both routes. `cargo test` passes in it as made.

use std::path::{Path, PathBuf};

/// The template's files: (path in the new crate, text with `{{id}}`,
/// `{{name}}`, `{{crate}}` and `{{lib}}` to fill in).
const TEMPLATE: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("template/Cargo.toml.tmpl")),
    (".gitignore", include_str!("template/gitignore.tmpl")),
    ("README.md", include_str!("template/README.md.tmpl")),
    ("src/lib.rs", include_str!("template/src/lib.rs")),
    ("src/api.rs", include_str!("template/src/api.rs")),
    ("src/mapping.rs", include_str!("template/src/mapping.rs")),
    ("src/provider.rs", include_str!("template/src/provider.rs")),
    ("src/guest.rs", include_str!("template/src/guest.rs")),
    (
        "tests/recorded.rs",
        include_str!("template/tests/recorded.rs"),
    ),
    (
        "tests/fixtures/example-ci.json",
        include_str!("template/tests/fixtures/example-ci.json"),
    ),
];

/// The contract the template targets, vendored as is.
const WIT: &[(&str, &str)] = &[
    (
        "wit/world.wit",
        include_str!("../../../wit/since_v0.2.0/world.wit"),
    ),
    (
        "wit/types.wit",
        include_str!("../../../wit/since_v0.2.0/types.wit"),
    ),
    (
        "wit/http.wit",
        include_str!("../../../wit/since_v0.2.0/http.wit"),
    ),
    (
        "wit/log.wit",
        include_str!("../../../wit/since_v0.2.0/log.wit"),
    ),
    (
        "wit/provider.wit",
        include_str!("../../../wit/since_v0.2.0/provider.wit"),
    ),
];

/// The contract version a new plugin targets.
pub const CONTRACT: &str = "0.2.0";

/// What `new` made.
#[derive(Debug)]
pub struct Scaffold {
    /// The crate's folder.
    pub dir: PathBuf,
    /// The crate's name.
    pub crate_name: String,
    /// Every file written, relative to `dir`.
    pub files: Vec<String>,
}

/// Why a plugin id is refused, or `None`: the same rule the host applies
/// to a descriptor's id.
fn bad_id(id: &str) -> Option<String> {
    let ok = !id.is_empty()
        && id.len() <= 32
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    (!ok).then(|| format!("plugin id `{id}` must match ^[a-z][a-z0-9-]{{0,31}}$ (e.g. `acme-ci`)"))
}

/// `acme-ci` → `Acme Ci`.
fn display_name(id: &str) -> String {
    id.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes a new plugin crate for `id` into `dir` (default `./<id>`), which
/// must not exist or be empty.
pub fn new_plugin(id: &str, dir: Option<&Path>) -> anyhow::Result<Scaffold> {
    if let Some(why) = bad_id(id) {
        anyhow::bail!(why);
    }
    let dir = dir.map_or_else(|| PathBuf::from(id), Path::to_path_buf);
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        anyhow::bail!(
            "{} exists and is not empty: give a new folder with --dir",
            dir.display()
        );
    }
    let crate_name = format!("buildsnap-plugin-{id}");
    let fill = |text: &str| {
        text.replace("{{id}}", id)
            .replace("{{name}}", &display_name(id))
            .replace("{{crate}}", &crate_name)
            .replace("{{lib}}", &crate_name.replace('-', "_"))
    };
    let mut files = Vec::new();
    for (path, text) in TEMPLATE
        .iter()
        .map(|(p, t)| (*p, fill(t)))
        .chain(WIT.iter().map(|(p, t)| (*p, t.to_string())))
    {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", parent.display()))?;
        }
        std::fs::write(&target, text)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", target.display()))?;
        files.push(path.to_string());
    }
    Ok(Scaffold {
        dir,
        crate_name,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_descriptor_rule_and_names_read_well() {
        assert!(bad_id("acme-ci").is_none());
        for bad in ["", "Acme", "1ci", "a_b", &"x".repeat(33)] {
            assert!(bad_id(bad).is_some(), "{bad}");
        }
        assert_eq!(display_name("acme-ci"), "Acme Ci");
    }

    #[test]
    fn the_vendored_wit_is_the_contract_it_names() {
        assert!(WIT.iter().all(
            |(_, t)| t.contains(&format!("buildsnap:provider@{CONTRACT}"))
                || !t.contains("package")
        ));
    }
}
