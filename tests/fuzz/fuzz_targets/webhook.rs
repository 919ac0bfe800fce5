//! CircleCI webhook verification and parsing (`plugins/circleci/src/webhook.rs`).
//!
//! Input, as text lines: the secret, a `circleci-signature` header template
//! where `{sig}` stands for the body's true signature, edits to that
//! signature (pairs of bytes: position, replacement), then the body. The
//! edits let the fuzzer reach near-misses of the true signature.
//!
//! The plugin is asked to verify itself (`verified = false`, the secret in
//! `secrets`), as under the `by-plugin` scheme; the host's own check of the
//! declared `hmac-sha256` scheme has its tests in the host.
//!
//! Properties: the verdict equals a strict reference (a `v1` value of
//! exactly the HMAC's hex, either case, after trimming); a true signature
//! always verifies; parse never accepts what verify refuses; an accepted
//! event is one of the two supported kinds, a workflow event is at most
//! one build without jobs, a job event at most one job update, each with a
//! lower-case hex SHA, and its project is already in stored form.
#![no_main]

use buildsnap_circleci::webhook::{parse, sign, verify_signature};
use buildsnap_circleci::wit::{CallContext, WebhookError, WebhookRequest};
use buildsnap_circleci::{logging, slug};
use libfuzzer_sys::fuzz_target;

fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Strict hex: pairs of `[0-9a-fA-F]`, nothing else.
fn strict_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// What the verdict must be.
fn reference(secret: &str, header: &str, body: &[u8]) -> bool {
    if secret.is_empty() {
        return false;
    }
    let mac = strict_hex(&sign(secret.as_bytes(), body)).expect("sign writes hex");
    header
        .split(',')
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(version, _)| version.trim() == "v1")
        .any(|(_, value)| strict_hex(value.trim()).as_deref() == Some(&mac[..]))
}

fuzz_target!(|data: &[u8]| {
    let (secret, rest) = split_line(data);
    let (template, rest) = split_line(rest);
    let (edits, body) = split_line(rest);
    let (Ok(secret), Ok(template)) = (std::str::from_utf8(secret), std::str::from_utf8(template))
    else {
        return;
    };
    let true_sig = sign(secret.as_bytes(), body);
    let mut sig = true_sig.clone().into_bytes();
    for pair in edits.chunks_exact(2) {
        if pair[1].is_ascii() && pair[1] != b'\n' {
            let at = usize::from(pair[0]) % sig.len();
            sig[at] = pair[1];
        }
    }
    let sig = String::from_utf8(sig).expect("ASCII edits of ASCII");
    let header = template.replace("{sig}", &sig);
    let req = WebhookRequest {
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("Circleci-Signature".into(), header.clone()),
        ],
        body: body.to_vec(),
        delivery_id: None,
        received_at: 0,
        verified: false,
        secrets: vec![secret.into()],
    };

    let verdict = verify_signature(&req);
    assert_eq!(
        verdict.is_ok(),
        reference(secret, &header, body),
        "verdict {verdict:?} for header {header:?}"
    );
    if !secret.is_empty() && template.trim() == "v1={sig}" && sig == true_sig {
        assert_eq!(verdict, Ok(()), "the true signature must verify");
    }

    let ctx = CallContext {
        now: 0,
        base_url: "https://circleci.com".into(),
        settings: vec![],
    };
    let parsed = parse(&ctx, &req);
    logging::take_lines();
    let event = match parsed {
        Ok(event) => event,
        Err(e) => {
            if verdict.is_err() {
                assert!(matches!(e, WebhookError::BadSignature(_)), "{e:?}");
            }
            return;
        }
    };
    assert!(verdict.is_ok(), "parse accepted what verify refused");
    assert!(
        event.kind == "workflow-completed" || event.kind == "job-completed",
        "{:?}",
        event.kind
    );
    if let Some(project) = &event.project {
        assert!(!project.is_empty());
        assert_eq!(
            &slug::normalize(project),
            project,
            "project not in stored form"
        );
    }
    let lower_hex = |sha: &str| {
        (7..=40).contains(&sha.len())
            && sha
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    };
    assert!(event.builds.len() + event.jobs.len() <= 1);
    for b in &event.builds {
        assert_eq!(event.kind, "workflow-completed");
        assert!(lower_hex(&b.sha), "sha {:?}", b.sha);
        assert!(b.jobs.is_empty());
        assert_eq!(b.attempt, 1);
    }
    for update in &event.jobs {
        assert_eq!(event.kind, "job-completed");
        assert!(lower_hex(&update.sha), "sha {:?}", update.sha);
    }
});
