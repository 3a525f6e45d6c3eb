//! Segments a campaign's customers, runs the preflight and plans the schedule: invoked with `{"job": "segment", "campaign": "..."}` after an import.

use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use sunset::domain::Job;
use sunset::ports::Deps;

/// What this function wires (segmenting, the preflight — a test export of
/// the product's data, SES's word on the sender — and planning the
/// schedule); the rest is unwired.
pub const NEEDS: sunset::adapters::aws::Needs = sunset::adapters::aws::Needs {
    s3: true,
    ses: true,
    sns: false,
    scheduler: true,
    link_key: false,
};

/// Whether this function runs `job`.
pub fn accepts(job: &Job) -> bool {
    matches!(job, Job::Segment { .. })
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let budget = sunset::services::jobs::Budget::invocation(event.context.deadline);
    Ok(sunset::services::jobs::handle_payload(deps, event.payload, &budget, accepts).await?)
}
