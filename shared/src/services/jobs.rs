//! Runs one scheduled job. The embedded scheduler and the Lambda functions
//! fed by EventBridge Scheduler both call this with the job's payload.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::export::ExportId;
use crate::domain::{CampaignId, Job, ScheduledJob};
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
    /// When a job whose messages were deferred (a used-up quota) or held
    /// (another run's lease) should run again: not a failure.
    pub fn again_at(&self) -> Option<DateTime<Utc>> {
        match self {
            JobError::Dispatch(e)
            | JobError::Export(ExportError::Send(e))
            | JobError::Deadline(DeadlineError::Send(e)) => e.again_at(),
            _ => None,
        }
    }

    /// Whether running the same job again may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            JobError::UnknownCampaign(_) => false,
            JobError::Launch(
                LaunchError::Preflight(_) | LaunchError::TooLate { .. } | LaunchError::Cancelled(_),
            ) => false,
            JobError::Launch(LaunchError::Port(e)) => e.retryable,
            JobError::Dispatch(e) => e.retryable(),
            JobError::Export(e) => e.retryable(),
            JobError::Deadline(e) => e.retryable(),
            JobError::Purge(e) => e.retryable(),
            JobError::Port(e) => e.retryable,
        }
    }
}

/// How long a run may go on: an invocation's deadline less a margin for
/// what is in flight, or no limit (the embedded runner).
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// When the run should stop taking more work.
    stop_at: Option<std::time::Instant>,
}

impl Budget {
    pub fn unlimited() -> Self {
        Self { stop_at: None }
    }

    /// A run that must be over by `deadline` (wall time, as Lambda gives
    /// it), keeping `margin` for what it has in flight.
    pub fn until(deadline: std::time::SystemTime, margin: std::time::Duration) -> Self {
        let left = deadline
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default()
            .saturating_sub(margin);
        Self::for_next(left)
    }

    /// A Lambda invocation's budget, from its deadline in milliseconds
    /// since the epoch (0, as a test's bare context has: none known),
    /// keeping `SUNSET_STOP_MARGIN_SECONDS` (default 60) for the sends in
    /// flight and the checkpoint.
    pub fn invocation(deadline_ms: u64) -> Self {
        if deadline_ms == 0 {
            return Self::unlimited();
        }
        let margin = std::env::var("SUNSET_STOP_MARGIN_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
        Self::until(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(deadline_ms),
            std::time::Duration::from_secs(margin),
        )
    }

    /// A run that may take work for `left` from now.
    pub fn for_next(left: std::time::Duration) -> Self {
        Self {
            stop_at: Some(std::time::Instant::now() + left),
        }
    }

    /// Whether the run should stop taking work.
    pub fn nearly_up(&self) -> bool {
        self.stop_at.is_some_and(|t| std::time::Instant::now() >= t)
    }

    /// What is left of it (none for an unlimited run).
    pub fn left(&self) -> chrono::Duration {
        self.stop_at.map_or(chrono::Duration::zero(), |t| {
            chrono::Duration::from_std(t.saturating_duration_since(std::time::Instant::now()))
                .unwrap_or(chrono::Duration::zero())
        })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum JobOutcome {
    /// Its messages were deferred or held: the same job runs again then.
    Again {
        at: DateTime<Utc>,
        reason: String,
    },
    Launched {
        tiers: SegmentSummary,
        jobs: usize,
    },
    /// The campaign was cancelled: the job would have told someone, and
    /// did not run.
    Cancelled {
        at: DateTime<Utc>,
    },
    Briefs(BriefReport),
    Wave(WaveReport),
    ExportReady {
        request: ExportId,
    },
    DeadlineNotice(DeadlineReport),
    Purge(PurgeReport),
    CatchUp(CatchUpReport),
}

/// Runs `job` within `budget`. A job whose messages were deferred or held
/// is scheduled again for then (`JobOutcome::Again`).
pub async fn run(
    deps: &Deps,
    job: &Job,
    now: DateTime<Utc>,
    budget: &Budget,
) -> Result<JobOutcome, JobError> {
    match run_once(deps, job, now, budget).await {
        Err(e) => match e.again_at() {
            Some(at) => {
                deps.scheduler.upsert(&again(job, at)?).await?;
                tracing::info!(campaign = %job.campaign(), at = %at, reason = %e, "job runs again later");
                Ok(JobOutcome::Again {
                    at,
                    reason: e.to_string(),
                })
            }
            None => Err(e),
        },
        done => done,
    }
}

/// The job again, under a name derived from it: running it again (or a
/// second delivery doing the same) moves one schedule, never adds two.
fn again(job: &Job, at: DateTime<Utc>) -> Result<ScheduledJob, JobError> {
    use sha2::{Digest, Sha256};
    let payload = serde_json::to_vec(job).map_err(|e| JobError::Port(PortError::permanent(e)))?;
    let hash = hex::encode(&Sha256::digest(&payload)[..8]);
    Ok(ScheduledJob {
        name: format!("{}.again.{hash}", job.campaign()),
        due: at,
        job: job.clone(),
    })
}

async fn run_once(
    deps: &Deps,
    job: &Job,
    now: DateTime<Utc>,
    budget: &Budget,
) -> Result<JobOutcome, JobError> {
    let id = job.campaign();
    let campaign = deps
        .campaigns
        .campaign(id)
        .await?
        .ok_or_else(|| JobError::UnknownCampaign(id.clone()))?;
    if job.tells() {
        if let Some(c) = deps.campaigns.status(id).await?.and_then(|s| s.cancelled) {
            tracing::info!(campaign = %id, "job not run: the campaign was cancelled");
            return Ok(JobOutcome::Cancelled { at: c.at });
        }
    }
    Ok(match job {
        Job::Segment { .. } => {
            let launched = launch::launch(deps, &campaign).await?;
            JobOutcome::Launched {
                tiers: launched.tiers,
                jobs: launched.jobs.len(),
            }
        }
        Job::OutreachBriefs { .. } => JobOutcome::Briefs(
            dispatch::outreach_briefs(deps, &campaign, dispatch::BriefKind::Brief, now).await?,
        ),
        Job::OutreachReminders { .. } => JobOutcome::Briefs(
            dispatch::outreach_briefs(deps, &campaign, dispatch::BriefKind::Reminder, now).await?,
        ),
        Job::Notice {
            milestone,
            timezone,
            resume,
            ..
        } => JobOutcome::Wave(
            dispatch::notice_wave(
                deps,
                &campaign,
                dispatch::Wave {
                    milestone: *milestone,
                    zone: *timezone,
                    now,
                    resume: resume.clone(),
                },
                budget,
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
        Job::CatchUp { customers, .. } => {
            JobOutcome::CatchUp(dispatch::catch_up(deps, &campaign, customers, now).await?)
        }
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
    budget: &Budget,
    accepts: impl Fn(&Job) -> bool,
) -> Result<serde_json::Value, JobError> {
    // The payload is the record the scheduler stored, possibly by an
    // earlier release: read it as the stored version it is.
    let job: Job = match crate::adapters::records::job_from_value(payload) {
        Ok(job) if accepts(&job) => job,
        Ok(_) => return Ok(rejected("this function does not run that kind of job")),
        Err(e) => {
            tracing::error!(error = %e, "payload is not a job");
            return Ok(rejected(&format!(
                "the payload is not a job this build runs: {e}"
            )));
        }
    };
    match run(deps, &job, deps.clock.now(), budget).await {
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
