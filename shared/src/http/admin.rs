//! The operator's routes: campaigns, imports, launch, customer events,
//! the report.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState, campaign_id, customer_id, is_json, load_campaign};
use crate::domain::Campaign;
use crate::domain::event::{CustomerEvent, CustomerEventKind};
use crate::services::{
    customers, delivery_events, events, import, late_import, launch, lifecycle, plan_preview,
    preview, report,
};

#[utoipa::path(
    post,
    path = "/v1/campaigns",
    summary = "Create a campaign",
    tag = "campaigns",
    request_body(
        description = "The campaign document, as `examples/orbit-crm.toml`: TOML, or the same as JSON",
        content((String = "application/toml"), (Object = "application/json")),
    ),
    responses((status = 201, description = "Created", body = super::openapi::Created)),
)]
pub(super) async fn create_campaign(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let campaign = campaign_body(&headers, &body)?;
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

/// A campaign from a request body: TOML, or JSON by content type.
fn campaign_body(headers: &HeaderMap, body: &[u8]) -> Result<Campaign, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::BadRequest("the body is not UTF-8".into()))?;
    Ok(if is_json(headers) {
        Campaign::from_json(text)?
    } else {
        Campaign::from_toml(text)?
    })
}

/// Replaces a campaign's content and dates, validated as on create; a
/// launched campaign's schedules are re-planned (moved, deleted, none
/// doubled).
#[utoipa::path(
    put,
    path = "/v1/campaigns/{campaign}",
    summary = "Replace a campaign's content and dates",
    tag = "campaigns",
    params(super::openapi::CampaignPath),
    request_body(
        description = "The campaign document, as `examples/orbit-crm.toml`: TOML, or the same as JSON",
        content((String = "application/toml"), (Object = "application/json")),
    ),
    responses((status = 200, description = "What changed, and the schedules moved, added and deleted", body = Object)),
)]
pub(super) async fn replace_campaign(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<lifecycle::Updated>, ApiError> {
    let id = campaign_id(&id)?;
    let campaign = campaign_body(&headers, &body)?;
    update(&s, id, campaign).await
}

async fn update(
    s: &AppState,
    id: crate::domain::CampaignId,
    campaign: Campaign,
) -> Result<Json<lifecycle::Updated>, ApiError> {
    if campaign.id != id {
        return Err(ApiError::Invalid {
            field: "id".into(),
            reason: format!("is {}, the path names {id}", campaign.id),
        });
    }
    Ok(Json(
        lifecycle::update(&s.deps, campaign, s.deps.clock.now()).await?,
    ))
}

/// Changes part of a campaign: a JSON merge patch (RFC 7396) on the
/// campaign as `GET` returns it (`{"dates": {"service_end": "…"}}`), the
/// result validated and re-planned as a `PUT` is.
#[utoipa::path(
    patch,
    path = "/v1/campaigns/{campaign}",
    summary = "Change part of a campaign (JSON merge patch)",
    tag = "campaigns",
    params(super::openapi::CampaignPath),
    request_body(
        description = "A JSON merge patch (RFC 7396) on the campaign as GET returns it",
        content((Object = "application/merge-patch+json"), (Object = "application/json")),
    ),
    responses((status = 200, description = "What changed, and the schedules moved, added and deleted", body = Object)),
)]
pub(super) async fn patch_campaign(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<lifecycle::Updated>, ApiError> {
    let stored = load_campaign(&s.deps, &id).await?;
    let patch: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))?;
    if !patch.is_object() {
        return Err(ApiError::BadRequest(
            "a merge patch is a JSON object of the fields to change".into(),
        ));
    }
    let mut doc = serde_json::to_value(&stored)
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("campaign to JSON: {e}")))?;
    merge_patch(&mut doc, patch);
    let campaign = Campaign::from_json(&doc.to_string())?;
    update(&s, stored.id, campaign).await
}

