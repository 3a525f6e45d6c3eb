//! Records what SES says happened to sent messages: its events, through the
//! configuration set's EventBridge destination and a rule that invokes
//! this function with each one.

use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use sunset::ports::Deps;
use sunset::services::delivery_events::{self, EventsError};

/// What this function wires (recording SES's events, its suppression list); the rest is unwired.
pub const NEEDS: sunset::adapters::aws::Needs = sunset::adapters::aws::Needs {
    s3: false,
    ses: true,
    sns: false,
    scheduler: false,
    link_key: false,
};

/// `Err` only for failures worth retrying (EventBridge and Lambda try
/// again); an event that cannot be read is logged and answered
/// `status: rejected`, since retrying cannot help.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, Error> {
    match delivery_events::record_json(deps, &event.payload).await {
        Ok(recorded) => Ok(serde_json::to_value(recorded)?),
        Err(e @ EventsError::Port(_)) if e.retryable() => {
            tracing::warn!(error = %e, "delivery event not recorded; will be retried");
            Err(e.into())
        }
        Err(e) => {
            tracing::error!(error = %e, "delivery event not recorded; not retrying");
            Ok(serde_json::json!({ "status": "rejected", "reason": e.to_string() }))
        }
    }
}
