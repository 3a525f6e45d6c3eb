//! The HTTP API: one axum Router, run by `sunset serve` on the embedded
//! adapters and by the intake and export-request Lambda functions behind
//! API Gateway.
//!
//! Admin routes (`/v1/campaigns/...`) need a bearer token (local) or are
//! authorised by API Gateway's JWT authorizer (AWS). Customer routes
//! (`/v1/c/...`) are authorised by their signed link instead.

mod problem;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::FutureExt;
use serde::{Deserialize, Serialize};

use crate::domain::event::{CustomerEvent, CustomerEventKind};
use crate::domain::export::ExportId;
use crate::domain::link::LinkPurpose;
use crate::domain::{Campaign, CampaignId, CustomerId};
use crate::ports::Deps;
use crate::services::{events, export, import, late_import, launch, report};

pub use problem::{ApiError, Problem};

/// How admin routes are authorised.
#[derive(Clone)]
pub enum AdminAuth {
    /// `Authorization: Bearer <token>` must match.
    Token(String),
    /// An API Gateway authorizer has already checked the caller.
    Gateway,
}

#[derive(Clone)]
pub struct AppState {
    pub deps: Deps,
    pub admin: AdminAuth,
    /// What `/healthz` checks beyond "the process answers".
    pub health: Arc<dyn HealthCheck>,
}

impl AppState {
    /// The state of a process whose health is answering at all (the
    /// Lambda functions: their platform watches the rest).
    pub fn new(deps: Deps, admin: AdminAuth) -> Self {
        Self {
            deps,
            admin,
            health: Arc::new(Answering),
        }
    }
}

/// Whether the process does its work: `sunset serve` checks that its
/// scheduler runs and no job is failing.
pub trait HealthCheck: Send + Sync {
    fn health(&self) -> Health;
}

/// `/healthz`'s answer. Public, so it carries counts and reasons, never a
/// job's name or error (those are in the admin report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub status: HealthStatus,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    admin_router(state.clone()).merge(customer_router(state))
}

/// Operator routes, behind the admin check.
pub fn admin_router(state: AppState) -> Router {
    Router::new()
        .route("/v1/campaigns", post(create_campaign))
        .route(
            "/v1/campaigns/{campaign}",
            get(get_campaign).put(replace_campaign),
        )
        .route(
            "/v1/campaigns/{campaign}/customers",
            post(import_customers).layer(DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route("/v1/campaigns/{campaign}/launch", post(launch_campaign))
        .route(
            "/v1/campaigns/{campaign}/customers/{customer}/events",
            post(customer_event),
        )
        .route("/v1/campaigns/{campaign}/report", get(campaign_report))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin))
        .route("/healthz", get(healthz))
        .layer(middleware::from_fn(catch_panic))
        .with_state(state)
}

/// Customer routes: each is authorised by its signed link.
pub fn customer_router(state: AppState) -> Router {
    Router::new()
        .route(
            "/v1/c/{campaign}/{customer}/export",
            get(export_page).post(export_request),
        )
        .route(
            "/v1/c/{campaign}/{customer}/export/download",
            get(export_download),
        )
        .layer(middleware::from_fn(catch_panic))
        .with_state(state)
}

async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let AdminAuth::Token(expected) = &state.admin {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let same = given.len() == expected.len()
            && given
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err(ApiError::Unauthorized);
        }
    }
    Ok(next.run(request).await)
}

fn campaign_id(raw: &str) -> Result<CampaignId, ApiError> {
    CampaignId::parse(raw).map_err(|e| ApiError::Invalid {
        field: "campaign".into(),
        reason: e.0,
    })
}

fn customer_id(raw: &str) -> Result<CustomerId, ApiError> {
    CustomerId::parse(raw).map_err(|e| ApiError::Invalid {
        field: "customer".into(),
        reason: e.0,
    })
}

