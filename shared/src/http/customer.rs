//! The customer's routes, each authorised by the signed link a notice
//! carried. Every answer is a page a person can read, in their language
//! where it is known, errors included: never JSON, never a framework's
//! refusal.

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use crate::domain::export::ExportId;
use crate::domain::link::{LinkError, LinkPurpose};
use crate::domain::{Campaign, CampaignId, CustomerId};
use crate::ports::PortError;
use crate::services::export::{self, ExportError};
use crate::services::portal::{self, Failure, PortalError};

/// A customer's signed link: the route's campaign and customer, until
/// `exp`, under `sig`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Signed {
    /// Unix seconds the link expires at.
    exp: i64,
    /// The link's signature.
    sig: String,
    /// On a download link: the bundle the export-ready mail announced;
    /// without it, the newest.
    request: Option<String>,
}

/// A customer route's failure: the page that says it, with the campaign
/// when the link named a real one (its product, help address and default
/// language).
pub(super) struct Page(pub(super) Failure, pub(super) Option<Campaign>);

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let Page(failure, campaign) = self;
        let status = match failure {
            Failure::BadLink => StatusCode::FORBIDDEN,
            Failure::Expired | Failure::Deleted(_) => StatusCode::GONE,
            Failure::Incomplete => StatusCode::BAD_REQUEST,
            Failure::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            Failure::NotReady | Failure::NotFound => StatusCode::NOT_FOUND,
            Failure::Server => StatusCode::SERVICE_UNAVAILABLE,
        };
        let mut response =
            (status, Html(portal::error_page(failure, campaign.as_ref()))).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Failure::TooMany(Some(minutes)) = failure {
            if let Ok(v) = HeaderValue::from_str(&(minutes.max(1) * 60).to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

pub(super) fn server(e: impl std::fmt::Display, campaign: Option<Campaign>) -> Page {
    tracing::error!(error = %e, "customer page failed");
    Page(Failure::Server, campaign)
}

fn from_port(e: PortError, campaign: &Campaign) -> Page {
    server(e, Some(campaign.clone()))
}

fn from_export(e: ExportError, campaign: &Campaign) -> Page {
    let c = Some(campaign.clone());
    match e {
        ExportError::UnknownCustomer(_) => Page(Failure::BadLink, c),
        ExportError::Purged => Page(Failure::Deleted(None), c),
        ExportError::PastDeadline => Page(Failure::Expired, c),
        ExportError::UnknownRequest(_) => Page(Failure::NotReady, c),
        ExportError::TooMany { retry_at, now } => Page(
            Failure::TooMany(Some((retry_at - now).num_minutes() + 1)),
            c,
        ),
        other => server(other, c),
    }
}

/// The campaign and customer a link names, once its signature is checked.
async fn verified(
    s: &AppState,
    purpose: LinkPurpose,
    campaign: &str,
    customer: &str,
    q: &Signed,
) -> Result<(Campaign, CustomerId), Page> {
    let bad = || Page(Failure::BadLink, None);
    let campaign_id = CampaignId::parse(campaign).map_err(|_| bad())?;
    let customer = CustomerId::parse(customer).map_err(|_| bad())?;
    let now = s.deps.clock.now();
    // The signature first: a forged link costs no read of the store.
    let signed = s
        .deps
        .signer
        .verify(purpose, &campaign_id, &customer, q.exp, &q.sig, now);
    match signed {
        Ok(()) | Err(LinkError::Expired) => {}
        Err(LinkError::BadSignature) => return Err(bad()),
        Err(e @ LinkError::NoKey) => return Err(server(e, None)),
    }
    // Signed by us for a campaign that is no more: nothing to show.
    let campaign = s
        .deps
        .campaigns
        .campaign(&campaign_id)
        .await
        .map_err(|e| server(e, None))?
        .ok_or(Page(Failure::NotFound, None))?;
    if signed.is_ok() {
        return Ok((campaign, customer));
    }
    // A genuine link past the expiry it was signed with still works while
    // the customer's own last day lasts: an extension moves the day, and
    // the links they already have keep working to it.
    let record = s
        .deps
        .customers
        .customer(&campaign.id, &customer)
        .await
        .map_err(|e| from_port(e, &campaign))?;
    match record {
        Some(r) if r.purged_at.is_some() => {
            Err(Page(Failure::Deleted(r.purged_at), Some(campaign)))
        }
        Some(r) if now < r.deadline_ends(campaign.dates.export_deadline) => {
            Ok((campaign, customer))
        }
        _ => Err(Page(Failure::Expired, Some(campaign))),
    }
}

/// The customer's page, or the page saying why there is none.
async fn portal_page(
    s: &AppState,
    campaign: &Campaign,
    customer: &CustomerId,
    q: &Signed,
    just_requested: bool,
) -> Result<Html<String>, Page> {
    let sig: String = q.sig.chars().filter(char::is_ascii_hexdigit).collect();
    let action = format!("?exp={}&sig={sig}", q.exp);
    match portal::page(
        &s.deps,
        campaign,
        customer,
        &action,
        just_requested,
        s.deps.clock.now(),
    )
    .await
    {
        Ok(html) => Ok(Html(html)),
        Err(PortalError::UnknownCustomer(_)) => Err(Page(Failure::BadLink, Some(campaign.clone()))),
        Err(PortalError::Purged(at)) => Err(Page(Failure::Deleted(at), Some(campaign.clone()))),
        Err(e) => Err(server(e, Some(campaign.clone()))),
    }
}

/// The link in the e-mail opens the customer's page; only its button (a
/// POST) starts an export, so mail scanners that follow links start none.
#[utoipa::path(
    get,
    path = "/v1/c/{campaign}/{customer}/export",
    summary = "The customer's export page",
    tag = "customer pages",
    params(super::openapi::CustomerPath, Signed),
    responses((status = 200, description = "The customer's page: dates, alternatives, their export", content((String = "text/html")))),
)]
pub(super) async fn export_page(
    State(s): State<AppState>,
    Path((campaign, customer)): Path<(String, String)>,
    Query(q): Query<Signed>,
) -> Result<Response, Page> {
    let (campaign, customer) =
        verified(&s, LinkPurpose::RequestExport, &campaign, &customer, &q).await?;
    let page = portal_page(&s, &campaign, &customer, &q, false).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], page).into_response())
}

