//! The HTTP API: one axum Router, run by `sunset serve` on the embedded
//! adapters and by the intake and export-request Lambda functions behind
//! API Gateway.
//!
//! Each caller has its own credential, and each route takes only its
//! caller's: a bearer token each (local) or a JWT scope each, checked by
//! API Gateway's authorizer and again here (AWS).
//! - the operator (`sunset/admin`): `/v1/campaigns/...`;
//! - the retiring product (`sunset/product`): the banner, and migration
//!   status, which it also signs (`signature`);
//! - the help desk (`sunset/help-desk`): the ticket webhook;
//! - customers: `/v1/c/...`, each authorised by its signed link.
mod admin;
mod cache;
mod customer;
pub mod deprecation;
#[cfg(feature = "gateway")]
pub mod gateway;
mod help_desk;
pub mod openapi;
mod problem;
mod product;
mod public;
pub mod signature;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use futures::FutureExt;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{Campaign, CampaignId, CustomerId};
use crate::ports::Deps;

pub use deprecation::{DeprecationHeaders, SunsetLayer};
pub use problem::{ApiError, Problem};
pub use signature::SigningKey;

/// How a caller's routes are authorised.
#[derive(Clone)]
pub enum Credential {
    /// `Authorization: Bearer <token>` must match.
    Token(String),
    /// Behind API Gateway: its JWT authorizer checked the token, and the
    /// scopes it found (`GrantedScopes`, put on the request by
    /// `gateway::granted_scopes`) must include this one.
    Scope(&'static str),
}

/// The operators' scope: the admin routes.
pub const ADMIN_SCOPE: &str = "sunset/admin";
/// The retiring product's scope: its banner and its migration reports.
pub const PRODUCT_SCOPE: &str = "sunset/product";
/// The help desk's scope: its ticket webhook.
pub const HELP_DESK_SCOPE: &str = "sunset/help-desk";

/// The scopes API Gateway's authorizer found in the caller's token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantedScopes(pub Vec<String>);

#[derive(Clone)]
pub struct AppState {
    pub deps: Deps,
    pub admin: Credential,
    /// The retiring product's key; without one its routes refuse every
    /// call.
    pub product: Option<Credential>,
    /// The key the product signs its migration reports with; without one
    /// they are refused.
    pub product_signing: Option<SigningKey>,
    /// The help desk's key; without one its webhook refuses every call.
    pub help_desk: Option<Credential>,
    /// What `/healthz` checks beyond "the process answers".
    pub health: Arc<dyn HealthCheck>,
}

impl AppState {
    /// The state of a process whose health is answering at all (the
    /// Lambda functions: their platform watches the rest).
    pub fn new(deps: Deps, admin: Credential) -> Self {
        Self {
            deps,
            admin,
            product: None,
            product_signing: None,
            help_desk: None,
            health: Arc::new(Answering),
        }
    }

    /// With the retiring product's own credential.
    pub fn with_product(mut self, product: Credential) -> Self {
        self.product = Some(product);
        self
    }

    /// With the key the product signs its migration reports with.
    pub fn with_product_signing(mut self, key: SigningKey) -> Self {
        self.product_signing = Some(key);
        self
    }

    /// With the help desk's own credential.
    pub fn with_help_desk(mut self, help_desk: Credential) -> Self {
        self.help_desk = Some(help_desk);
        self
    }
}

/// Whether the process does its work: `sunset serve` checks that its
/// scheduler runs and no job is failing.
pub trait HealthCheck: Send + Sync {
    fn health(&self) -> Health;
}

/// `/healthz`'s answer. Public, so it carries counts and reasons, never a
/// job's name or error (those are in the admin report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: HealthStatus,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Ok,
    Degraded,
}

struct Answering;

impl HealthCheck for Answering {
    fn health(&self) -> Health {
        Health {
            status: HealthStatus::Ok,
            problems: Vec::new(),
        }
    }
}

/// 200 when healthy, 503 when degraded (so a monitor that reads only the
/// status sees it too).
#[utoipa::path(
    get,
    path = "/healthz",
    summary = "Health",
    tag = "service",
    responses(
        (status = 200, description = "The process does its work", body = Health),
        (status = 503, description = "Degraded: the problems say how (counts and reasons only)", body = Health),
    ),
)]
async fn healthz(State(s): State<AppState>) -> Response {
    let health = s.health.health();
    let status = match health.status {
        HealthStatus::Ok => StatusCode::OK,
        HealthStatus::Degraded => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(health)).into_response()
}

