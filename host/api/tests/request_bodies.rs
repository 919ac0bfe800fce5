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

/// Found by the fuzzer: serde's derived readers take an array as the
/// struct's fields in order, so `["abcdef1"]` registered a deploy.
#[test]
fn a_body_that_is_an_array_is_refused_by_every_route() {
    for body in [
        r#"["abcdef1"]"#,
        r#" [""]"#,
        r#"["acme","Acme"]"#,
        "7",
        r#""x""#,
        "null",
    ] {
        for route in RequestBody::ALL {
            let e = check_request_body(route, body.as_bytes(), DEFAULT).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.code),
                (400, "invalid_json"),
                "{route:?} {body}"
            );
            assert!(e.message.contains("JSON object"), "{}", e.message);
        }
    }
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

/// Found by schemathesis: optional fields took `null` (the same as absent)
/// while openapi.json said only "string", and blank text the store refuses
/// was documented as valid. Every nullable field of a request schema is
/// taken as null by its route, and every text field the store requires to
/// be non-blank says so with a pattern.
#[test]
fn openapi_request_schemas_say_what_the_routes_take() {
    use RequestBody as R;
    let doc: serde_json::Value = serde_json::from_str(buildsnap_api::OPENAPI_JSON).unwrap();
    let schemas = &doc["components"]["schemas"];
    let routes = [
        ("NewOrg", R::CreateOrg, r#"{"slug":"acme"}"#),
        ("NewToken", R::CreateToken, r#"{"name":"ci","scope":"all"}"#),
        ("NewProject", R::CreateProject, r#"{"slug":"app"}"#),
        (
            "CodeDeployment",
            R::CreateCodeDeployment,
            r#"{"slug":"web","repo_url":"https://github.com/a/b","branch":"main"}"#,
        ),
        ("NewDeploy", R::RegisterDeploy, r#"{"sha":"abcdef1"}"#),
        ("EnableIntegration", R::PutIntegration, r#"{"token":"t"}"#),
    ];
    let mut nullable = 0;
    for (name, route, minimal) in routes {
        let props = schemas[name]["properties"].as_object().unwrap();
        for (field, prop) in props {
            if prop["nullable"] == true {
                nullable += 1;
                let mut body: serde_json::Value = serde_json::from_str(minimal).unwrap();
                body[field] = serde_json::Value::Null;
                check_request_body(route, body.to_string().as_bytes(), DEFAULT)
                    .unwrap_or_else(|e| panic!("{name}.{field} = null: {e:?}"));
            }
        }
    }
    assert!(nullable >= 8, "{nullable} nullable fields");
    for (name, field, max) in [
        ("NewOrg", "name", 200),
        ("NewProject", "name", 200),
        ("NewToken", "name", 200),
        ("CodeDeployment", "repo_url", 2048),
        ("CodeDeployment", "branch", 255),
        ("CodeDeployment", "build_project", 512),
        ("NewDeploy", "environment", 100),
    ] {
        let prop = &schemas[name]["properties"][field];
        assert_eq!(prop["pattern"], "\\S", "{name}.{field}");
        assert_eq!(prop["maxLength"], max, "{name}.{field}");
    }
    // base_url: the documented form is what the route accepts.
    let pattern = schemas["EnableIntegration"]["properties"]["base_url"]["pattern"]
        .as_str()
        .unwrap();
    assert_eq!(pattern, "^https?://[^/?#\\s][^\\s]*$");
    for (url, ok) in [
        ("https://ci.example", true),
        ("http://127.0.0.1:9/api/", true),
        ("https://", false),
        ("https:///x", false),
        ("https://a b", false),
        ("ftp://x", false),
    ] {
        let body = serde_json::json!({"token": "t", "base_url": url}).to_string();
        assert_eq!(
            check_request_body(R::PutIntegration, body.as_bytes(), DEFAULT).is_ok(),
            ok,
            "{url}"
        );
    }
}
