//! Errors as HTTP responses, in one place: a JSON problem body that says
//! what the caller can fix; internal errors are logged and answered with a
//! fixed message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::campaign::CampaignError;
use crate::domain::link::LinkError;
use crate::http::signature::SignatureError;
use crate::ports::PortError;
use crate::services::customers::{ContactError, OverrideError};
use crate::services::events::EventError;
use crate::services::export::ExportError;
use crate::services::import::ImportError;
use crate::services::launch::{LaunchError, Preflight};
use crate::services::lifecycle::LifecycleError;
use crate::services::migration_status::StatusError;
use crate::services::outreach::OutreachError;
use crate::services::plan_preview::PlanPreviewError;
use crate::services::preview::PreviewError;

/// What was refused and why (RFC 9457's fields, and the one at fault).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// The HTTP status, again.
    pub status: u16,
    /// The status's name: `invalid`, `not found`, `conflict`...
    pub title: &'static str,
    /// What the caller can fix, in words.
    pub detail: String,
    /// The field at fault: a body's (`dates.announce`, `customers[3].at`),
    /// a query's or a path's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A refused launch: the whole checklist, each item's verdict and
    /// reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub preflight: Option<Preflight>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    TooMany(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// A signed request whose signature does not hold (401, saying why).
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("preflight failed: {}", .0.failures().join("; "))]
    Preflight(Preflight),
    #[error("temporarily unavailable")]
    Unavailable(#[source] PortError),
    /// A request the framework refused before a handler saw it (a body
    /// over the limit, an unknown route or method, a malformed query).
    #[error("{detail}")]
    Rejected {
        status: StatusCode,
        detail: String,
        field: Option<String>,
    },
    #[error("unexpected")]
    Unexpected(#[source] anyhow::Error),
}

impl From<PortError> for ApiError {
    fn from(e: PortError) -> Self {
        if e.retryable {
            ApiError::Unavailable(e)
        } else {
            ApiError::Unexpected(e.source)
        }
    }
}

impl From<CampaignError> for ApiError {
    fn from(e: CampaignError) -> Self {
        match e {
            CampaignError::Syntax(s) => ApiError::BadRequest(format!("campaign: {s}")),
            CampaignError::Field { field, reason } => ApiError::Invalid { field, reason },
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Store(p) => p.into(),
            ImportError::ServiceEnded(_) => ApiError::Conflict(e.to_string()),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

impl From<LaunchError> for ApiError {
    fn from(e: LaunchError) -> Self {
        match e {
            LaunchError::Preflight(p) => ApiError::Preflight(p),
            LaunchError::TooLate { field, reason } => ApiError::Invalid {
                field: field.into(),
                reason,
            },
            LaunchError::Cancelled(_) => ApiError::Conflict(e.to_string()),
            LaunchError::Port(p) => p.into(),
        }
    }
}

impl From<PlanPreviewError> for ApiError {
    fn from(e: PlanPreviewError) -> Self {
        match e {
            PlanPreviewError::UnknownCustomer(_) => ApiError::NotFound(e.to_string()),
            PlanPreviewError::Port(p) => p.into(),
        }
    }
}

impl From<ContactError> for ApiError {
    fn from(e: ContactError) -> Self {
        match e {
            ContactError::UnknownCustomer(_) => ApiError::NotFound(e.to_string()),
            ContactError::Purged(_) => ApiError::Gone(e.to_string()),
            ContactError::Port(p) => p.into(),
        }
    }
}

impl From<OverrideError> for ApiError {
    fn from(e: OverrideError) -> Self {
        match e {
            OverrideError::UnknownCustomer(_) => ApiError::NotFound(e.to_string()),
            OverrideError::Purged(_) => ApiError::Gone(e.to_string()),
            OverrideError::Port(p) => p.into(),
        }
    }
}

impl From<LifecycleError> for ApiError {
    fn from(e: LifecycleError) -> Self {
        match e {
            LifecycleError::NotFound(_) => ApiError::NotFound(e.to_string()),
            LifecycleError::Field { field, reason } => ApiError::Invalid { field, reason },
            LifecycleError::Conflict(c) => ApiError::Conflict(c),
            LifecycleError::Port(p) => p.into(),
        }
    }
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::UnknownCustomer(_) | ExportError::UnknownRequest(_) => {
                ApiError::NotFound(e.to_string())
            }
            ExportError::Purged | ExportError::PastDeadline => ApiError::Gone(e.to_string()),
            ExportError::TooMany { .. } => ApiError::TooMany(e.to_string()),
            ExportError::Port(p) => p.into(),
            other => ApiError::Unexpected(other.into()),
        }
    }
}

impl From<PreviewError> for ApiError {
    fn from(e: PreviewError) -> Self {
        match e {
            PreviewError::UnknownCampaign(_) | PreviewError::UnknownCustomer(_) => {
                ApiError::NotFound(e.to_string())
            }
            PreviewError::Purged(_) => ApiError::Gone(e.to_string()),
            PreviewError::NotPlanned { .. } => ApiError::Invalid {
                field: "milestone".into(),
                reason: e.to_string(),
            },
            PreviewError::NotOnChannel(_) | PreviewError::NoMobile(_) => ApiError::Invalid {
                field: "channel".into(),
                reason: e.to_string(),
            },
            PreviewError::Port(p) => p.into(),
            PreviewError::Render(r) => ApiError::Unexpected(r.into()),
        }
    }
}

impl From<EventError> for ApiError {
    fn from(e: EventError) -> Self {
        match e {
            EventError::UnknownCustomer(_) => ApiError::NotFound(e.to_string()),
            EventError::Purged(_) => ApiError::Gone(e.to_string()),
            EventError::ExtensionTooEarly { .. } => ApiError::Invalid {
                field: "detail".into(),
                reason: e.to_string(),
            },
            EventError::Export(x) => x.into(),
            EventError::Outreach(o) => o.into(),
            EventError::Port(p) => p.into(),
        }
    }
}

impl From<OutreachError> for ApiError {
    fn from(e: OutreachError) -> Self {
        match e {
            OutreachError::NoTask(_) => ApiError::NotFound(e.to_string()),
            OutreachError::Refused(r) => ApiError::Invalid {
                field: r.field.into(),
                reason: r.reason,
            },
            OutreachError::Contended => ApiError::Conflict(e.to_string()),
            OutreachError::Port(p) => p.into(),
        }
    }
}

impl From<StatusError> for ApiError {
    fn from(e: StatusError) -> Self {
        match e {
            StatusError::UnknownCustomer(_) => ApiError::NotFound(e.to_string()),
            StatusError::Purged(_) => ApiError::Gone(e.to_string()),
            StatusError::InTheFuture { .. } => ApiError::Invalid {
                field: "at".into(),
                reason: e.to_string(),
            },
            StatusError::Event(e) => e.into(),
        }
    }
}

impl From<LinkError> for ApiError {
    fn from(e: LinkError) -> Self {
        match e {
            // A function wired without the key: the deployment's fault, not
            // the customer's link.
            LinkError::NoKey => ApiError::Unexpected(e.into()),
            _ => ApiError::Forbidden(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, title) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad request"),
            ApiError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid field"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Gone(_) => (StatusCode::GONE, "gone"),
            ApiError::TooMany(_) => (StatusCode::TOO_MANY_REQUESTS, "too many requests"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Signature(_) => (StatusCode::UNAUTHORIZED, "bad signature"),
            ApiError::Preflight(_) => (StatusCode::UNPROCESSABLE_ENTITY, "preflight failed"),
            ApiError::Unavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable")
            }
            ApiError::Unexpected(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
            ApiError::Rejected { status, .. } => {
                (*status, status.canonical_reason().unwrap_or("refused"))
            }
        };
        let detail = match &self {
            ApiError::Unexpected(e) => {
                tracing::error!(error = %format!("{e:#}"), "request failed");
                "something went wrong on our side; it has been logged".to_owned()
            }
            ApiError::Unavailable(e) => {
                tracing::warn!(error = %e, "request failed, retryable");
                "please try again shortly".to_owned()
            }
            other => other.to_string(),
        };
        let field = match &self {
            ApiError::Invalid { field, .. } => Some(field.clone()),
            ApiError::Rejected { field, .. } => field.clone(),
            _ => None,
        };
        let preflight = match self {
            ApiError::Preflight(p) => Some(p),
            _ => None,
        };
        let mut response = (
            status,
            Json(Problem {
                status: status.as_u16(),
                title,
                detail,
                field,
                preflight,
            }),
        )
            .into_response();
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