/// RFC 7396: objects merge key by key, `null` removes, anything else
/// replaces.
fn merge_patch(target: &mut serde_json::Value, patch: serde_json::Value) {
    match patch {
        serde_json::Value::Object(fields) => {
            if !target.is_object() {
                *target = serde_json::Value::Object(Default::default());
            }
            let map = target.as_object_mut().expect("an object");
            for (k, v) in fields {
                if v.is_null() {
                    map.remove(&k);
                } else {
                    merge_patch(map.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
        }
        other => *target = other,
    }
}

/// Every campaign and where it stands.
#[utoipa::path(
    get,
    path = "/v1/campaigns",
    summary = "List the campaigns",
    tag = "campaigns",
    responses((status = 200, description = "`{\"campaigns\": [...]}`: each campaign's id, product, dates and phase", body = Object)),
)]
pub(super) async fn list_campaigns(
    State(s): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let campaigns = lifecycle::list(&s.deps).await?;
    Ok(Json(serde_json::json!({ "campaigns": campaigns })))
}

/// Where one campaign stands: draft, running, paused or cancelled.
#[utoipa::path(
    get,
    path = "/v1/campaigns/{campaign}/status",
    summary = "Where a campaign stands",
    tag = "campaigns",
    params(super::openapi::CampaignPath),
    responses((status = 200, description = "`{\"id\", \"phase\", \"status\"}`: draft, running, paused or cancelled, and who decided", body = Object)),
)]
pub(super) async fn campaign_status(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    let status = s
        .deps
        .campaigns
        .status(&campaign.id)
        .await?
        .unwrap_or_default();
    Ok(Json(serde_json::json!({
        "id": campaign.id,
        "phase": status.phase(),
        "status": status,
    })))
}

/// Who acts and why: what a pause or a cancellation records.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Decision {
    /// Who decides (1 to 500 characters).
    #[schema(
        min_length = 1,
        max_length = 500,
        example = "Ana Ruiz, head of support"
    )]
    by: String,
    /// Why (1 to 500 characters).
    #[schema(
        min_length = 1,
        max_length = 500,
        example = "Legal approved the shorter notice"
    )]
    reason: String,
}

impl Decision {
    /// Both given, trimmed, 1 to 500 characters each.
    fn checked(self) -> Result<Self, ApiError> {
        self.checked_at("")
    }

    /// `checked`, the fields named under `at` (`override.by`).
    fn checked_at(self, at: &str) -> Result<Self, ApiError> {
        let field = |name: &str, value: String| {
            let value = value.trim().to_owned();
            let chars = value.chars().count();
            if chars == 0 || chars > 500 {
                return Err(ApiError::Invalid {
                    field: if at.is_empty() {
                        name.into()
                    } else {
                        format!("{at}.{name}")
                    },
                    reason: "is required: 1 to 500 characters".into(),
                });
            }
            Ok(value)
        };
        Ok(Self {
            by: field("by", self.by)?,
            reason: field("reason", self.reason)?,
        })
    }
}

/// The operator's pause: due waves wait, nothing is lost.
#[utoipa::path(
    post,
    path = "/v1/campaigns/{campaign}/pause",
    summary = "Pause a campaign's waves",
    tag = "campaigns",
    params(super::openapi::CampaignPath),
    request_body(content = Decision, content_type = "application/json"),
    responses((status = 200, description = "The campaign's status, paused", body = Object)),
)]
pub(super) async fn pause_campaign(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<crate::domain::lifecycle::CampaignStatus>, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    let d = json_body::<Decision>(&body)?.checked()?;
    Ok(Json(
        lifecycle::pause(&s.deps, &campaign.id, &d.by, &d.reason, s.deps.clock.now()).await?,
    ))
}