async fn load_campaign(deps: &Deps, raw: &str) -> Result<Campaign, ApiError> {
    let id = campaign_id(raw)?;
    deps.campaigns
        .campaign(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no campaign {id}")))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

async fn create_campaign(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("the body is not UTF-8".into()))?;
    let campaign = if is_json(&headers) {
        Campaign::from_json(text)?
    } else {
        Campaign::from_toml(text)?
    };
    if s.deps.campaigns.campaign(&campaign.id).await?.is_some() {
        return Err(ApiError::Conflict(format!(
            "campaign {} exists",
            campaign.id
        )));
    }
    s.deps.campaigns.put_campaign(&campaign).await?;
    tracing::info!(campaign = %campaign.id, "campaign created");
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": campaign.id })),
    ))
}

/// Replaces a campaign not launched yet: how an operator moves the dates
/// of a campaign whose launch was refused as too late. A launched campaign
/// is not replaced (its schedules would need re-planning).
async fn replace_campaign(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let id = campaign_id(&id)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("the body is not UTF-8".into()))?;
    let campaign = if is_json(&headers) {
        Campaign::from_json(text)?
    } else {
        Campaign::from_toml(text)?
    };
    if campaign.id != id {
        return Err(ApiError::Invalid {
            field: "id".into(),
            reason: format!("is {}, the path names {id}", campaign.id),
        });
    }
    if s.deps.campaigns.campaign(&id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no campaign {id}")));
    }
    if let Some(at) = s.deps.campaigns.launched_at(&id).await? {
        return Err(ApiError::Conflict(format!(
            "campaign {id} was launched at {at}; a launched campaign cannot be replaced"
        )));
    }
    s.deps.campaigns.put_campaign(&campaign).await?;
    tracing::info!(campaign = %campaign.id, "campaign replaced before launch");
    Ok(Json(serde_json::json!({ "id": campaign.id })))
}

async fn get_campaign(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Campaign>, ApiError> {
    Ok(Json(load_campaign(&s.deps, &id).await?))
}

#[derive(Serialize)]
struct ImportResponse {
    #[serde(flatten)]
    report: import::ImportReport,
    /// Set when the campaign was already launched: the new customers'
    /// tiers and the plan redone for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    joined_waves: Option<late_import::Admitted>,
    /// Set for an import after the service ended (`after_end=purge`): when
    /// the purge of these customers runs. They get no notice.
    #[serde(skip_serializing_if = "Option::is_none")]
    purge_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Deserialize)]
struct ImportQuery {
    /// `purge`: after the service ended, import straight into the purge.
    after_end: Option<String>,
}

async fn import_customers(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ImportResponse>, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    let after_end = match q.after_end.as_deref() {
        None => import::AfterServiceEnd::Refuse,
        Some("purge") => import::AfterServiceEnd::PurgeWithoutNotice,
        Some(_) => {
            return Err(ApiError::Invalid {
                field: "after_end".into(),
                reason:
                    "the only choice is `purge`: import straight into the purge, with no notice"
                        .into(),
            });
        }
    };
    let file = if is_json(&headers) {
        import::parse_json(&body)?
    } else {
        import::parse_csv(&body)?
    };
    let now = s.deps.clock.now();
    let report = import::import(
        &campaign,
        file,
        s.deps.customers.as_ref(),
        s.deps.audit.as_ref(),
        now,
        after_end,
    )
    .await?;
    let (joined_waves, purge_at) = if now >= campaign.service_ended_at() {
        let at = late_import::purge_without_notice(&s.deps, &campaign, &report.added).await?;
        (None, at)
    } else {
        let joined = late_import::admit_late(&s.deps, &campaign, &report.added).await?;
        (joined, None)
    };
    Ok(Json(ImportResponse {
        report,
        joined_waves,
        purge_at,
    }))
}

async fn launch_campaign(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<launch::LaunchReport>, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    Ok(Json(launch::launch(&s.deps, &campaign).await?))
}

#[derive(Deserialize)]
struct EventBody {
    event: String,
    #[serde(default)]
    detail: String,
}

