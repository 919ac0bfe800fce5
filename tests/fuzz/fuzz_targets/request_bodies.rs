//! The API's JSON request bodies, parsed by the handlers' own code
//! (`buildsnap_api::check_request_body`). The first byte picks the route,
//! the rest is the body.
//!
//! Properties: a refused body gets a 400 with one of the documented codes
//! and a message, never a 5xx; no message repeats a secret the body
//! carried (`token`, `webhook_secret`); an accepted body is a JSON object;
//! an accepted `deployed_at` comes back in canonical RFC 3339 UTC form that
//! parses to the same instant; an accepted base URL passes the store's URL
//! rule unchanged.
#![no_main]

use buildsnap_api::{RequestBody, check_request_body};
use buildsnap_store::{ts, validate};
use libfuzzer_sys::fuzz_target;

const CODES: &[&str] = &[
    "invalid_json",
    "invalid_scope",
    "invalid_deployed_at",
    "invalid_request",
    "invalid_base_url",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let route = RequestBody::ALL[usize::from(pick) % RequestBody::ALL.len()];
    let value = serde_json::from_slice::<serde_json::Value>(body).ok();
    match check_request_body(route, body, "https://circleci.com") {
        Err(e) => {
            assert_eq!(e.status.as_u16(), 400, "{route:?}: {e:?}");
            assert!(CODES.contains(&e.code), "{route:?}: {e:?}");
            assert!(!e.message.is_empty());
            if let Some(obj) = value.as_ref().and_then(|v| v.as_object()) {
                for key in ["token", "webhook_secret"] {
                    // A message may quote another field (a bad base URL),
                    // and that field may happen to contain the secret's
                    // text: only a secret found nowhere else must not show.
                    let elsewhere = |secret: &str| {
                        obj.iter()
                            .filter(|(k, _)| k.as_str() != key)
                            .filter_map(|(_, v)| v.as_str())
                            .any(|v| v.contains(secret))
                    };
                    if let Some(secret) = obj.get(key).and_then(|v| v.as_str())
                        && secret.trim().len() >= 6
                        && !elsewhere(secret)
                    {
                        assert!(
                            !e.message.contains(secret),
                            "{route:?}: message repeats {key}: {e:?}"
                        );
                    }
                }
            }
        }
        Ok(checked) => {
            assert!(
                value.as_ref().is_some_and(|v| v.is_object()),
                "{route:?} accepted a body that is not a JSON object"
            );
            if let Some(at) = checked.deployed_at {
                let t = ts::parse(&at).expect("canonical form parses");
                assert_eq!(ts::format(t), at, "not canonical");
                let sent = value.as_ref().unwrap()["deployed_at"].as_str().unwrap();
                assert_eq!(ts::parse(sent).unwrap(), t, "instant changed");
            }
            if let Some(url) = checked.base_url {
                assert_eq!(
                    validate::http_url("base_url", &url).ok().as_deref(),
                    Some(url.as_str())
                );
            }
        }
    }
});
