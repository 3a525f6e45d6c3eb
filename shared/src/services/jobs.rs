//! Runs one scheduled job. The embedded scheduler and the Lambda functions
//! fed by EventBridge Scheduler both call this with the job's payload.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{CampaignId, Job};
use crate::ports::{Deps, PortError};

use super::dispatch::{self, BriefReport, DispatchError, WaveReport};
use super::export::{self, ExportError};
use super::purge::{self, PurgeError, PurgeReport};

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("no campaign {0}")]
    UnknownCampaign(CampaignId),
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    #[error(transparent)]
    Export(#[from] ExportError),
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
            JobError::Dispatch(e) => e.retryable(),
            JobError::Export(e) => e.retryable(),
            JobError::Purge(e) => e.retryable(),
            JobError::Port(e) => e.retryable,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum JobOutcome {
    Briefs(BriefReport),
    Wave(WaveReport),
    ExportReady { request: String },
    Purge(PurgeReport),
}

pub async fn run(deps: &Deps, job: &Job, now: DateTime<Utc>) -> Result<JobOutcome, JobError> {
    let id = job.campaign();
    let campaign = deps
        .campaigns
        .campaign(id)
        .await?
        .ok_or_else(|| JobError::UnknownCampaign(id.clone()))?;
    Ok(match job {
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
                *milestone,
                *timezone,
                now,
                deps.customers.as_ref(),
                deps.ledger.as_ref(),
                deps.mailer.as_ref(),
                &deps.signer,
            )
            .await?,
        ),
        Job::BuildExport { request, .. } => {
            let r = export::build_export(deps, &campaign, request, now).await?;
            JobOutcome::ExportReady { request: r.id }
        }
        Job::Purge { .. } => JobOutcome::Purge(purge::purge_due(deps, &campaign, now).await?),
    })
}