/// No further notices; the data deadline and the purge stay.
#[utoipa::path(
    post,
    path = "/v1/campaigns/{campaign}/cancel",
    summary = "Cancel a campaign's notices",
    tag = "campaigns",
    params(super::openapi::CampaignPath),
    request_body(content = Decision, content_type = "application/json"),
    responses((status = 200, description = "Cancelled: the notices dropped, and the data deadline and purge that stay", body = Object)),
)]
pub(super) async fn cancel_campaign(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<lifecycle::Cancelled>, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    let d = json_body::<Decision>(&body)?.checked()?;
    Ok(Json(
        lifecycle::cancel(&s.deps, &campaign.id, &d.by, &d.reason, s.deps.clock.now()).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/v1/campaigns/{campaign}",
    summary = "Read a campaign",
    tag = "campaigns",
    params(super::openapi::CampaignPath),
    responses((status = 200, description = "The campaign document, as JSON", body = Object)),
)]
pub(super) async fn get_campaign(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Campaign>, ApiError> {
    Ok(Json(load_campaign(&s.deps, &id).await?))
}

#[derive(Serialize)]
pub(super) struct ImportResponse {
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ImportQuery {
    /// `purge`: after the service ended, import straight into the purge.
    after_end: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/campaigns/{campaign}/customers",
    summary = "Import customers (CSV or JSON)",
    tag = "customers",
    params(super::openapi::CampaignPath, ImportQuery),
    request_body(
        description = "The customer file: CSV with a header row, or a JSON array of the same fields",
        content((String = "text/csv"), (Object = "application/json")),
    ),
    responses((status = 200, description = "Imported: counts, each rejected row and warning with its row, field and reason", body = Object)),
)]
pub(super) async fn import_customers(
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
        import::ImportOptions {
            after_service_end: after_end,
            keep_added: s.deps.campaigns.launched_at(&campaign.id).await?.is_some()
                && now < campaign.service_ended_at(),
        },
    )
    .await?;
    let (joined_waves, purge_at) = if now >= campaign.service_ended_at() {
        let at = late_import::purge_without_notice(&s.deps, &campaign, report.imported).await?;
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

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LaunchBody {
    /// Launch though preflight items fail: who decides, and why.
    #[serde(rename = "override")]
    overriding: Option<Decision>,
}

/// Launches (segment, preflight, plan); refused with the checklist while
/// an item fails, unless the body overrides it naming who and why.
#[utoipa::path(
    post,
    path = "/v1/campaigns/{campaign}/launch",
    summary = "Launch: segment, check, plan",
    tag = "campaigns",
    params(super::openapi::CampaignPath),
    request_body(content = Option<LaunchBody>, content_type = "application/json", description = "Empty, or an override of failing preflight items naming who and why"),
    responses((status = 200, description = "Launched: tiers, preflight, the schedules planned", body = Object)),
)]
pub(super) async fn launch_campaign(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<launch::LaunchReport>, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    let body: LaunchBody = if body.iter().all(u8::is_ascii_whitespace) {
        LaunchBody::default()
    } else {
        json_body(&body)?
    };
    let overriding = body
        .overriding
        .map(|d| {
            d.checked_at("override").map(|d| launch::Override {
                by: d.by,
                reason: d.reason,
            })
        })
        .transpose()?;
    Ok(Json(
        launch::launch_overriding(&s.deps, &campaign, overriding).await?,
    ))
}

/// The guide's preparation checklist for the campaign as it stands: each
/// item pass, warn or fail with the reason (nothing is changed).
#[utoipa::path(
    get,
    path = "/v1/campaigns/{campaign}/preflight",
    summary = "The preparation checklist",
    tag = "campaigns",
    params(super::openapi::CampaignPath),
    responses((status = 200, description = "The preparation checklist: each item pass, warn or fail, and why", body = Object)),
)]
pub(super) async fn campaign_preflight(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<crate::services::preflight::Preflight>, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    Ok(Json(
        crate::services::preflight::preflight(&s.deps, &campaign, s.deps.clock.now()).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EventBody {
    /// What happened.
    #[schema(value_type = super::openapi::EventName, example = "declined")]
    event: String,
    /// The reason or detail the event takes (a decline's reason, a
    /// hold's case, an extension's last day); up to 500 characters.
    #[serde(default)]
    #[schema(max_length = 500, example = "moving to another vendor")]
    detail: String,
}

#[utoipa::path(
    post,
    path = "/v1/campaigns/{campaign}/customers/{customer}/events",
    summary = "Record a customer event",
    tag = "customers",
    params(super::openapi::CustomerPath),
    request_body(content = EventBody, content_type = "application/json"),
    responses((status = 204, description = "Recorded")),
)]
pub(super) async fn customer_event(
    State(s): State<AppState>,
    Path((id, customer)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    let body: EventBody = json_body(&body)?;
    let kind =
        CustomerEventKind::parse(&body.event, &body.detail).map_err(|e| ApiError::Invalid {
            field: e.field.into(),
            reason: e.reason,
        })?;
    let event = CustomerEvent {
        at: s.deps.clock.now(),
        customer: customer_id(&customer)?,
        kind,
    };
    events::apply(&s.deps, &campaign, &event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A JSON body of type `T`: 400 when it is not JSON, 422 naming the field
/// when a value is missing or of the wrong kind (`"detail": 5`).
pub(super) fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m)
            .to_owned();
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
            .map(str::to_owned);
        match (inner.classify(), missing) {
            (_, Some(field)) => ApiError::Invalid {
                field,
                reason: "is required".into(),
            },
            (serde_json::error::Category::Data, None) if !at.is_empty() && at != "." => {
                ApiError::Invalid {
                    field: at,
                    reason: message,
                }
            }
            _ => ApiError::BadRequest(format!(
                "the body is not the JSON this route takes: {message}"
            )),
        }
    })
}

