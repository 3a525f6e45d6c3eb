//! Runs one scheduled job. The embedded scheduler and the Lambda functions
//! fed by EventBridge Scheduler both call this with the job's payload.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::export::ExportId;
use crate::domain::{CampaignId, Job};
use crate::ports::{Deps, PortError};

use super::deadline::{self, DeadlineError, DeadlineReport};
use super::dispatch::{self, BriefReport, CatchUpReport, DispatchError, WaveReport};
use super::export::{self, ExportError};
use super::launch::{self, LaunchError};
use super::purge::{self, PurgeError, PurgeReport};
use super::segment::SegmentSummary;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("no campaign {0}")]
    UnknownCampaign(CampaignId),
    #[error(transparent)]
    Launch(#[from] LaunchError),
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Deadline(#[from] DeadlineError),
    #[error(transparent)]
    Purge(#[from] PurgeError),
    #[error(transparent)]
    Port(#[from] PortError),
}

impl JobError {
    /// Whether running the same job again may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            JobError::UnknownCampaign(_) => false,
            JobError::Launch(LaunchError::Preflight(_) | LaunchError::TooLate { .. }) => false,
            JobError::Launch(LaunchError::Port(e)) => e.retryable,
            JobError::Dispatch(e) => e.retryable(),
            JobError::Export(e) => e.retryable(),
            JobError::Deadline(e) => e.retryable(),
            JobError::Purge(e) => e.retryable(),
            JobError::Port(e) => e.retryable,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum JobOutcome {
    Launched { tiers: SegmentSummary, jobs: usize },
    Briefs(BriefReport),
    Wave(WaveReport),
    ExportReady { request: ExportId },
    DeadlineNotice(DeadlineReport),
    Purge(PurgeReport),
    CatchUp(CatchUpReport),
}

pub async fn run(deps: &Deps, job: &Job, now: DateTime<Utc>) -> Result<JobOutcome, JobError> {
    let id = job.campaign();
    let campaign = deps
        .campaigns
        .campaign(id)
        .await?
        .ok_or_else(|| JobError::UnknownCampaign(id.clone()))?;
    Ok(match job {
        Job::Segment { .. } => {
            let launched = launch::launch(deps, &campaign).await?;
            JobOutcome::Launched {
                tiers: launched.tiers,
                jobs: launched.jobs.len(),
            }
        }
        Job::OutreachBriefs { .. } => JobOutcome::Briefs(
            dispatch::outreach_briefs(
                &campaign,
                now,
                deps.customers.as_ref(),
                deps.ledger.as_ref(),
                deps.mailer.as_ref(),
            )
            .await?,
        ),
        Job::Notice {
            milestone,
            timezone,
            ..
        } => JobOutcome::Wave(
            dispatch::notice_wave(
                &campaign,
                dispatch::Wave {
                    milestone: *milestone,
                    zone: *timezone,
                    now,
                },
                deps.customers.as_ref(),
                deps.ledger.as_ref(),
                deps.mailer.as_ref(),
                &deps.signer,
            )
            .await?,
        ),
        Job::BuildExport {
            customer, request, ..
        } => {
            let r = export::build_export(deps, &campaign, customer, request, now).await?;
            JobOutcome::ExportReady { request: r.id }
        }
        Job::DeadlineNotice { customer, .. } => {
            JobOutcome::DeadlineNotice(deadline::send(deps, &campaign, customer, now).await?)
        }
        Job::Purge { .. } => JobOutcome::Purge(purge::purge_due(deps, &campaign, now).await?),
        Job::CatchUp { customers, .. } => JobOutcome::CatchUp(
            dispatch::catch_up(
                &campaign,
                customers,
                now,
                deps.customers.as_ref(),
                deps.ledger.as_ref(),
                deps.mailer.as_ref(),
                &deps.signer,
            )
            .await?,
        ),
    })
}

/// What an event function does with its payload: parse it into a job it
/// accepts, run it, and sort failures. `Err` only for failures worth
/// retrying (the runtime and the scheduler's retry policy try again);
/// a bad payload or a permanent failure is logged and answered `Ok` with
/// `status: rejected`, since retrying cannot help.
pub async fn handle_payload(
    deps: &Deps,
    payload: serde_json::Value,
    accepts: impl Fn(&Job) -> bool,
) -> Result<serde_json::Value, JobError> {
    let job: Job = match serde_json::from_value(payload) {
        Ok(job) if accepts(&job) => job,
        Ok(_) => return Ok(rejected("this function does not run that kind of job")),
        Err(e) => {
            tracing::error!(error = %e, "payload is not a job");
            return Ok(rejected("the payload is not a job"));
        }
    };
    match run(deps, &job, deps.clock.now()).await {
        Ok(outcome) => Ok(serde_json::to_value(outcome).unwrap_or_default()),
        Err(e) if e.retryable() => {
            tracing::warn!(campaign = %job.campaign(), error = %e, "job failed; will be retried");
            Err(e)
        }
        Err(e) => {
            tracing::error!(campaign = %job.campaign(), error = %e, "job failed; not retrying");
            Ok(rejected(&e.to_string()))
        }
    }
}

fn rejected(reason: &str) -> serde_json::Value {
    serde_json::json!({ "status": "rejected", "reason": reason })
}
