use super::*;

fn text(path: &str) -> &'static str {
    let assets: &'static BTreeMap<&'static str, Asset> = &ASSETS;
    let a = assets
        .get(path)
        .unwrap_or_else(|| panic!("no asset {path}"));
    std::str::from_utf8(&a.body).expect("UTF-8 asset")
}

fn scripts() -> Vec<(&'static str, &'static str)> {
    ASSETS
        .keys()
        .filter(|p| p.ends_with(".js"))
        .map(|p| (*p, text(p)))
        .collect()
}

#[test]
fn index_loads_the_entry_module_and_no_inline_code() {
    let index = text(INDEX);
    // The CSP forbids inline script/style, so the page must not rely on them.
    assert!(index.contains(r#"<script type="module" src="/assets/app.js"></script>"#));
    assert!(index.contains(r#"href="/assets/app.css""#));
    assert!(!index.contains("style="), "inline style attribute");
    assert!(!index.contains("<style"), "inline stylesheet");
    assert!(!index.contains("onclick"), "inline handler");
    assert_eq!(index.matches("<script").count(), 1, "one entry module only");
    for (path, a) in ASSETS.iter() {
        if a.content_type.starts_with("text/") {
            let t = text(path);
            assert!(
                !t.contains("http://") && !t.contains("https://"),
                "{path}: no absolute URLs, the page must work offline"
            );
        }
    }
    for (path, js) in scripts() {
        assert!(
            !js.contains("innerHTML"),
            "{path}: build DOM nodes, never HTML strings"
        );
    }
}

#[test]
fn every_embedded_file_has_a_known_type_and_its_own_quoted_etag() {
    assert!(ASSETS.len() >= 5, "{:?}", ASSETS.keys().collect::<Vec<_>>());
    let mut tags = std::collections::BTreeSet::new();
    for (path, a) in ASSETS.iter() {
        assert_ne!(a.content_type, "application/octet-stream", "{path}");
        assert!(a.etag.starts_with('"') && a.etag.ends_with('"') && a.etag.len() == 18);
        assert!(tags.insert(a.etag.clone()), "{path}: same ETag as another");
    }
    assert_eq!(
        content_type("views/deploys.js"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(content_type("README"), "application/octet-stream");
}

#[test]
fn modules_are_small_and_import_only_embedded_modules() {
    let scripts = scripts();
    assert!(scripts.len() >= 6, "the page is split into modules");
    for (path, js) in &scripts {
        let lines = js.lines().count();
        assert!(lines <= 450, "{path} has {lines} lines; split it");
        for line in js.lines().filter(|l| l.starts_with("import ")) {
            let spec = line
                .rsplit_once(" from ")
                .map_or(line, |(_, s)| s)
                .trim_start_matches("import ")
                .trim_end_matches(';')
                .trim_matches(|c| c == '\'' || c == '"');
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
            let target = resolve(dir, spec);
            assert!(
                ASSETS.contains_key(target.as_str()),
                "{path} imports {spec:?} ({target}), which is not served"
            );
        }
    }
}

/// A relative module specifier against the importing module's directory.
fn resolve(dir: &str, spec: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for seg in spec.split('/') {
        match seg {
            "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[test]
fn the_status_vocabulary_is_generated_from_the_domain_and_nowhere_else() {
    let module = text(STATUS_MODULE);
    for &s in Status::ALL {
        assert!(module.contains(&format!("\"{}\"", s.as_str())), "{s}");
    }
    assert!(module.contains(r#""on_hold":"on hold""#), "{module}");
    assert!(module.contains(r#""not_run":"not run""#));
    assert!(module.contains(r#""none":"no builds""#));
    assert!(module.contains(r#""pending":"capturing…""#));
    assert!(module.contains(r#""no_build_server":"no build server""#));
    assert!(module.contains(r#""error":"error""#));
    // No hand-written module repeats the list (a fourth copy).
    for (path, js) in scripts() {
        if path == STATUS_MODULE {
            continue;
        }
        for word in ["on_hold", "not_run", "not run", "on hold", "failing"] {
            assert!(!js.contains(word), "{path} spells the status {word:?}");
        }
    }
}

#[test]
fn every_word_a_badge_shows_has_a_colour_in_the_stylesheet() {
    // A new status compiles and is labelled without any page edit; this
    // points at the one place that still needs it, its badge colour.
    let css = text("app.css");
    let states = SnapshotState::ALL
        .into_iter()
        .filter(|s| *s != SnapshotState::Complete)
        .map(SnapshotState::as_str);
    let words = Status::ALL
        .iter()
        .map(|s| s.as_str())
        .chain([Summary::None.as_str()])
        .chain(states);
    for word in words {
        assert!(
            css.contains(&format!(".badge-{word} ")) || css.contains(&format!(".badge-{word},")),
            "app.css has no .badge-{word} rule"
        );
    }
}