/// A handler that panics answers 500 with a problem body, and the server
/// goes on; the panic is logged, never sent to the client.
async fn catch_panic(request: Request, next: Next) -> Response {
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, "a request handler panicked");
            ApiError::Unexpected(anyhow::anyhow!("a request handler panicked")).into_response()
        }
    }
}

/// Largest customer file accepted over HTTP (behind API Gateway the limit
/// is its own 10 MB); bigger lists go in several imports.
const IMPORT_LIMIT: usize = 32 * 1024 * 1024;

/// Every route: what `sunset serve` runs.
pub fn router(state: AppState) -> Router {
    admin_routes(state.clone())
        .merge(product_routes(state.clone()))
        .merge(help_desk_routes(state.clone()))
        .merge(customer_routes(state))
        .fallback(|uri: axum::http::Uri| async move {
            // Under a customer's prefix, a page; else a problem.
            if uri.path().starts_with("/v1/c/") || uri.path().starts_with("/v1/public/") {
                customer::not_found()
            } else {
                no_such_route().await.into_response()
            }
        })
}

/// Operator routes, behind the admin check (the intake function).
pub fn admin_router(state: AppState) -> Router {
    admin_routes(state).fallback(no_such_route)
}

/// Customer routes, each authorised by its signed link, the retiring
/// product's and the help desk's, each with its key (the export-request
/// function).
pub fn customer_router(state: AppState) -> Router {
    product_routes(state.clone())
        .merge(help_desk_routes(state.clone()))
        .merge(customer_routes(state))
        .fallback(|| async { customer::not_found() })
}

// Each caller's routes twice: described (`*_api`, what the document is
// built from, see `openapi`) and served (`*_routes`, the same routes with
// the caller's guard and the error shape layered on).

fn product_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(product::banner))
        .routes(routes!(product::migration))
        .routes(routes!(product::migrations))
}

fn help_desk_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(help_desk::ticket))
}

fn admin_api() -> OpenApiRouter<AppState> {
    let (schemas, paths, import) = routes!(admin::import_customers, admin::list_customers);
    OpenApiRouter::new()
        .routes(routes!(admin::create_campaign, admin::list_campaigns))
        .routes(routes!(
            admin::get_campaign,
            admin::replace_campaign,
            admin::patch_campaign
        ))
        .routes(routes!(admin::campaign_status))
        .routes(routes!(admin::pause_campaign))
        .routes(routes!(admin::resume_campaign))
        .routes(routes!(admin::cancel_campaign))
        .routes((
            schemas,
            paths,
            import.layer(DefaultBodyLimit::max(IMPORT_LIMIT)),
        ))
        .routes(routes!(admin::launch_campaign))
        .routes(routes!(admin::campaign_preflight))
        .routes(routes!(admin::customer_event))
        .routes(routes!(admin::record_delivery_events))
        .routes(routes!(admin::campaign_report))
        .routes(routes!(admin::preview))
        .routes(routes!(admin::campaign_plan))
        .routes(routes!(admin::outreach_tasks))
        .routes(routes!(admin::outreach_task, admin::update_outreach))
        .routes(routes!(admin::declines))
        .routes(routes!(admin::customer_detail, admin::update_contact))
        .routes(routes!(admin::override_tier))
}

/// Open to anyone: the health check and the API's description.
fn service_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(openapi::serve_document))
}

fn customer_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(customer::export_page, customer::export_request))
        .routes(routes!(customer::export_download))
        .routes(routes!(public::choose_language))
        .routes(routes!(public::document))
}

/// Every route's operation, each group marked with its caller: what
/// `openapi::document` is built from.
fn described_routes() -> utoipa::openapi::OpenApi {
    use openapi::Caller;
    let mut all = utoipa::openapi::OpenApi::default();
    for (api, caller) in [
        (admin_api(), Some(Caller::Admin)),
        (product_api(), Some(Caller::Product)),
        (help_desk_api(), Some(Caller::HelpDesk)),
        (service_api(), None),
    ] {
        let mut doc = api.into_openapi();
        openapi::guarded(&mut doc, caller);
        all.merge(doc);
    }
    let mut pages = customer_api().into_openapi();
    openapi::pages(&mut pages);
    all.merge(pages);
    all
}

fn product_routes(state: AppState) -> Router {
    let (routes, _) = product_api().split_for_parts();
    routes
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_product,
        ))
        .layer(middleware::from_fn(problems_only))
        .layer(middleware::from_fn(catch_panic))
        .with_state(state)
}