#[utoipa::path(
    get,
    path = "/v1/campaigns/{campaign}/report",
    summary = "The campaign's report",
    tag = "campaigns",
    params(super::openapi::CampaignPath),
    responses((status = 200, description = "The report: reach, exports, migration, declines, outreach, tickets", body = Object)),
)]
pub(super) async fn campaign_report(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<report::Report>, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    Ok(Json(
        report::report(&s.deps, &campaign, s.deps.clock.now()).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PreviewQuery {
    /// The customer's id.
    customer: String,
    /// The message: a milestone (`announcement`, `reminder-30`...) or
    /// `export-ready`.
    milestone: String,
    /// `email` (the default) or `sms`.
    channel: Option<String>,
    /// `json` (the default: subject, both parts and what chose them),
    /// `html` or `text` (the part itself, to look at).
    format: Option<String>,
}

/// Exactly what one customer would get for one message.
#[utoipa::path(
    get,
    path = "/v1/campaigns/{campaign}/preview",
    summary = "Preview one customer's message",
    tag = "customers",
    params(super::openapi::CampaignPath, PreviewQuery),
    responses((
        status = 200,
        description = "The message: as JSON (subject, both parts, what chose them), or its HTML or text part",
        content((Object = "application/json"), (String = "text/html"), (String = "text/plain")),
    )),
)]
pub(super) async fn preview(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> Result<axum::response::Response, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    let customer = customer_id(&q.customer)?;
    let message: preview::Previewed =
        q.milestone
            .parse()
            .map_err(|e: crate::domain::ids::InvalidValue| ApiError::Invalid {
                field: "milestone".into(),
                reason: e.0,
            })?;
    let channel = match q.channel.as_deref() {
        None => crate::domain::ledger::Channel::Email,
        Some(c) => c.parse().map_err(|_| ApiError::Invalid {
            field: "channel".into(),
            reason: format!(
                "'{}' is not a channel sunset sends on (email, sms)",
                c.chars().take(40).collect::<String>()
            ),
        })?,
    };
    let p = preview::preview(
        &s.deps,
        &campaign,
        &customer,
        message,
        channel,
        s.deps.clock.now(),
    )
    .await?;
    Ok(match q.format.as_deref() {
        None | Some("json") => Json(p).into_response(),
        Some("html") => axum::response::Html(p.html).into_response(),
        Some("text") => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            format!("Subject: {}\n\n{}", p.subject, p.text),
        )
            .into_response(),
        Some(other) => {
            return Err(ApiError::Invalid {
                field: "format".into(),
                reason: format!(
                    "'{}' is not json, html or text",
                    other.chars().take(40).collect::<String>()
                ),
            });
        }
    })
}

/// Resumes a campaign its reputation guard (or an operator) paused: the
/// waiting waves run at once.
#[utoipa::path(
    post,
    path = "/v1/campaigns/{campaign}/resume",
    summary = "Resume a paused campaign",
    tag = "campaigns",
    params(super::openapi::CampaignPath),
    responses((status = 200, description = "Resumed: the waves that waited run now", body = Object)),
)]
pub(super) async fn resume_campaign(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<delivery_events::Resumed>, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    Ok(Json(
        lifecycle::resume(&s.deps, &campaign.id, "admin API").await?,
    ))
}

