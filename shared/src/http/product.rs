//! The retiring product's calls, with its own key (never the operator's):
//! the in-app banner for a signed-in customer.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{ApiError, AppState, cache, customer_id, load_campaign};
use crate::domain::Locale;
use crate::services::banner::{self, BannerError};

#[derive(Deserialize)]
pub(super) struct BannerQuery {
    /// The product's UI language, when it differs from the customer's.
    lang: Option<String>,
}

impl From<BannerError> for ApiError {
    fn from(e: BannerError) -> Self {
        match e {
            BannerError::UnknownCustomer(_) => ApiError::NotFound(e.to_string()),
            BannerError::Purged(_) => ApiError::Gone(e.to_string()),
            BannerError::Render(r) => ApiError::Unexpected(r.into()),
            BannerError::Port(p) => p.into(),
        }
    }
}

/// `GET /v1/campaigns/{campaign}/customers/{customer}/banner`: 200 with the
/// banner, 204 before the public announcement (nothing to show yet), 304
/// when the product holds the same banner. Private to the customer (it
/// carries their signed link), kept five minutes.
pub(super) async fn banner(
    State(s): State<AppState>,
    Path((campaign, customer)): Path<(String, String)>,
    Query(q): Query<BannerQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let lang = q
        .lang
        .as_deref()
        .map(|tag| {
            Locale::parse(tag).map_err(|e| ApiError::Invalid {
                field: "lang".into(),
                reason: e.0,
            })
        })
        .transpose()?;
    let campaign = load_campaign(&s.deps, &campaign).await?;
    let customer = customer_id(&customer)?;
    let now = s.deps.clock.now();
    match banner::banner(&s.deps, &campaign, &customer, lang, now).await? {
        None => Ok(StatusCode::NO_CONTENT.into_response()),
        Some(banner) => {
            let body = serde_json::to_vec(&banner)
                .map_err(|e| ApiError::Unexpected(anyhow::anyhow!(e)))?;
            Ok(cache::cached(
                &headers,
                "application/json",
                "private, max-age=300",
                body,
            ))
        }
    }
}
