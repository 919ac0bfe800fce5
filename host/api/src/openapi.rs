//! The OpenAPI 3 document of the API, hand-written in `openapi.json` beside
//! the crate's manifest and embedded at build time. A test checks it against
//! the route table, both ways.

/// The document, as served at `GET /api/v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use crate::router::ROUTES;

    #[test]
    fn document_and_router_list_the_same_operations() {
        let doc: serde_json::Value =
            serde_json::from_str(super::OPENAPI_JSON).expect("openapi.json is JSON");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let mut in_doc = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (k, op) in item.as_object().unwrap() {
                if ["get", "put", "post", "delete", "patch", "head", "options"]
                    .contains(&k.as_str())
                {
                    assert!(op["responses"].is_object(), "{k} {path} has no responses");
                    assert!(
                        op["operationId"].is_string(),
                        "{k} {path} has no operationId"
                    );
                    in_doc.insert((k.to_uppercase(), path.clone()));
                }
            }
        }
        // The web page's routes serve HTML/JS/CSS, not the API the
        // document describes.
        let in_router: BTreeSet<(String, String)> = ROUTES
            .iter()
            .filter(|(_, _, id)| !id.is_web_page())
            .map(|(m, p, _)| (m.as_str().to_string(), p.to_string()))
            .collect();
        let missing: Vec<_> = in_router.difference(&in_doc).collect();
        let extra: Vec<_> = in_doc.difference(&in_router).collect();
        assert!(
            missing.is_empty(),
            "routes missing from openapi.json: {missing:?}"
        );
        assert!(
            extra.is_empty(),
            "openapi.json operations not in the router: {extra:?}"
        );
    }

    #[test]
    fn every_schema_reference_resolves() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI_JSON).unwrap();
        fn walk(v: &serde_json::Value, doc: &serde_json::Value) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                        let ptr = r.strip_prefix('#').expect("local ref");
                        assert!(doc.pointer(ptr).is_some(), "dangling $ref {r}");
                    }
                    m.values().for_each(|x| walk(x, doc));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, doc)),
                _ => {}
            }
        }
        walk(&doc, &doc);
    }
}
