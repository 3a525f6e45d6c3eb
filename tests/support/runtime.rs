//! The two runtimes the one router runs in, as a test reaches them:
//! `sunset serve` (every route on one router, a bearer token per caller)
//! and API Gateway in front of the Lambda functions (the operator's routes
//! on the intake function, the product's, the help desk's and the
//! customers' on the export-request function; the authorizer hands on the
//! token's scopes). A scenario written once runs in both.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use sunset::http::{
    ADMIN_SCOPE, AppState, Credential, GrantedScopes, HELP_DESK_SCOPE, PRODUCT_SCOPE, SigningKey,
    admin_router, customer_router, router,
};
use sunset::ports::Deps;
use tower::ServiceExt;

const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";
const PRODUCT_TOKEN: &str = "product-key-0123456789abcdef";
const HELP_DESK_TOKEN: &str = "help-desk-key-0123456789abcdef";
/// The key the product signs its migration reports with.
pub const SIGNING_KEY: [u8; 32] = [0x5a; 32];

/// Where the router runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// `sunset serve`.
    Serve,
    /// The HTTP Lambda functions behind API Gateway.
    Gateway,
}

/// Who makes a call: each has its own credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Admin,
    Product,
    HelpDesk,
    /// No credential at all (a customer's signed link needs none).
    Nobody,
}

impl Caller {
    pub const ALL: [Caller; 4] = [
        Caller::Admin,
        Caller::Product,
        Caller::HelpDesk,
        Caller::Nobody,
    ];

    /// The caller an OpenAPI security scheme names.
    pub fn of_scheme(scheme: Option<&str>) -> Caller {
        match scheme {
            Some("admin") => Caller::Admin,
            Some("product") => Caller::Product,
            Some("help_desk") => Caller::HelpDesk,
            None => Caller::Nobody,
            Some(other) => panic!("an unknown security scheme {other}"),
        }
    }

    /// The caller an operation of the OpenAPI document is for (its first
    /// security scheme; nobody for an open route).
    pub fn of_operation(operation: &serde_json::Value) -> Caller {
        Caller::of_scheme(scheme(operation).as_deref())
    }

    fn token(self) -> Option<&'static str> {
        match self {
            Caller::Admin => Some(ADMIN_TOKEN),
            Caller::Product => Some(PRODUCT_TOKEN),
            Caller::HelpDesk => Some(HELP_DESK_TOKEN),
            Caller::Nobody => None,
        }
    }

    fn scope(self) -> Option<&'static str> {
        match self {
            Caller::Admin => Some(ADMIN_SCOPE),
            Caller::Product => Some(PRODUCT_SCOPE),
            Caller::HelpDesk => Some(HELP_DESK_SCOPE),
            Caller::Nobody => None,
        }
    }
}

/// The API on these adapters, in one runtime, wired as that runtime wires
/// it: every caller's credential and the product's signing key.
#[derive(Clone)]
pub struct Api {
    runtime: Runtime,
    routers: Routers,
}

#[derive(Clone)]
enum Routers {
    Serve(axum::Router),
    Gateway {
        intake: axum::Router,
        export_request: axum::Router,
    },
}

impl Api {
    pub fn new(runtime: Runtime, deps: &Deps) -> Self {
        let key = || SigningKey::new(SIGNING_KEY.to_vec()).unwrap();
        let routers = match runtime {
            Runtime::Serve => Routers::Serve(router(
                AppState::new(deps.clone(), Credential::Token(ADMIN_TOKEN.into()))
                    .with_product(Credential::Token(PRODUCT_TOKEN.into()))
                    .with_product_signing(key())
                    .with_help_desk(Credential::Token(HELP_DESK_TOKEN.into())),
            )),
            Runtime::Gateway => {
                let scoped = AppState::new(deps.clone(), Credential::Scope(ADMIN_SCOPE))
                    .with_product(Credential::Scope(PRODUCT_SCOPE))
                    .with_product_signing(key())
                    .with_help_desk(Credential::Scope(HELP_DESK_SCOPE));
                Routers::Gateway {
                    intake: admin_router(scoped.clone()),
                    export_request: customer_router(scoped),
                }
            }
        };
        Self { runtime, routers }
    }

    pub fn runtime(&self) -> Runtime {
        self.runtime
    }

    /// Sends `request` as `who`: with their token under `sunset serve`;
    /// behind the gateway, to the function that serves its path, with
    /// the scopes the authorizer found in their token (none without one).
    pub async fn send(&self, who: Caller, mut request: Request<Body>) -> Response {
        let app = match &self.routers {
            Routers::Serve(app) => {
                if let Some(token) = who.token() {
                    request.headers_mut().insert(
                        axum::http::header::AUTHORIZATION,
                        format!("Bearer {token}").parse().unwrap(),
                    );
                }
                app
            }
            Routers::Gateway {
                intake,
                export_request,
            } => {
                request.extensions_mut().insert(GrantedScopes(
                    who.scope().into_iter().map(String::from).collect(),
                ));
                let method = request.method().as_str().to_owned();
                match gateway_function(&method, request.uri().path()).as_deref() {
                    Some("intake") => intake,
                    Some("export-request") => export_request,
                    Some(other) => panic!("{other} serves no HTTP routes in these tests"),
                    // API Gateway's own answer to a route it does not have.
                    None => {
                        return Response::builder()
                            .status(StatusCode::NOT_FOUND)
                            .header("content-type", "application/json")
                            .body(Body::from(GATEWAY_NOT_FOUND))
                            .unwrap();
                    }
                }
            }
        };
        app.clone().oneshot(request).await.unwrap()
    }

