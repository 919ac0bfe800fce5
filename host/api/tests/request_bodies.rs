//! `check_request_body`: the handlers' own body parsing, as the fuzz target
//! `request_bodies` drives it, with the inputs it found.

use buildsnap_api::{RequestBody, check_request_body};

const DEFAULT: &str = "https://circleci.com";

/// Found by the fuzzer: serde_json skips an unknown field's string without
/// checking its UTF-8, so this body (a 0x93 byte in it) was accepted.
#[test]
fn a_body_that_is_not_utf8_is_invalid_json_even_in_an_unknown_field() {
    let body = b"{\"slug\":\"app\",\"webhname\":\"Ap\x93p\"}";
    for route in RequestBody::ALL {
        let e = check_request_body(route, body, DEFAULT).unwrap_err();
        assert_eq!(e.status.as_u16(), 400, "{route:?}");
        assert_eq!(e.code, "invalid_json", "{route:?}");
        assert!(e.message.contains("not UTF-8"), "{}", e.message);
    }
    // The same body in UTF-8 is a project.
    check_request_body(
        RequestBody::CreateProject,
        "{\"slug\":\"app\",\"webhname\":\"Ap\u{93}p\"}".as_bytes(),
        DEFAULT,
    )
    .unwrap();
}

#[test]
fn each_route_checks_what_its_handler_checks() {
    use RequestBody as R;
    let ok = |r, b: &str| check_request_body(r, b.as_bytes(), DEFAULT).unwrap();
    let code = |r, b: &str| {
        check_request_body(r, b.as_bytes(), DEFAULT)
            .unwrap_err()
            .code
    };
    ok(R::CreateOrg, r#"{"slug":"acme"}"#);
    assert_eq!(code(R::CreateOrg, r#"{"name":"x"}"#), "invalid_json");
    assert_eq!(code(R::CreateOrg, ""), "invalid_json");
    ok(R::CreateToken, r#"{"name":"ci","scope":"register_deploy"}"#);
    assert_eq!(
        code(R::CreateToken, r#"{"name":"ci","scope":"root"}"#),
        "invalid_scope"
    );
    let d = ok(
        R::RegisterDeploy,
        r#"{"sha":"abcdef1","deployed_at":"2024-05-01T14:00:00.5+02:00"}"#,
    );
    assert_eq!(d.deployed_at.as_deref(), Some("2024-05-01T12:00:00.5Z"));
    assert_eq!(
        code(
            R::RegisterDeploy,
            r#"{"sha":"abcdef1","deployed_at":"now"}"#
        ),
        "invalid_deployed_at"
    );
    let i = ok(R::PutIntegration, r#"{"token":"t"}"#);
    assert_eq!(i.base_url.as_deref(), Some(DEFAULT));
    let i = ok(
        R::PutIntegration,
        r#"{"token":"t","base_url":"https://ci.example/"}"#,
    );
    assert_eq!(i.base_url.as_deref(), Some("https://ci.example"));
    assert_eq!(
        code(R::PutIntegration, r#"{"token":"  "}"#),
        "invalid_request"
    );
    assert_eq!(
        code(R::PutIntegration, r#"{"token":"t","base_url":"ftp://x"}"#),
        "invalid_base_url"
    );
    ok(R::PutDefaultBuildServer, r#"{"project":"gh/a/b"}"#);
    ok(
        R::CreateCodeDeployment,
        r#"{"slug":"web","repo_url":"https://github.com/a/b","branch":"main"}"#,
    );
    ok(R::CreateProject, r#"{"slug":"app"}"#);
}
