//! The retiring product's calls, with its own key (never the operator's):
//! the in-app banner for a signed-in customer, and which customers have
//! migrated (signed: `http::signature`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::admin::json_body;
use super::{ApiError, AppState, cache, customer_id, load_campaign};
use crate::domain::{CustomerId, Locale};
use crate::services::banner::{self, BannerError};
use crate::services::migration_status::{self, Migrated, Outcome, StatusError};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
#[utoipa::path(
    get,
    path = "/v1/campaigns/{campaign}/customers/{customer}/banner",
    summary = "The in-app banner for a customer",
    tag = "product",
    params(super::openapi::CustomerPath, BannerQuery),
    responses(
        (status = 200, description = "The banner: text in the customer's language, dates, links", body = Object),
        (status = 204, description = "Nothing to show yet: before the public announcement"),
        (status = 304, description = "The product holds this banner already (`If-None-Match`)"),
    ),
)]
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

/// What the product says of one customer. Only `migrated` today: a
/// customer who moves back is a matter for the operator.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StatusBody {
    /// `migrated`: the only word the product reports.
    #[schema(example = "migrated")]
    status: String,
    /// When they migrated (RFC 3339); now when left out.
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

fn migrated(status: &str) -> Result<(), ApiError> {
    match status {
        "migrated" => Ok(()),
        other => Err(ApiError::Invalid {
            field: "status".into(),
            reason: format!(
                "is '{}'; the product reports 'migrated'",
                other.chars().take(40).collect::<String>()
            ),
        }),
    }
}

