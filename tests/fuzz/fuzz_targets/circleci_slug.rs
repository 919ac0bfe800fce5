//! CircleCI project slugs (`plugins/circleci/src/slug.rs`) on arbitrary text.
//!
//! Properties: a parsed slug is `vcs/org/repo` with a short, lower-case vcs
//! word, org and repo non-empty, never `.` or `..`, free of `?#%\` and
//! control characters; parsing is idempotent; its URL path has exactly
//! three segments, none a dot segment, and nothing that ends the path;
//! a slug derived from a repository URL parses to itself; `normalize` is
//! idempotent (the stored form is a fixed point).
#![no_main]

use buildsnap_circleci::slug;
use libfuzzer_sys::fuzz_target;

fn check_parsed(input: &str, p: &str) {
    let parts: Vec<&str> = p.split('/').collect();
    assert_eq!(parts.len(), 3, "{input:?} -> {p:?}");
    assert!(
        ["gh", "bb", "circleci"].contains(&parts[0]),
        "vcs of {input:?} -> {p:?}"
    );
    for seg in &parts[1..] {
        assert!(
            !seg.is_empty() && *seg != "." && *seg != "..",
            "{input:?} -> {p:?}"
        );
        assert!(
            !seg.chars()
                .any(|c| matches!(c, '?' | '#' | '%' | '\\') || c.is_control()),
            "{input:?} -> {p:?}"
        );
    }
    assert_eq!(
        slug::parse(p).as_deref(),
        Ok(p),
        "parse not idempotent on {input:?}"
    );
    let path = slug::url_path(p);
    let segs: Vec<&str> = path.split('/').collect();
    assert_eq!(segs.len(), 3, "{path:?}");
    assert!(
        segs.iter()
            .all(|s| !s.is_empty() && *s != "." && *s != ".."),
        "{path:?}"
    );
    assert!(!path.contains(['?', '#', '\\']), "{path:?}");
    assert!(path.bytes().all(|b| b.is_ascii_graphic()), "{path:?}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = slug::parse(s) {
        check_parsed(s, &p);
    }
    if let Some(p) = slug::for_repo_url(s) {
        check_parsed(s, &p);
    }
    let n = slug::normalize(s);
    assert_eq!(slug::normalize(&n), n, "normalize not idempotent on {s:?}");
});
