//! The announcement for customers who joined after it went out in their
//! zone (a late import: `late_import::admit_late` schedules this).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::DispatchError;
use super::send::send_notices;
use crate::domain::milestone::{local_instant, milestone_date};
use crate::domain::{Campaign, CustomerId, Milestone};
use crate::ports::Deps;
use crate::services::outreach::Gate;

/// What a catch-up sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CatchUpReport {
    pub sent: u64,
    /// Sent by an earlier run: not sent again.
    pub already_sent: u64,
    /// Not due it (the announcement has not gone out in their zone yet, so
    /// the wave will reach them), purged, or not segmented.
    pub skipped: u64,
    /// Core customers whose account manager has not told them yet: held,
    /// as the announcement wave holds them, and caught up when the call is
    /// recorded or the hold ends.
    pub outreach_held: u64,
}

/// Sends the announcement to these late joiners. Each message claims its
/// ledger entry first, like a wave's, so running the job again sends
/// nothing twice; a claim another run holds is sent by whichever run gets
/// it once that lease ends (the job is retried until none is held).
pub async fn catch_up(
    deps: &Deps,
    campaign: &Campaign,
    ids: &[CustomerId],
    now: DateTime<Utc>,
) -> Result<CatchUpReport, DispatchError> {
    let milestone = Milestone::Announcement;
    let day = milestone_date(campaign, milestone).expect("the announcement has a date");
    let mut report = CatchUpReport::default();
    let mut due = Vec::with_capacity(ids.len());
    for id in ids {
        let record = deps.customers.customer(&campaign.id, id).await?;
        match record {
            Some(r)
                if r.profile.is_some()
                    && r.tier.is_some()
                    && r.purged_at.is_none()
                    && now >= local_instant(day, campaign.send_time(), r.zone) =>
            {
                due.push(r)
            }
            _ => report.skipped += 1,
        }
    }
    // A core customer imported after the announcement must not learn of
    // it from a mass notice either (the guide's step 2).
    let due = match Gate::for_wave(deps, campaign, milestone).await? {
        Some(mut gate) => {
            let gated = gate.filter(deps, campaign, due, now).await?;
            report.outreach_held = gated.held;
            gated.records
        }
        None => due,
    };
    let chunk = send_notices(deps, campaign, milestone, &due, now).await?;
    report.sent = chunk.sent;
    report.already_sent = chunk.already_sent;
    if let Some(until) = chunk.deferred_until {
        return Err(DispatchError::Deferred(until));
    }
    if let Some(until) = chunk.held_until {
        return Err(DispatchError::Held(until));
    }
    tracing::info!(campaign = %campaign.id, sent = report.sent, already = report.already_sent, skipped = report.skipped, held = report.outreach_held, "late joiners caught up");
    Ok(report)
}
