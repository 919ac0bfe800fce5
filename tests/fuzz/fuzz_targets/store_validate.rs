//! The store's input rules (`host/store/src/validate.rs`) on arbitrary text.
//!
//! Properties: an accepted SHA is 7 to 40 lower-case hex characters and is
//! the input lower-cased, and every such input is accepted; the plugin's
//! `is_sha` agrees with the store on the trimmed text; an accepted slug is
//! `^[a-z0-9][a-z0-9-]{0,62}$`; an accepted text field is non-blank and
//! within its length; an accepted URL is `http(s)://host...` without
//! whitespace, control characters or a trailing `/`, and is accepted again
//! unchanged.
#![no_main]

use buildsnap_circleci::api::is_sha;
use buildsnap_store::validate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };

    let hex_of_allowed_length =
        (7..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit());
    match validate::sha(s) {
        Ok(sha) => {
            assert!(hex_of_allowed_length, "accepted {s:?}");
            assert_eq!(sha, s.to_ascii_lowercase());
            assert!(
                sha.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
            assert_eq!(validate::sha(&sha).ok().as_deref(), Some(sha.as_str()));
        }
        Err(_) => assert!(!hex_of_allowed_length, "refused {s:?}"),
    }
    assert_eq!(is_sha(s), validate::sha(s.trim()).is_ok(), "{s:?}");

    let slug_ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && b == b'-'));
    assert_eq!(validate::slug(s).is_ok(), slug_ok, "slug {s:?}");

    let max = data.first().map_or(0, |&b| usize::from(b));
    if validate::text("f", s, max).is_ok() {
        assert!(!s.trim().is_empty());
        assert!(s.chars().count() <= max);
    }

    if let Ok(url) = validate::http_url("u", s) {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .expect("scheme kept");
        assert!(
            !rest.is_empty() && !rest.starts_with(['/', '?', '#']),
            "{url:?}"
        );
        assert!(!url.ends_with('/'), "{url:?}");
        assert!(!url.chars().any(|c| c.is_whitespace() || c.is_control()));
        assert!(url.len() <= 2048);
        assert_eq!(
            validate::http_url("u", &url).ok().as_deref(),
            Some(url.as_str())
        );
    }
});
