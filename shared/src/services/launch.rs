//! Launching a campaign: segment, check everything the seed's preparation
//! checklist asks (preflight), then plan the schedule.

use chrono::{DateTime, NaiveTime, Utc};
use serde::Serialize;

use crate::domain::Campaign;
use crate::domain::audit::AuditEntry;
use crate::domain::milestone::{ScheduledJob, local_instant};
use crate::ports::{Deps, PortError};

use super::preflight;
pub use super::preflight::Preflight;
use super::segment::{self, SegmentSummary};

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("campaign field `{field}`: {reason}")]
    TooLate { field: &'static str, reason: String },
    #[error("campaign {0} was cancelled; it is not launched again")]
    Cancelled(crate::domain::CampaignId),
    #[error("preflight failed: {}", .0.failures().join("; "))]
    Preflight(Preflight),
    #[error(transparent)]
    Port(#[from] PortError),
}

#[derive(Debug, Clone, Serialize)]
pub struct LaunchReport {
    pub tiers: SegmentSummary,
    pub preflight: Preflight,
    /// The operator's decision to launch though items failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overridden: Option<Override>,
    pub jobs: Vec<ScheduledJob>,
}

/// The operator's decision to launch though preflight items fail: who and
/// why, kept in the audit trail with the items it overrode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Override {
    pub by: String,
    pub reason: String,
}

/// How late a first launch may come: on the announcement day or the day
/// after (the announcement then goes out at once). Later, customers would
/// get less notice than the dates promise and the countdown would be cut
/// short: the operator moves the dates instead.
pub const LAUNCH_GRACE_DAYS: u64 = 1;

/// Refuses a first launch after the announcement day's grace has passed
/// (in the campaign's zone).
fn check_not_late(campaign: &Campaign, now: DateTime<Utc>) -> Result<(), LaunchError> {
    let last_day = campaign.dates.announce + chrono::Days::new(LAUNCH_GRACE_DAYS);
    let closes = local_instant(
        last_day + chrono::Days::new(1),
        NaiveTime::MIN,
        campaign.timezone,
    );
    if now < closes {
        return Ok(());
    }
    let today = now.with_timezone(&campaign.timezone).date_naive();
    Err(LaunchError::TooLate {
        field: "dates.announce",
        reason: format!(
            "the announcement day {} is {} days past (today is {today}); a first launch may come \
             at most {LAUNCH_GRACE_DAYS} day after it. Move the dates so that customers get the \
             notice period they are promised",
            campaign.dates.announce,
            (today - campaign.dates.announce).num_days()
        ),
    })
}

/// Segments, checks and plans the campaign. Safe to repeat: a campaign
/// launched before is planned again (a late import, a revived job); only
/// a first launch after the announcement's grace is refused.
pub async fn launch(deps: &Deps, campaign: &Campaign) -> Result<LaunchReport, LaunchError> {
    launch_overriding(deps, campaign, None).await
}

/// `launch`, going ahead though preflight items fail when the operator
/// says so (`overriding`): who and why are audited with the items.
pub async fn launch_overriding(
    deps: &Deps,
    campaign: &Campaign,
    overriding: Option<Override>,
) -> Result<LaunchReport, LaunchError> {
    let now = deps.clock.now();
    let status = deps
        .campaigns
        .status(&campaign.id)
        .await?
        .unwrap_or_default();
    if status.cancelled.is_some() {
        return Err(LaunchError::Cancelled(campaign.id.clone()));
    }
    if status.launched_at.is_none() {
        check_not_late(campaign, now)?;
    }
    let tiers =
        segment::segment(campaign, deps.customers.as_ref(), deps.audit.as_ref(), now).await?;
    let preflight = preflight::preflight(deps, campaign, now).await?;
    let failing: Vec<&str> = preflight.failing().map(|c| c.item).collect();
    let overridden = match overriding {
        _ if failing.is_empty() => None,
        None => return Err(LaunchError::Preflight(preflight)),
        Some(o) => {
            deps.audit
                .append(AuditEntry {
                    at: now,
                    campaign: campaign.id.clone(),
                    customer: None,
                    action: "preflight-overridden".into(),
                    detail: serde_json::json!({
                        "by": o.by,
                        "reason": o.reason,
                        "items": failing,
                    }),
                })
                .await?;
            tracing::warn!(campaign = %campaign.id, items = ?failing, "launched over failing preflight items");
            Some(o)
        }
    };
    let jobs = super::plan::replan(
        deps,
        super::plan::PlanFor {
            campaign,
            before: None,
            notices: true,
            revive: true,
            now,
        },
    )
    .await?
    .jobs;
    super::outreach::open_tasks(deps, campaign, now).await?;
    deps.campaigns.mark_launched(&campaign.id, now).await?;
    Ok(LaunchReport {
        tiers,
        preflight,
        overridden,
        jobs,
    })
}