fn help_desk_routes(state: AppState) -> Router {
    let (routes, _) = help_desk_api().split_for_parts();
    routes
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_help_desk,
        ))
        .layer(middleware::from_fn(problems_only))
        .layer(middleware::from_fn(catch_panic))
        .with_state(state)
}

fn admin_routes(state: AppState) -> Router {
    let (routes, _) = admin_api().split_for_parts();
    let (open, _) = service_api().split_for_parts();
    routes
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin))
        .merge(open)
        .layer(middleware::from_fn(problems_only))
        .layer(middleware::from_fn(catch_panic))
        .with_state(state)
}

fn customer_routes(state: AppState) -> Router {
    let (routes, _) = customer_api().split_for_parts();
    routes
        .layer(middleware::from_fn(customer::pages_only))
        .layer(middleware::from_fn(catch_panic))
        .with_state(state)
}

async fn no_such_route() -> ApiError {
    ApiError::NotFound("there is no such route".into())
}

/// Every error an operator's route answers is a problem: the framework's
/// own refusals (a body over the limit, a method the route does not take,
/// a query or body that does not parse) come as plain text and are
/// rewritten here, with the field at fault when the refusal names one.
async fn problems_only(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_problem(&response) {
        return response;
    }
    let detail = refusal_text(response).await;
    ApiError::Rejected {
        status,
        field: named_field(&detail),
        detail: match status {
            StatusCode::PAYLOAD_TOO_LARGE => {
                "the request body is larger than this route accepts".into()
            }
            StatusCode::METHOD_NOT_ALLOWED => "this route does not take that method".into(),
            _ if detail.is_empty() => status.canonical_reason().unwrap_or("refused").into(),
            _ => detail,
        },
    }
    .into_response()
}

/// Whether a response is already a body of our own (a problem, or the
/// health check's JSON); only the framework's plain-text or empty refusals
/// are rewritten.
fn is_problem(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            let v = v.as_bytes();
            v.starts_with(b"application/problem+json") || v.starts_with(b"application/json")
        })
}

/// The text of a refusal's body (short: the framework's messages are).
pub(super) async fn refusal_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim().to_owned()
}

/// The field a framework message names: "missing field `sig`".
fn named_field(message: &str) -> Option<String> {
    ["missing field `", "unknown field `", "invalid type: "]
        .iter()
        .find_map(|p| message.split(p).nth(1))
        .and_then(|rest| rest.split('`').next())
        .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(str::to_owned)
}

async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    check(&request, Some(&state.admin))?;
    Ok(next.run(request).await)
}

async fn require_product(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    check(&request, state.product.as_ref())?;
    Ok(next.run(request).await)
}

async fn require_help_desk(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    check(&request, state.help_desk.as_ref())?;
    Ok(next.run(request).await)
}

/// Whether the request carries `credential`: 401 without one, 403 when
/// API Gateway passed on a token whose scopes do not include the route's.
fn check(request: &Request, credential: Option<&Credential>) -> Result<(), ApiError> {
    match credential {
        None => Err(ApiError::Unauthorized),
        Some(Credential::Token(expected)) if bearer_is(request, expected) => Ok(()),
        Some(Credential::Token(_)) => Err(ApiError::Unauthorized),
        Some(Credential::Scope(scope)) => match request.extensions().get::<GrantedScopes>() {
            Some(granted) if granted.0.iter().any(|g| g == scope) => Ok(()),
            Some(granted) if !granted.0.is_empty() => Err(ApiError::Forbidden(format!(
                "this route needs the scope {scope}"
            ))),
            _ => Err(ApiError::Unauthorized),
        },
    }
}

/// Whether `Authorization: Bearer` is `expected`, compared in constant
/// time.
fn bearer_is(request: &Request, expected: &str) -> bool {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

pub(super) fn campaign_id(raw: &str) -> Result<CampaignId, ApiError> {
    CampaignId::parse(raw).map_err(|e| ApiError::Invalid {
        field: "campaign".into(),
        reason: e.0,
    })
}

pub(super) fn customer_id(raw: &str) -> Result<CustomerId, ApiError> {
    CustomerId::parse(raw).map_err(|e| ApiError::Invalid {
        field: "customer".into(),
        reason: e.0,
    })
}

pub(super) async fn load_campaign(deps: &Deps, raw: &str) -> Result<Campaign, ApiError> {
    let id = campaign_id(raw)?;
    deps.campaigns
        .campaign(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no campaign {id}")))
}

pub(super) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}
