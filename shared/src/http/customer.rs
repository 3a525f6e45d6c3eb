//! The customer's routes, each authorised by the signed link a notice
//! carried. Every answer is a page a person can read, errors included.

use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::{ApiError, AppState, campaign_id, customer_id, load_campaign};
use crate::domain::export::ExportId;
use crate::domain::link::{LinkError, LinkPurpose};
use crate::domain::{Campaign, CustomerId};
use crate::services::export;
use crate::services::notice::{self, PageForm, PageView, Paragraph};

#[derive(Deserialize)]
pub(super) struct Signed {
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
    let now = s.deps.clock.now();
    match s
        .deps
        .signer
        .verify(purpose, &campaign_id, &customer, q.exp, &q.sig, now)
    {
        Ok(()) => Ok((load_campaign(&s.deps, campaign).await?, customer)),
        // A genuine link past the expiry it was signed with still works
        // while the customer's own last day lasts: an extension moves the
        // day, and the links they already have keep working to it.
        Err(LinkError::Expired) => {
            let campaign = load_campaign(&s.deps, campaign).await?;
            let record = s.deps.customers.customer(&campaign.id, &customer).await?;
            match record {
                Some(r) if now < r.deadline_ends(campaign.dates.export_deadline) => {
                    Ok((campaign, customer))
                }
                _ => Err(LinkError::Expired.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// A page in English (the portal in the customer's language comes with the
/// customer-surfaces work).
fn page(
    title: &str,
    paragraphs: Vec<Paragraph>,
    form: Option<PageForm>,
) -> Result<Html<String>, ApiError> {
    let view = PageView {
        lang: "en",
        title: title.to_owned(),
        paragraphs,
        form,
    };
    notice::render_page(&view)
        .map(Html)
        .map_err(|e| ApiError::Unexpected(e.into()))
}

/// The link in the e-mail opens a confirmation page; only its button (a
/// POST) starts an export, so mail scanners that follow links start none.
pub(super) async fn export_page(
    State(s): State<AppState>,
    Path((campaign, customer)): Path<(String, String)>,
    Query(q): Query<Signed>,
) -> Result<Html<String>, ApiError> {
    let (campaign, _) = verified(&s, LinkPurpose::RequestExport, &campaign, &customer, &q).await?;
    let title = format!("Export your {} data", campaign.product);
    let sig: String = q.sig.chars().filter(char::is_ascii_hexdigit).collect();
    page(
        &title,
        vec![Paragraph::new(
            "We will bundle all your data into one archive and e-mail you a download link.",
        )],
        Some(PageForm {
            action: format!("?exp={}&sig={sig}", q.exp),
            button: "Export my data".into(),
        }),
    )
}

pub(super) async fn export_request(
    State(s): State<AppState>,
    Path((campaign, customer)): Path<(String, String)>,
    Query(q): Query<Signed>,
) -> Result<(StatusCode, Html<String>), ApiError> {
    let (campaign, customer) =
        verified(&s, LinkPurpose::RequestExport, &campaign, &customer, &q).await?;
    export::request_export(&s.deps, &campaign, &customer, s.deps.clock.now()).await?;
    let page = page(
        "Your export is being prepared",
        vec![Paragraph::new(format!(
            "We are bundling your {} data now and will e-mail you a download link, usually within minutes.",
            campaign.product
        ))],
        None,
    )?;
    Ok((StatusCode::ACCEPTED, page))
}

pub(super) async fn export_download(
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
    let Some((request, download)) = export::download(
        &s.deps,
        &campaign,
        &customer,
        request.as_ref(),
        s.deps.clock.now(),
    )
    .await?
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

/// An error as a page: the same status, words a customer can act on, in
/// English and Chinese (the link does not say which they read).
pub(super) fn error_page(status: StatusCode, detail: &str) -> Response {
    let (title, zh) = match status {
        StatusCode::FORBIDDEN => ("This link does not work", "此链接无法使用"),
        StatusCode::NOT_FOUND => ("Not found", "未找到"),
        StatusCode::GONE => ("No longer available", "已不再提供"),
        StatusCode::TOO_MANY_REQUESTS => ("Too many requests", "请求过于频繁"),
        s if s.is_server_error() => ("Something went wrong on our side", "我们这边出了问题"),
        _ => ("This request cannot be completed", "无法完成此请求"),
    };
    // A service's reason reads as a sentence here ("the link has expired").
    let mut sentence: String = detail.trim().to_owned();
    if let Some(first) = sentence.chars().next() {
        sentence.replace_range(..first.len_utf8(), &first.to_uppercase().to_string());
    }
    if !sentence.ends_with(['.', '!', '?']) {
        sentence.push('.');
    }
    let paragraphs = vec![
        Paragraph::new(sentence),
        Paragraph::new("If you need help, reply to the e-mail that brought you here."),
        Paragraph {
            lang: Some("zh-CN"),
            text: format!("{zh}。如需帮助，请直接回复您收到的邮件。"),
        },
    ];
    let mut response = match page(title, paragraphs, None) {
        Ok(html) => html.into_response(),
        Err(e) => e.into_response(),
    };
    *response.status_mut() = status;
    response
}

/// Every error of a customer route as a page, whatever produced it (a
/// refused link, a framework's refusal such as a link missing `sig`).
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
    let text = super::refusal_text(response).await;
    let detail = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|p| p["detail"].as_str().map(str::to_owned))
        .filter(|_| !status.is_server_error())
        .unwrap_or_else(|| match status {
            StatusCode::BAD_REQUEST => {
                "The link is incomplete: copy the whole link from the e-mail.".into()
            }
            s if s.is_server_error() => "Please try again in a few minutes.".into(),
            _ => "This address is not one of ours.".into(),
        });
    error_page(status, &detail)
}
