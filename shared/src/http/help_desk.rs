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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TicketBody {
    customer: String,
    action: TicketAction,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

/// `POST /v1/campaigns/{campaign}/tickets`: 201 when recorded, 200 when
/// the same event (customer, action, type, `at`) was recorded before.
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