/// The button: a copy is being built; the page says so (202).
#[utoipa::path(
    post,
    path = "/v1/c/{campaign}/{customer}/export",
    summary = "Ask for a copy of the data",
    tag = "customer pages",
    params(super::openapi::CustomerPath, Signed),
    responses((status = 202, description = "A copy is being built; the page says so", content((String = "text/html")))),
)]
pub(super) async fn export_request(
    State(s): State<AppState>,
    Path((campaign, customer)): Path<(String, String)>,
    Query(q): Query<Signed>,
) -> Result<Response, Page> {
    let (campaign, customer) =
        verified(&s, LinkPurpose::RequestExport, &campaign, &customer, &q).await?;
    export::request_export(&s.deps, &campaign, &customer, s.deps.clock.now())
        .await
        .map_err(|e| from_export(e, &campaign))?;
    let page = portal_page(&s, &campaign, &customer, &q, true).await?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::CACHE_CONTROL, "no-store")],
        page,
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/v1/c/{campaign}/{customer}/export/download",
    summary = "Download the copy",
    tag = "customer pages",
    params(super::openapi::CustomerPath, Signed),
    responses(
        (status = 200, description = "The export, a ZIP", content((String = "application/zip"))),
        (status = 303, description = "To a short-lived address of the export in the object store"),
    ),
)]
pub(super) async fn export_download(
    State(s): State<AppState>,
    Path((campaign, customer)): Path<(String, String)>,
    Query(q): Query<Signed>,
) -> Result<Response, Page> {
    let (campaign, customer) =
        verified(&s, LinkPurpose::Download, &campaign, &customer, &q).await?;
    let request = match q.request.as_deref().map(ExportId::parse) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return Err(Page(Failure::Incomplete, Some(campaign))),
    };
    let Some((request, download)) = export::download(
        &s.deps,
        &campaign,
        &customer,
        request.as_ref(),
        s.deps.clock.now(),
    )
    .await
    .map_err(|e| from_export(e, &campaign))?
    else {
        return Err(Page(Failure::NotReady, Some(campaign)));
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

/// A page for an address that is none of the customer routes.
pub(super) fn not_found() -> Response {
    Page(Failure::NotFound, None).into_response()
}

/// Every error of a customer route as a page, whatever produced it: a
/// framework's refusal (a link missing `sig` is a 400 from the query
/// extractor, a method the route does not take a 405) becomes the page
/// for it.
pub(super) async fn pages_only(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_page {
        return response;
    }
    let failure = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => Failure::Incomplete,
        s if s.is_server_error() => Failure::Server,
        _ => Failure::NotFound,
    };
    let mut page = Page(failure, None).into_response();
    // The framework's status stands (a 405 stays a 405).
    if status != StatusCode::BAD_REQUEST && !status.is_server_error() {
        *page.status_mut() = status;
    }
    page
}