/// The signature on a product's report, checked before its body is read.
fn verify(s: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let key = s.product_signing.as_ref().ok_or(ApiError::Unauthorized)?;
    key.verify(headers, body, s.deps.clock.now())?;
    Ok(())
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct StatusAnswer {
    #[schema(value_type = String)]
    customer: CustomerId,
    /// `recorded` or `unchanged`.
    #[schema(value_type = String)]
    outcome: migration_status::Outcome,
}

/// `PUT /v1/campaigns/{campaign}/customers/{customer}/migration`, signed:
/// the customer has migrated. 200 `recorded`, or `unchanged` when they
/// already had.
#[utoipa::path(
    put,
    path = "/v1/campaigns/{campaign}/customers/{customer}/migration",
    summary = "Report that a customer migrated",
    tag = "product",
    params(super::openapi::CustomerPath,
        ("Sunset-Timestamp" = i64, Header, description = "Unix seconds when signed; within 300 s of now"),
        ("Sunset-Signature" = String, Header, description = "`sha256=` and the hex HMAC-SHA256 of `<timestamp>.<body>` under the product's signing key"),
    ),
    request_body(content = StatusBody, content_type = "application/json"),
    responses((status = 200, description = "`recorded`, or `unchanged` when they had already migrated", body = StatusAnswer)),
)]
pub(super) async fn migration(
    State(s): State<AppState>,
    Path((campaign, customer)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<StatusAnswer>, ApiError> {
    verify(&s, &headers, &body)?;
    let campaign = load_campaign(&s.deps, &campaign).await?;
    let customer = customer_id(&customer)?;
    let report: StatusBody = json_body(&body)?;
    migrated(&report.status)?;
    let now = s.deps.clock.now();
    let one = Migrated {
        customer: customer.clone(),
        at: report.at,
    };
    let outcome = migration_status::record(&s.deps, &campaign, &[one], now)
        .await?
        .pop()
        .expect("one outcome per report")?;
    Ok(Json(StatusAnswer { customer, outcome }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BulkBody {
    /// 1 to 1,000 reports; each row is read by itself, so one that cannot
    /// be is refused alone.
    #[schema(value_type = Vec<BulkItem>)]
    customers: Vec<serde_json::Value>,
}

/// One row of a bulk answer: its outcome, or why it was refused.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct BulkRow {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<String>,
    /// `recorded`, `unchanged` or `refused`.
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct BulkAnswer {
    recorded: usize,
    unchanged: usize,
    refused: usize,
    results: Vec<BulkRow>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BulkItem {
    #[schema(example = "C000001")]
    customer: String,
    /// `migrated`: the only word the product reports.
    #[schema(example = "migrated")]
    status: String,
    /// When they migrated (RFC 3339); now when left out.
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

/// `POST /v1/campaigns/{campaign}/migrations`, signed: up to 1,000
/// customers who have migrated. 200 with each row's outcome: a row that
/// cannot be read or applied is refused by itself (index, field, reason)
/// and the others stand.
#[utoipa::path(
    post,
    path = "/v1/campaigns/{campaign}/migrations",
    summary = "Report customers who migrated, in bulk",
    tag = "product",
    params(super::openapi::CampaignPath,
        ("Sunset-Timestamp" = i64, Header, description = "Unix seconds when signed; within 300 s of now"),
        ("Sunset-Signature" = String, Header, description = "`sha256=` and the hex HMAC-SHA256 of `<timestamp>.<body>` under the product's signing key"),
    ),
    request_body(content = BulkBody, content_type = "application/json"),
    responses((status = 200, description = "Each row's outcome; a refused row names its index, field and reason", body = BulkAnswer)),
)]
pub(super) async fn migrations(
    State(s): State<AppState>,
    Path(campaign): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<BulkAnswer>, ApiError> {
    verify(&s, &headers, &body)?;
    let campaign = load_campaign(&s.deps, &campaign).await?;
    let bulk: BulkBody = json_body(&body)?;
    if bulk.customers.is_empty() || bulk.customers.len() > migration_status::BULK_LIMIT {
        return Err(ApiError::Invalid {
            field: "customers".into(),
            reason: format!(
                "holds {} reports; send 1 to {} per call",
                bulk.customers.len(),
                migration_status::BULK_LIMIT
            ),
        });
    }
    // A row refused as read is answered at once; the others once the
    // service has applied them (`None` until then).
    let mut rows: Vec<Option<BulkRow>> = Vec::with_capacity(bulk.customers.len());
    let mut reports = Vec::new();
    for (index, value) in bulk.customers.into_iter().enumerate() {
        let refuse = |customer: Option<String>, field: &str, reason: String| BulkRow {
            index,
            customer,
            outcome: "refused",
            field: Some(field.into()),
            reason: Some(reason),
        };
        let item: BulkItem = match serde_json::from_value(value) {
            Ok(item) => item,
            Err(e) => {
                let message = e.to_string();
                let field = super::named_field(&message).unwrap_or_else(|| "customers".into());
                rows.push(Some(refuse(None, &field, message)));
                continue;
            }
        };
        if let Err(e) = migrated(&item.status) {
            rows.push(Some(refuse(Some(item.customer), "status", e.to_string())));
            continue;
        }
        match CustomerId::parse(&item.customer) {
            Ok(customer) => {
                rows.push(None);
                reports.push((
                    index,
                    Migrated {
                        customer,
                        at: item.at,
                    },
                ));
            }
            Err(e) => rows.push(Some(refuse(Some(item.customer), "customer", e.0))),
        }
    }
    let now = s.deps.clock.now();
    let (indexes, reports): (Vec<usize>, Vec<Migrated>) = reports.into_iter().unzip();
    let outcomes = migration_status::record(&s.deps, &campaign, &reports, now).await?;
    for ((index, report), outcome) in indexes.into_iter().zip(reports).zip(outcomes) {
        let (outcome, field, reason) = match outcome {
            Ok(Outcome::Recorded) => ("recorded", None, None),
            Ok(Outcome::Unchanged) => ("unchanged", None, None),
            Err(e) => {
                let field = match e {
                    StatusError::InTheFuture { .. } => "at",
                    _ => "customer",
                };
                ("refused", Some(field.to_owned()), Some(e.to_string()))
            }
        };
        rows[index] = Some(BulkRow {
            index,
            customer: Some(report.customer.to_string()),
            outcome,
            field,
            reason,
        });
    }
    let rows: Vec<BulkRow> = rows.into_iter().flatten().collect();
    let count = |o: &str| rows.iter().filter(|r| r.outcome == o).count();
    Ok(Json(BulkAnswer {
        recorded: count("recorded"),
        unchanged: count("unchanged"),
        refused: count("refused"),
        results: rows,
    }))
}