/// SES events (one, or an array), as SES publishes them or EventBridge
/// wraps them: how the embedded runtime (which has no SES) takes the same
/// bounces and complaints the `delivery-events` function does. Every
/// event is read before any is recorded: one that cannot be read is a 422
/// naming it, and nothing is recorded.
#[utoipa::path(
    post,
    path = "/v1/delivery-events",
    summary = "Record SES delivery events",
    tag = "campaigns",
    request_body(
        description = "SES events (one, or an array), as SES publishes them or EventBridge wraps them",
        content((Object = "application/json")),
    ),
    responses((status = 200, description = "`{\"results\": [...]}`: what each event did", body = Object)),
)]
pub(super) async fn record_delivery_events(
    State(s): State<AppState>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let json: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))?;
    let list = match json {
        serde_json::Value::Array(items) => items,
        one => vec![one],
    };
    let mut parsed = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        parsed.push(
            crate::domain::delivery_event::parse(item).map_err(|e| ApiError::Invalid {
                field: format!("[{i}].{}", e.field),
                reason: e.reason,
            })?,
        );
    }
    let mut results = Vec::with_capacity(parsed.len());
    for p in parsed {
        results.push(match p {
            crate::domain::delivery_event::Parsed::Ignored { event_type } => {
                delivery_events::EventRecorded::Ignored { event_type }
            }
            crate::domain::delivery_event::Parsed::Event(e) => {
                delivery_events::record(&s.deps, &e).await?
            }
        });
    }
    Ok(Json(serde_json::json!({ "results": results })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PlanQuery {
    /// One customer's sequence instead of the whole plan.
    customer: Option<String>,
}

/// The plan: per day and channel, how many customers get which notice; or
/// one customer's whole sequence.
#[utoipa::path(
    get,
    path = "/v1/campaigns/{campaign}/plan",
    summary = "The plan, per day and channel or per customer",
    tag = "campaigns",
    params(super::openapi::CampaignPath, PlanQuery),
    responses((status = 200, description = "Per day and channel, how many customers get which notice; or one customer's sequence in their zone", body = Object)),
)]
pub(super) async fn campaign_plan(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PlanQuery>,
) -> Result<axum::response::Response, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    let now = s.deps.clock.now();
    Ok(match q.customer {
        Some(c) => {
            let customer = super::customer_id(&c)?;
            Json(plan_preview::for_customer(&s.deps, &campaign, &customer, now).await?)
                .into_response()
        }
        None => Json(plan_preview::preview(&s.deps, &campaign, now).await?).into_response(),
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct CustomersQuery {
    /// Only this tier.
    #[param(value_type = Option<super::openapi::TierName>)]
    tier: Option<String>,
    /// Only this migration status.
    #[param(value_type = Option<super::openapi::StatusName>)]
    status: Option<String>,
    /// An IANA time zone.
    zone: Option<String>,
    /// Only this locale.
    #[param(value_type = Option<super::openapi::LocaleTag>)]
    locale: Option<String>,
    /// The account manager's address.
    account_manager: Option<String>,
    /// Only those with (`true`) or without (`false`) a phone number.
    has_phone: Option<bool>,
    /// The `next` of the page before, as it came.
    cursor: Option<String>,
    /// How many a page lists (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// `json` (the default) or `csv` (for the account team).
    format: Option<String>,
}

fn invalid(field: &str, reason: String) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        reason,
    }
}

fn shown(v: &str) -> String {
    v.chars().take(60).collect()
}

impl CustomersQuery {
    fn filter(&self) -> Result<customers::Filter, ApiError> {
        use crate::domain::customer::MigrationStatus;
        Ok(customers::Filter {
            tier: self
                .tier
                .as_deref()
                .map(|t| {
                    crate::domain::Tier::parse(t).ok_or_else(|| {
                        invalid(
                            "tier",
                            format!("'{}' is not core, standard or low", shown(t)),
                        )
                    })
                })
                .transpose()?,
            status: self
                .status
                .as_deref()
                .map(|s| {
                    MigrationStatus::parse(s).ok_or_else(|| {
                        invalid(
                            "status",
                            format!(
                                "'{}' is not pending, exported, declined or migrated",
                                shown(s)
                            ),
                        )
                    })
                })
                .transpose()?,
            zone: self
                .zone
                .as_deref()
                .map(|z| {
                    z.parse::<chrono_tz::Tz>().map_err(|_| {
                        invalid("zone", format!("'{}' is not an IANA time zone", shown(z)))
                    })
                })
                .transpose()?,
            locale: self
                .locale
                .as_deref()
                .map(|l| crate::domain::Locale::parse(l).map_err(|e| invalid("locale", e.0)))
                .transpose()?,
            account_manager: self
                .account_manager
                .as_deref()
                .map(|m| {
                    crate::domain::EmailAddress::parse(m)
                        .map_err(|e| invalid("account_manager", e.0))
                })
                .transpose()?,
            has_phone: self.has_phone,
        })
    }
}

