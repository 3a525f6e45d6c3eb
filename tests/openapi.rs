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
use sunset::http::{
    ADMIN_SCOPE, AppState, Credential, GrantedScopes, HELP_DESK_SCOPE, PRODUCT_SCOPE, SigningKey,
    admin_router, customer_router, router,
};
use tower::ServiceExt;

const ADMIN: &str = "openapi-admin-0123456789";
const PRODUCT: &str = "openapi-product-0123456789";
const HELP_DESK: &str = "openapi-help-desk-0123456789";
const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "PATCH"];

/// How a test reaches a route: a runtime's router and the credential its
/// caller presents there.
enum Runtime {
    /// `sunset serve`: one router, a bearer token per caller.
    Serve(axum::Router),
    /// The Lambda functions: the operator's routes on the intake
    /// function, the others on the export-request function; API Gateway's
    /// authorizer passes on the token's scopes.
    Gateway {
        intake: axum::Router,
        export_request: axum::Router,
    },
}

impl Runtime {
    async fn call(&self, method: &str, uri: &str, scheme: Option<&str>) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json");
        let app = match self {
            Runtime::Serve(app) => {
                if let Some(token) = scheme.map(|s| match s {
                    "admin" => ADMIN,
                    "product" => PRODUCT,
                    "help_desk" => HELP_DESK,
                    other => panic!("an unknown security scheme {other}"),
                }) {
                    req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
                }
                app
            }
            Runtime::Gateway {
                intake,
                export_request,
            } => {
                let scope = scheme.map(|s| match s {
                    "admin" => ADMIN_SCOPE,
                    "product" => PRODUCT_SCOPE,
                    "help_desk" => HELP_DESK_SCOPE,
                    other => panic!("an unknown security scheme {other}"),
                });
                req = req.extension(GrantedScopes(scope.into_iter().map(String::from).collect()));
                if intake_serves(uri) {
                    intake
                } else {
                    export_request
                }
            }
        };
        let res = app
            .clone()
            .oneshot(req.body(Body::from("{}")).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

/// The intake function serves the operator's routes, the health check and
/// the document; the export-request function the rest.
fn intake_serves(uri: &str) -> bool {
    let path = uri.split('?').next().unwrap();
    let theirs = ["/banner", "/migration", "/migrations", "/tickets"];
    path == "/healthz"
        || path == "/v1/openapi.json"
        || path == "/v1/delivery-events"
        || (path.starts_with("/v1/campaigns") && !theirs.iter().any(|t| path.ends_with(t)))
}

fn runtimes() -> (tempfile::TempDir, Vec<(&'static str, Runtime)>) {
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(SimulatedClock::new("2027-01-15T09:00:00Z".parse().unwrap()));
    let emb = Embedded::open(dir.path(), clock).unwrap();
    let key = || SigningKey::new(vec![7; 32]).unwrap();
    let serve = router(
        AppState::new(emb.deps.clone(), Credential::Token(ADMIN.into()))
            .with_product(Credential::Token(PRODUCT.into()))
            .with_product_signing(key())
            .with_help_desk(Credential::Token(HELP_DESK.into())),
    );
    let scoped = AppState::new(emb.deps.clone(), Credential::Scope(ADMIN_SCOPE))
        .with_product(Credential::Scope(PRODUCT_SCOPE))
        .with_product_signing(key())
        .with_help_desk(Credential::Scope(HELP_DESK_SCOPE));
    let gateway = Runtime::Gateway {
        intake: admin_router(scoped.clone()),
        export_request: customer_router(scoped),
    };
    (
        dir,
        vec![("serve", Runtime::Serve(serve)), ("gateway", gateway)],
    )
}

/// A documented path with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{campaign}", "orbit-crm-2027")
        .replace("{customer}", "C000001")
        .replace("{document}", "en")
}

/// The security scheme an operation names, if any.
fn scheme(op: &Value) -> Option<String> {
    op["security"]
        .as_array()
        .and_then(|s| s.first())
        .and_then(Value::as_object)
        .and_then(|s| s.keys().next().cloned())
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_names_each_callers_credential() {
    let (_dir, runtimes) = runtimes();
    for (name, runtime) in &runtimes {
        let (status, doc) = runtime.call("GET", "/v1/openapi.json", None).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(doc["openapi"], "3.1.0", "{name}");
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
    let (_, runtime) = &runtimes[0];
    let (_, doc) = runtime.call("GET", "/v1/openapi.json", None).await;
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
    let (_, doc) = runtimes[0].1.call("GET", "/v1/openapi.json", None).await;
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 29, "{} paths", paths.len());
    for (name, runtime) in &runtimes {
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
                let (status, body) = runtime.call(method, &uri, credential.as_deref()).await;
                if documented.contains(method) {
                    // Routed: a handler answered, whatever it thought of
                    // the request.
                    assert_ne!(
                        status,
                        StatusCode::METHOD_NOT_ALLOWED,
                        "{name}: {method} {path}"
                    );
                    assert_ne!(
                        body["detail"], "there is no such route",
                        "{name}: {method} {path}"
                    );
                } else {
                    assert_eq!(
                        status,
                        StatusCode::METHOD_NOT_ALLOWED,
                        "{name}: {method} {path} is not documented, so not served"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn a_route_the_document_does_not_name_is_not_served() {
    let (_dir, runtimes) = runtimes();
    for (name, runtime) in &runtimes {
        for uri in [
            "/v1/campaigns/orbit-crm-2027/customers/C000001/delete",
            "/v1/openapi.yaml",
            "/v2/campaigns",
        ] {
            let (status, _) = runtime.call("GET", uri, Some("admin")).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{name}: {uri}");
        }
    }
}
