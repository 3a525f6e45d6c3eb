//! Purges customers whose export deadline has passed, invoked by the schedule the day after each deadline,
//! and tells each one their data was deleted (the farewell, by e-mail).

use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use sunset::domain::Job;
use sunset::ports::Deps;

/// What this function wires (erasing bundles and product data, follow-up
/// purges, the farewell mail, whose help section carries the customer's
/// signed link like every notice); the rest is unwired.
pub const NEEDS: sunset::adapters::aws::Needs = sunset::adapters::aws::Needs {
    s3: true,
    ses: true,
    sns: false,
    scheduler: true,
    link_key: true,
};

/// Whether this function runs `job`.
pub fn accepts(job: &Job) -> bool {
    matches!(job, Job::Purge { .. })
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let budget = sunset::services::jobs::Budget::invocation(event.context.deadline);
    Ok(sunset::services::jobs::handle_payload(deps, event.payload, &budget, accepts).await?)
}