/// The campaign's customers, filtered, a page at a time (`next` is the
/// cursor of the page after); as CSV with `format=csv` (the next page's
/// link in the `Link` header).
#[utoipa::path(
    get,
    path = "/v1/campaigns/{campaign}/customers",
    summary = "List customers, filtered, page by page",
    tag = "customers",
    params(super::openapi::CampaignPath, CustomersQuery),
    responses((
        status = 200,
        description = "A page of customers, `next` the cursor of the page after; as CSV, the next page in the `Link` header",
        content((Object = "application/json"), (String = "text/csv")),
    )),
)]
pub(super) async fn list_customers(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<CustomersQuery>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<axum::response::Response, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    let filter = q.filter()?;
    let cursor = q
        .cursor
        .as_deref()
        .map(|c| {
            customers::Cursor::decode(c).ok_or_else(|| {
                invalid(
                    "cursor",
                    "is not a cursor this listing gave (pass `next` as it came)".into(),
                )
            })
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > customers::MAX_LIMIT {
        return Err(invalid(
            "limit",
            format!("is {limit}; a page lists 1 to {}", customers::MAX_LIMIT),
        ));
    }
    let page = customers::list(&s.deps, &campaign, &filter, cursor.as_ref(), limit).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(page).into_response()),
        Some("csv") => {
            let body = customers::csv(&page)
                .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("CSV: {e}")))?;
            let mut response = (
                [
                    (
                        axum::http::header::CONTENT_TYPE,
                        "text/csv; charset=utf-8".to_owned(),
                    ),
                    (
                        axum::http::header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{}-customers.csv\"", campaign.id),
                    ),
                ],
                body,
            )
                .into_response();
            if let Some(next) = &page.next {
                // The same query (filters, limit, format), the next cursor.
                let mut params: Vec<&str> = raw
                    .as_deref()
                    .unwrap_or("")
                    .split('&')
                    .filter(|p| !p.is_empty() && !p.starts_with("cursor="))
                    .collect();
                let cursor = format!("cursor={next}");
                params.push(&cursor);
                let link = format!("<?{}>; rel=\"next\"", params.join("&"));
                if let Ok(v) = axum::http::HeaderValue::from_str(&link) {
                    response.headers_mut().insert(axum::http::header::LINK, v);
                }
            }
            Ok(response)
        }
        Some(other) => Err(invalid(
            "format",
            format!("'{}' is not json or csv", shown(other)),
        )),
    }
}

/// One customer: tier and why, every message with its state, events,
/// exports.
#[utoipa::path(
    get,
    path = "/v1/campaigns/{campaign}/customers/{customer}",
    summary = "One customer in full",
    tag = "customers",
    params(super::openapi::CustomerPath),
    responses((status = 200, description = "Tier and why, every notice per channel with its state, events, exports", body = Object)),
)]
pub(super) async fn customer_detail(
    State(s): State<AppState>,
    Path((id, customer)): Path<(String, String)>,
) -> Result<Json<customers::Detail>, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    let customer = customer_id(&customer)?;
    customers::detail(&s.deps, &campaign, &customer)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no customer {customer} in this campaign")))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TierBody {
    /// The tier the customer gets.
    #[schema(value_type = super::openapi::TierName, example = "core")]
    tier: String,
    /// Who decides (1 to 500 characters).
    #[schema(min_length = 1, max_length = 500, example = "Ana Ruiz, account lead")]
    by: String,
    /// Why (1 to 500 characters).
    #[schema(
        min_length = 1,
        max_length = 500,
        example = "Renewed for three years last month"
    )]
    reason: String,
}