async fn customer_event(
    State(s): State<AppState>,
    Path((id, customer)): Path<(String, String)>,
    Json(body): Json<EventBody>,
) -> Result<StatusCode, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    let kind =
        CustomerEventKind::parse(&body.event, &body.detail).map_err(|e| ApiError::Invalid {
            field: "event".into(),
            reason: e.0,
        })?;
    let event = CustomerEvent {
        at: s.deps.clock.now(),
        customer: customer_id(&customer)?,
        kind,
    };
    events::apply(&s.deps, &campaign, &event).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn campaign_report(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<report::Report>, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    Ok(Json(
        report::report(&s.deps, &campaign, s.deps.clock.now()).await?,
    ))
}

#[derive(Deserialize)]
struct Signed {
    exp: i64,
    sig: String,
    /// On a download link: the bundle the export-ready mail announced;
    /// without it, the newest.
    request: Option<String>,
}

async fn verified(
    s: &AppState,
    purpose: LinkPurpose,
    campaign: &str,
    customer: &str,
    q: &Signed,
) -> Result<(Campaign, CustomerId), ApiError> {
    let campaign_id = campaign_id(campaign)?;
    let customer = customer_id(customer)?;
    s.deps.signer.verify(
        purpose,
        &campaign_id,
        &customer,
        q.exp,
        &q.sig,
        s.deps.clock.now(),
    )?;
    Ok((load_campaign(&s.deps, campaign).await?, customer))
}

fn page(title: &str, body: &str) -> Html<String> {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    Html(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"font-family:sans-serif;max-width:560px\"><h1>{}</h1>{body}</body></html>",
        esc(title),
        esc(title)
    ))
}

/// The link in the e-mail opens a confirmation page; only its button (a
/// POST) starts an export, so mail scanners that follow links start none.
async fn export_page(
    State(s): State<AppState>,
    Path((campaign, customer)): Path<(String, String)>,
    Query(q): Query<Signed>,
) -> Result<Html<String>, ApiError> {
    let (campaign, _) = verified(&s, LinkPurpose::RequestExport, &campaign, &customer, &q).await?;
    let title = format!("Export your {} data", campaign.product);
    let sig: String = q.sig.chars().filter(char::is_ascii_hexdigit).collect();
    Ok(page(
        &title,
        &format!(
            "<p>We will bundle all your data into one archive and e-mail you a download link.</p>\
             <form method=\"post\" action=\"?exp={}&amp;sig={sig}\"><button type=\"submit\">Export my data</button></form>",
            q.exp
        ),
    ))
}

async fn export_request(
    State(s): State<AppState>,
    Path((campaign, customer)): Path<(String, String)>,
    Query(q): Query<Signed>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let (campaign, customer) =
        verified(&s, LinkPurpose::RequestExport, &campaign, &customer, &q).await?;
    let request = export::request_export(&s.deps, &campaign, &customer, s.deps.clock.now()).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "request": request.id,
            "status": request.status,
            "message": "Your export is being prepared; we will e-mail you a download link."
        })),
    ))
}

async fn export_download(
    State(s): State<AppState>,
    Path((campaign, customer)): Path<(String, String)>,
    Query(q): Query<Signed>,
) -> Result<Response, ApiError> {
    let (campaign, customer) =
        verified(&s, LinkPurpose::Download, &campaign, &customer, &q).await?;
    let request = q
        .request
        .as_deref()
        .map(ExportId::parse)
        .transpose()
        .map_err(|e| ApiError::Invalid {
            field: "request".into(),
            reason: e.0,
        })?;
    let Some((request, download)) =
        export::download(&s.deps, &campaign, &customer, request.as_ref()).await?
    else {
        return Err(ApiError::NotFound("no export is ready yet".into()));
    };
    Ok(match download {
        // A short-lived URL straight to the object store; the link was
        // checked above, so only this customer is sent there.
        export::Download::Redirect(url) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, url),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
        )
            .into_response(),
        export::Download::Bytes(bytes) => {
            let filename = format!("{}-{}-{}.zip", campaign.id, customer, request.id);
            (
                [
                    (header::CONTENT_TYPE, "application/zip".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{filename}\""),
                    ),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                ],
                bytes,
            )
                .into_response()
        }
    })
}
