//! `/v1/openapi.json` is true: OpenAPI 3.1, and every route it describes is
//! served with exactly the methods it names, by `sunset serve`'s router
//! and, behind API Gateway, by the function that serves that caller's
//! routes; each operation names its caller's credential. (Schemathesis
//! then checks the answers against it: tests/schemathesis/run.sh.)

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use sunset::adapters::embedded::Embedded;
use sunset::clock::SimulatedClock;
use sunset_e2e::runtime::{Api, Caller, GATEWAY_NOT_FOUND, Runtime, scheme};

const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "PATCH"];

/// `method uri` with an empty JSON object, by the caller of the security
/// scheme `scheme` names (nobody for none).
async fn call(api: &Api, method: &str, uri: &str, scheme: Option<&str>) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let res = api.send(Caller::of_scheme(scheme), req).await;
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The API in both runtimes, on one fresh data directory.
fn runtimes() -> (tempfile::TempDir, Vec<Api>) {
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(SimulatedClock::new("2027-01-15T09:00:00Z".parse().unwrap()));
    let emb = Embedded::open(dir.path(), clock).unwrap();
    let apis = [Runtime::Serve, Runtime::Gateway]
        .map(|runtime| Api::new(runtime, &emb.deps))
        .into();
    (dir, apis)
}

/// A documented path with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{campaign}", "orbit-crm-2027")
        .replace("{customer}", "C000001")
        .replace("{document}", "en")
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_names_each_callers_credential() {
    let (_dir, runtimes) = runtimes();
    for api in &runtimes {
        let name = api.runtime();
        let (status, doc) = call(api, "GET", "/v1/openapi.json", None).await;
        assert_eq!(status, StatusCode::OK, "{name:?}");
        assert_eq!(doc["openapi"], "3.1.0", "{name:?}");
        assert_eq!(doc["info"]["title"], "sunset");
        let schemes: BTreeSet<&str> = doc["components"]["securitySchemes"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(schemes, BTreeSet::from(["admin", "help_desk", "product"]));
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let expected = if path == "/healthz"
                    || path == "/v1/openapi.json"
                    || path.starts_with("/v1/c/")
                    || path.starts_with("/v1/public/")
                {
                    None
                } else if path.ends_with("/banner")
                    || path.ends_with("/migration")
                    || path.ends_with("/migrations")
                {
                    Some("product")
                } else if path.ends_with("/tickets") {
                    Some("help_desk")
                } else {
                    Some("admin")
                };
                assert_eq!(scheme(op).as_deref(), expected, "{method} {path}");
                assert!(
                    op["responses"]["default"].is_object(),
                    "{method} {path} describes its errors"
                );
                // What a reader of the document sees in the list of
                // operations: a short line of its own.
                let summary = op["summary"].as_str().unwrap_or_default();
                assert!(
                    !summary.is_empty() && summary.len() <= 60 && !summary.contains('\n'),
                    "{method} {path} has the summary {summary:?}"
                );
            }
        }
    }
}

/// Every `$ref` in `value`, as the schema name it points to.
fn refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v.as_str()) {
                    ("$ref", Some(r)) => {
                        out.insert(r.to_owned());
                    }
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_schema_the_document_refers_to_is_in_it() {
    let (_dir, runtimes) = runtimes();
    let (_, doc) = call(&runtimes[0], "GET", "/v1/openapi.json", None).await;
    let mut found = BTreeSet::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for r in found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r} points outside the schemas"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} is referred to but not defined"
        );
    }
}

#[tokio::test]
async fn every_documented_route_is_served_with_exactly_its_methods_in_both_runtimes() {
    let (_dir, runtimes) = runtimes();
    let (_, doc) = call(&runtimes[0], "GET", "/v1/openapi.json", None).await;
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 29, "{} paths", paths.len());
    for api in &runtimes {
        let name = api.runtime();
        for (path, item) in paths {
            let uri = concrete(path);
            let documented: BTreeSet<String> = item
                .as_object()
                .unwrap()
                .keys()
                .map(|m| m.to_uppercase())
                .collect();
            let credential = item.as_object().unwrap().values().find_map(scheme);
            for method in METHODS {
                let (status, body) = call(api, method, &uri, credential.as_deref()).await;
                if documented.contains(method) {
                    // Routed: a handler answered, whatever it thought of
                    // the request.
                    assert_ne!(
                        status,
                        StatusCode::METHOD_NOT_ALLOWED,
                        "{name:?}: {method} {path}"
                    );
                    assert_ne!(
                        body["detail"], "there is no such route",
                        "{name:?}: {method} {path}"
                    );
                    assert_ne!(
                        body.to_string(),
                        GATEWAY_NOT_FOUND,
                        "{name:?}: infra/template.yaml routes no {method} {path}"
                    );
                } else {
                    assert_eq!(
                        status,
                        StatusCode::METHOD_NOT_ALLOWED,
                        "{name:?}: {method} {path} is not documented, so not served"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn a_route_the_document_does_not_name_is_not_served() {
    let (_dir, runtimes) = runtimes();
    for api in &runtimes {
        let name = api.runtime();
        for uri in [
            "/v1/campaigns/orbit-crm-2027/customers/C000001/delete",
            "/v1/openapi.yaml",
            "/v2/campaigns",
        ] {
            let (status, _) = call(api, "GET", uri, Some("admin")).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{name:?}: {uri}");
        }
    }
}