/// The operator's tier for a customer, with who and why; segmentation
/// leaves it.
#[utoipa::path(
    put,
    path = "/v1/campaigns/{campaign}/customers/{customer}/tier",
    summary = "Override a customer's tier",
    tag = "customers",
    params(super::openapi::CustomerPath),
    request_body(content = TierBody, content_type = "application/json"),
    responses((status = 200, description = "The customer, with the operator's tier", body = Object)),
)]
pub(super) async fn override_tier(
    State(s): State<AppState>,
    Path((id, customer)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<customers::Detail>, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    let customer = customer_id(&customer)?;
    let b: TierBody = json_body(&body)?;
    let tier = crate::domain::Tier::parse(&b.tier).ok_or_else(|| {
        invalid(
            "tier",
            format!("'{}' is not core, standard or low", shown(&b.tier)),
        )
    })?;
    let d = Decision {
        by: b.by,
        reason: b.reason,
    }
    .checked()?;
    let over = crate::domain::tier::TierOverride {
        tier,
        by: d.by,
        reason: d.reason,
        at: s.deps.clock.now(),
    };
    Ok(Json(
        customers::override_tier(&s.deps, &campaign, &customer, over).await?,
    ))
}

/// A field that may be given as `null` (remove it), given, or left out.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ContactBody {
    /// The new address.
    email: Option<String>,
    /// The new number (E.164); `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    phone: Option<Option<String>>,
    /// The locale their notices are written in.
    #[schema(value_type = Option<super::openapi::LocaleTag>)]
    locale: Option<String>,
    /// An IANA time zone (`Asia/Shanghai`); the customer moves to its
    /// waves.
    timezone: Option<String>,
}

/// New contact details for a customer (any of `email`, `phone`, `locale`,
/// `timezone`); a new zone moves them to its waves.
#[utoipa::path(
    patch,
    path = "/v1/campaigns/{campaign}/customers/{customer}",
    summary = "Change a customer's contact details",
    tag = "customers",
    params(super::openapi::CustomerPath),
    request_body(content = ContactBody, content_type = "application/json"),
    responses((status = 200, description = "What changed, and the waves the customer moved to", body = Object)),
)]
pub(super) async fn update_contact(
    State(s): State<AppState>,
    Path((id, customer)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<customers::ContactChanged>, ApiError> {
    use crate::domain::ids::Phone;
    let campaign = load_campaign(&s.deps, &id).await?;
    let customer = customer_id(&customer)?;
    let b: ContactBody = json_body(&body)?;
    let change = customers::ContactChange {
        email: b
            .email
            .as_deref()
            .map(|e| crate::domain::EmailAddress::parse(e).map_err(|e| invalid("email", e.0)))
            .transpose()?,
        phone: match b.phone {
            None => None,
            Some(None) => Some(None),
            Some(Some(p)) => Some(Some(Phone::parse(&p).map_err(|e| invalid("phone", e.0))?)),
        },
        locale: b
            .locale
            .as_deref()
            .map(|l| crate::domain::Locale::parse(l).map_err(|e| invalid("locale", e.0)))
            .transpose()?,
        timezone: b
            .timezone
            .as_deref()
            .map(|z| {
                z.parse::<chrono_tz::Tz>().map_err(|_| {
                    invalid(
                        "timezone",
                        format!("'{}' is not an IANA time zone", shown(z)),
                    )
                })
            })
            .transpose()?,
    };
    Ok(Json(
        customers::update_contact(&s.deps, &campaign, &customer, change, s.deps.clock.now())
            .await?,
    ))
}

/// Why customers declined the alternatives, most given reason first.
#[utoipa::path(
    get,
    path = "/v1/campaigns/{campaign}/declines",
    summary = "Why customers declined",
    tag = "customers",
    params(super::openapi::CampaignPath),
    responses((status = 200, description = "Each reason given, with how many gave it", body = Object)),
)]
pub(super) async fn declines(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<customers::Declines>, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    Ok(Json(customers::declines(&s.deps, &campaign).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct OutreachQuery {
    /// `todo`, `scheduled`, `done` or `escalated`.
    state: Option<String>,
    /// The owner's address.
    owner: Option<String>,
}

/// The core customers' outreach tasks, filtered by state or owner, with
/// the counts per state.
#[utoipa::path(
    get,
    path = "/v1/campaigns/{campaign}/outreach",
    summary = "List the core customers' outreach tasks",
    tag = "outreach",
    params(super::openapi::CampaignPath, OutreachQuery),
    responses((status = 200, description = "`{\"counts\", \"tasks\"}`: the tasks per state, and those asked for", body = Object)),
)]
pub(super) async fn outreach_tasks(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<OutreachQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    use crate::domain::outreach::OutreachState;
    let campaign = load_campaign(&s.deps, &id).await?;
    let state = q
        .state
        .as_deref()
        .map(|raw| {
            OutreachState::parse(raw).map_err(|reason| ApiError::Invalid {
                field: "state".into(),
                reason,
            })
        })
        .transpose()?;
    let all = s.deps.outreach.tasks(&campaign.id).await?;
    let mut counts = std::collections::BTreeMap::new();
    for t in &all {
        *counts.entry(t.state.as_str()).or_insert(0u64) += 1;
    }
    let owner = q.owner.as_deref().map(str::trim);
    let tasks: Vec<_> = all
        .into_iter()
        .filter(|t| state.is_none_or(|s| t.state == s))
        .filter(|t| {
            owner.is_none_or(|o| {
                t.owner
                    .as_ref()
                    .is_some_and(|a| a.as_str().eq_ignore_ascii_case(o))
            })
        })
        .collect();
    Ok(Json(
        serde_json::json!({ "counts": counts, "tasks": tasks }),
    ))
}

/// One core customer's outreach task.
#[utoipa::path(
    get,
    path = "/v1/campaigns/{campaign}/outreach/{customer}",
    summary = "One outreach task",
    tag = "outreach",
    params(super::openapi::CustomerPath),
    responses((status = 200, description = "The task: state, owner, day set, notes, revision", body = Object)),
)]
pub(super) async fn outreach_task(
    State(s): State<AppState>,
    Path((id, customer)): Path<(String, String)>,
) -> Result<Json<crate::domain::outreach::OutreachTask>, ApiError> {
    let campaign = load_campaign(&s.deps, &id).await?;
    let customer = customer_id(&customer)?;
    s.deps
        .outreach
        .task(&campaign.id, &customer)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "customer {customer} has no outreach task (only core customers have one)"
            ))
        })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct OutreachBody {
    /// Who acts (1 to 500 characters).
    #[schema(min_length = 1, max_length = 500, example = "am@example.com")]
    by: String,
    /// Where the task stands now.
    #[schema(value_type = Option<super::openapi::OutreachStateName>)]
    state: Option<String>,
    /// The day the call is set for (`YYYY-MM-DD`); `scheduled` needs one.
    #[schema(format = Date, example = "2027-03-01")]
    scheduled_for: Option<String>,
    /// A note kept on the task (deleted with the customer's data).
    note: Option<String>,
}

