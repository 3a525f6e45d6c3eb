//! The public announcement: anyone may read it, from the announcement day
//! on. `/v1/public/{campaign}` sends a reader to the page in their
//! language; the page per locale, `feed.atom`, `sunset.json` and
//! `dates.ics` are kept by caches (ETag, five minutes).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::cache::cached;
use super::customer::{Page, server};
use crate::domain::deprecation::public_url;
use crate::domain::{Campaign, CampaignId, Locale};
use crate::services::portal::Failure;
use crate::services::public::{self, PublicError};

const PUBLIC: &str = "public, max-age=300";

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CalendarQuery {
    /// The calendar's language (`dates.ics`); the campaign's default
    /// otherwise.
    lang: Option<String>,
}

async fn campaign(s: &AppState, raw: &str) -> Result<Campaign, Page> {
    let id = CampaignId::parse(raw).map_err(|_| Page(Failure::NotFound, None))?;
    s.deps
        .campaigns
        .campaign(&id)
        .await
        .map_err(|e| server(e, None))?
        .ok_or(Page(Failure::NotFound, None))
}

fn failed(e: PublicError, campaign: &Campaign) -> Page {
    match e {
        // Not announced yet: as if there were nothing here.
        PublicError::NotYet => Page(Failure::NotFound, None),
        other => server(other, Some(campaign.clone())),
    }
}

/// To the page in the reader's language (303: the choice depends on them).
#[utoipa::path(
    get,
    path = "/v1/public/{campaign}",
    summary = "The public announcement, in the reader's language",
    tag = "customer pages",
    params(super::openapi::CampaignPath),
    responses((status = 303, description = "To the page in the reader's language (`Accept-Language`)")),
)]
pub(super) async fn choose_language(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Page> {
    let campaign = campaign(&s, &id).await?;
    if !public::announced(&campaign, s.deps.clock.now()) {
        return Err(Page(Failure::NotFound, None));
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let locale = public::best_locale(&campaign, accept);
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, public_url(&campaign, locale)),
            (header::VARY, "Accept-Language".to_owned()),
            (header::CACHE_CONTROL, PUBLIC.to_owned()),
        ],
    )
        .into_response())
}

/// A page per locale (`en`, `en-US`, `en-GB`, `zh-CN`), the feed, the
/// JSON document or the calendar.
#[utoipa::path(
    get,
    path = "/v1/public/{campaign}/{document}",
    summary = "A public announcement document",
    tag = "customer pages",
    params(super::openapi::DocumentPath, CalendarQuery),
    responses(
        (
            status = 200,
            description = "The announcement: a locale's page, the Atom feed, the JSON document or the calendar",
            content(
                (String = "text/html"),
                (String = "application/atom+xml"),
                (Object = "application/json"),
                (String = "text/calendar"),
            ),
        ),
        (status = 304, description = "The reader holds this document already (`If-None-Match`)"),
    ),
)]
pub(super) async fn document(
    State(s): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    Query(q): Query<CalendarQuery>,
    headers: HeaderMap,
) -> Result<Response, Page> {
    let campaign = campaign(&s, &id).await?;
    let now = s.deps.clock.now();
    let fail = |e: PublicError| failed(e, &campaign);
    let (content_type, body) = match name.as_str() {
        "feed.atom" => (
            "application/atom+xml; charset=utf-8",
            public::feed(&campaign, now).map_err(fail)?.into_bytes(),
        ),
        "sunset.json" => (
            "application/json",
            serde_json::to_vec(&public::document(&campaign, now).map_err(fail)?)
                .map_err(|e| server(e, None))?,
        ),
        "dates.ics" => {
            if !public::announced(&campaign, now) {
                return Err(fail(PublicError::NotYet));
            }
            let locale = q
                .lang
                .as_deref()
                .and_then(Locale::from_tag)
                .unwrap_or(campaign.default_locale);
            (
                "text/calendar; charset=utf-8",
                public::calendar(&campaign, locale, campaign.dates.export_deadline)
                    .map_err(|e| fail(e.into()))?
                    .into_bytes(),
            )
        }
        tag => {
            // Only a locale's own tag is a page: `en-us` would be a second
            // address of the same page.
            let locale = Locale::parse(tag)
                .ok()
                .filter(|l| l.tag() == tag)
                .ok_or(Page(Failure::NotFound, None))?;
            (
                "text/html; charset=utf-8",
                public::page(&campaign, locale, now)
                    .map_err(fail)?
                    .into_bytes(),
            )
        }
    };
    Ok(cached(&headers, content_type, PUBLIC, body))
}