    /// What a route answers a caller whose route it is not: 401 without a
    /// credential; with another caller's, 401 under `sunset serve` (the
    /// token is not this route's) and 403 behind the gateway (the token
    /// is valid, its scope is not this route's).
    pub fn refuses(&self, who: Caller) -> StatusCode {
        match (who, self.runtime) {
            (Caller::Nobody, _) | (_, Runtime::Serve) => StatusCode::UNAUTHORIZED,
            (_, Runtime::Gateway) => StatusCode::FORBIDDEN,
        }
    }
}

/// The security scheme an operation of the OpenAPI document names, if any.
pub fn scheme(operation: &serde_json::Value) -> Option<String> {
    operation["security"]
        .as_array()
        .and_then(|s| s.first())
        .and_then(serde_json::Value::as_object)
        .and_then(|s| s.keys().next().cloned())
}

/// What API Gateway answers a request no route of the template matches.
pub const GATEWAY_NOT_FOUND: &str = r#"{"message":"Not Found"}"#;

/// One `HttpApi` event of `infra/template.yaml`: a route and the function
/// (by its binary's name) it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRoute {
    pub function: String,
    pub method: String,
    pub path: String,
}

/// Every HTTP route the template gives API Gateway, read from each
/// function's `Events` (a `Method:` and a `Path:` each) under the
/// function's `Binary:`.
pub fn gateway_routes() -> Vec<GatewayRoute> {
    let text = crate::template();
    let mut routes = Vec::new();
    let (mut function, mut method) = (None::<String>, None::<String>);
    for line in text.lines() {
        let t = line.trim();
        let value = |rest: &str| {
            rest.trim()
                .trim_end_matches('}')
                .trim()
                .trim_matches('"')
                .to_owned()
        };
        if let Some(rest) = t.split("Binary:").nth(1) {
            function = Some(value(rest));
        } else if let Some(rest) = t.strip_prefix("Method:") {
            method = Some(value(rest));
        } else if let Some(rest) = t.strip_prefix("Path:") {
            routes.push(GatewayRoute {
                function: function.clone().expect("a route under a function"),
                method: method.take().expect("a route's Method before its Path"),
                path: value(rest),
            });
        }
    }
    assert!(!routes.is_empty(), "the template routes nothing");
    routes
}

/// The function API Gateway sends `method path` to, choosing as an HTTP
/// API does: a route without a greedy `{proxy+}` before one with, then
/// the one with more literal segments; `None` if no route matches.
pub fn gateway_function(method: &str, path: &str) -> Option<String> {
    static ROUTES: std::sync::OnceLock<Vec<GatewayRoute>> = std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(gateway_routes);
    routes
        .iter()
        .filter(|r| r.method == "ANY" || r.method.eq_ignore_ascii_case(method))
        .filter_map(|r| route_matches(&r.path, path).map(|rank| (rank, r)))
        .max_by_key(|(rank, _)| *rank)
        .map(|(_, r)| r.function.clone())
}

/// How specifically `template` matches `path`: (not greedy, literal
/// segments), or `None`.
fn route_matches(template: &str, path: &str) -> Option<(bool, usize)> {
    let want: Vec<&str> = template.trim_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut literal = 0;
    for (i, w) in want.iter().enumerate() {
        if w.starts_with('{') && w.ends_with("+}") {
            // Greedy: one segment or more.
            return (got.len() > i).then_some((false, literal));
        }
        let g = got.get(i)?;
        if w.starts_with('{') {
            if g.is_empty() {
                return None;
            }
        } else if w == g {
            literal += 1;
        } else {
            return None;
        }
    }
    (want.len() == got.len()).then_some((true, literal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_routes_as_an_http_api_does() {
        let banner = "/v1/campaigns/c/customers/x/banner";
        assert_eq!(
            gateway_function("GET", banner).as_deref(),
            Some("export-request")
        );
        assert_eq!(
            gateway_function("GET", "/v1/campaigns/c/customers/x").as_deref(),
            Some("intake")
        );
        assert_eq!(
            gateway_function("GET", "/v1/campaigns").as_deref(),
            Some("intake")
        );
        assert_eq!(
            gateway_function("GET", "/v1/c/c/x/export").as_deref(),
            Some("export-request")
        );
        assert_eq!(gateway_function("GET", "/v2/campaigns"), None);
    }
}