/// The owner moves a task on: `{"by", "state", "scheduled_for", "note"}`.
/// Done after the customer's announcement was held sends it now.
#[utoipa::path(
    patch,
    path = "/v1/campaigns/{campaign}/outreach/{customer}",
    summary = "Move an outreach task on",
    tag = "outreach",
    params(super::openapi::CustomerPath),
    request_body(content = OutreachBody, content_type = "application/json"),
    responses((status = 200, description = "The task as it now stands", body = Object)),
)]
pub(super) async fn update_outreach(
    State(s): State<AppState>,
    Path((id, customer)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<crate::domain::outreach::OutreachTask>, ApiError> {
    use crate::domain::outreach::{OutreachChange, OutreachState};
    let campaign = load_campaign(&s.deps, &id).await?;
    let customer = customer_id(&customer)?;
    let body: OutreachBody = json_body(&body)?;
    let by = body.by.trim();
    if by.is_empty() || by.chars().count() > 500 {
        return Err(ApiError::Invalid {
            field: "by".into(),
            reason: "is required: 1 to 500 characters".into(),
        });
    }
    let change = OutreachChange {
        state: body
            .state
            .as_deref()
            .map(OutreachState::parse)
            .transpose()
            .map_err(|reason| ApiError::Invalid {
                field: "state".into(),
                reason,
            })?,
        scheduled_for: body
            .scheduled_for
            .as_deref()
            .map(|d| {
                crate::domain::bounds::parse_date(d, crate::domain::bounds::CAMPAIGN_YEARS).map_err(
                    |e| ApiError::Invalid {
                        field: "scheduled_for".into(),
                        reason: e.0,
                    },
                )
            })
            .transpose()?,
        note: body.note,
    };
    if change == OutreachChange::default() {
        return Err(ApiError::Invalid {
            field: "state".into(),
            reason: "give a state, a scheduled_for day or a note".into(),
        });
    }
    Ok(Json(
        crate::services::outreach::update(
            &s.deps,
            &campaign,
            &customer,
            &change,
            by,
            s.deps.clock.now(),
        )
        .await?,
    ))
}
