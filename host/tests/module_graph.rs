//! Seams run one way: within each crate of the host, no top-level module
//! reaches (through `crate::...` paths, tests left out) a module that
//! reaches it back. A new import that closes a cycle fails here with the
//! cycle spelled out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its non-test code names.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            let first = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let module = first.trim_end_matches(".rs").to_string();
            if matches!(module.as_str(), "lib" | "main" | "tests") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let deps = edges.entry(module.clone()).or_default();
            for (i, _) in code.match_indices("crate::") {
                let name: String = code[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    deps.insert(name);
                }
            }
        }
    }
    edges
}

/// A cycle through `start`, if any (depth-first).
fn cycle_from(
    edges: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    let here = path.last().unwrap().clone();
    for next in edges.get(&here).into_iter().flatten() {
        if next == start {
            let mut c = path.clone();
            c.push(next.clone());
            return Some(c);
        }
        if path.contains(next) || !edges.contains_key(next) {
            continue;
        }
        path.push(next.clone());
        if let Some(c) = cycle_from(edges, start, path) {
            return Some(c);
        }
        path.pop();
    }
    None
}

#[test]
fn no_module_cycles_in_the_host_crates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for krate in [
        "src",
        "api/src",
        "store/src",
        "services/src",
        "metrics/src",
        "domain/src",
    ] {
        let edges = graph(&root.join(krate));
        for start in edges.keys() {
            if let Some(c) = cycle_from(&edges, start, &mut vec![start.clone()]) {
                panic!("module cycle in host/{krate}: {}", c.join(" -> "));
            }
        }
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.entry("a".into()).or_default().insert("b".into());
    edges.entry("b".into()).or_default().insert("c".into());
    edges.entry("c".into()).or_default().insert("a".into());
    let c = cycle_from(&edges, "a", &mut vec!["a".into()]).unwrap();
    assert_eq!(c, ["a", "b", "c", "a"]);
    edges.get_mut("c").unwrap().clear();
    assert!(cycle_from(&edges, "a", &mut vec!["a".into()]).is_none());
}
