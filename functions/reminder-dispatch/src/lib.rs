//! Sends a milestone's e-mails (briefs, the announcement, reminders, export-ready, late joiners'
//! announcements), invoked by a one-time schedule with the job as its payload.

use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use sunset::domain::Job;
use sunset::ports::Deps;

/// What this function wires (every mail (with signed links), the export builds, continuations); the rest is unwired.
pub const NEEDS: sunset::adapters::aws::Needs = sunset::adapters::aws::Needs {
    s3: true,
    ses: true,
    sns: true,
    scheduler: true,
    link_key: true,
};

/// Whether this function runs `job`.
pub fn accepts(job: &Job) -> bool {
    matches!(
        job,
        Job::OutreachBriefs { .. }
            | Job::OutreachReminders { .. }
            | Job::Notice { .. }
            | Job::BuildExport { .. }
            | Job::DeadlineNotice { .. }
            | Job::CatchUp { .. }
    )
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let budget = sunset::services::jobs::Budget::invocation(event.context.deadline);
    Ok(sunset::services::jobs::handle_payload(deps, event.payload, &budget, accepts).await?)
}
