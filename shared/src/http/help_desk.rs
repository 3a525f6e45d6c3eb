//! The help desk's webhook, with its own key: tickets opened and resolved,
//! by type, for the report.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::admin::json_body;
use super::{ApiError, AppState, customer_id, load_campaign};
use crate::services::tickets::{self, Outcome, Ticket, TicketAction, TicketType};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TicketBody {
    #[schema(example = "C000001")]
    customer: String,
    /// What happened to the ticket.
    #[schema(value_type = super::openapi::TicketActionName)]
    action: TicketAction,
    /// The ticket's category, 1 to 40 of `a-z 0-9 . _ -`
    /// (`data-export`).
    #[serde(rename = "type")]
    #[schema(min_length = 1, max_length = 40, example = "data-export")]
    kind: String,
    /// When (RFC 3339); with it, the same event sent twice is recorded
    /// once.
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

/// `{"outcome": "recorded" | "already_recorded"}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct TicketAnswer {
    outcome: String,
}

/// `POST /v1/campaigns/{campaign}/tickets`: 201 when recorded, 200 when
/// the same event (customer, action, type, `at`) was recorded before.
#[utoipa::path(
    post,
    path = "/v1/campaigns/{campaign}/tickets",
    summary = "Record a help-desk ticket event",
    tag = "help desk",
    params(super::openapi::CampaignPath),
    request_body(content = TicketBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Recorded", body = TicketAnswer),
        (status = 200, description = "The same event was recorded before", body = TicketAnswer),
    ),
)]
pub(super) async fn ticket(
    State(s): State<AppState>,
    Path(campaign): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let campaign = load_campaign(&s.deps, &campaign).await?;
    let body: TicketBody = json_body(&body)?;
    let ticket = Ticket {
        customer: customer_id(&body.customer)?,
        action: body.action,
        kind: TicketType::parse(&body.kind).map_err(|reason| ApiError::Invalid {
            field: "type".into(),
            reason,
        })?,
        at: body.at,
    };
    let outcome = tickets::record(&s.deps, &campaign, ticket, s.deps.clock.now()).await?;
    let status = match outcome {
        Outcome::Recorded => StatusCode::CREATED,
        Outcome::AlreadyRecorded => StatusCode::OK,
    };
    Ok((status, Json(serde_json::json!({ "outcome": outcome }))))
}
