//! Customers imported into a campaign that is already running: they join
//! the waves still ahead, and the announcement they missed reaches them.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::audit::AuditEntry;
use crate::domain::milestone::{self, Job, ScheduledJob, local_instant, milestone_date};
use crate::domain::{Campaign, CustomerId, CustomerRecord, Milestone};
use crate::ports::{Deps, PortError};

use super::segment::{self, SegmentSummary};

/// What admitting a late import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Admitted {
    pub tiers: SegmentSummary,
    /// Waves planned for zones the campaign had no waves in yet.
    pub jobs_added: usize,
    /// Newcomers whose zone has had its announcement: a catch-up job sends
    /// it to them.
    pub catch_up: usize,
}

/// Customers imported into a campaign already launched join its remaining
/// waves: they are segmented (which puts them in the waves), a zone new to
/// the campaign gets the waves still ahead, and whoever's zone has had the
/// announcement gets it from a catch-up job. Reminders already past are not
/// repeated. Before launch this does nothing: launching segments everyone.
/// The work grows with the newcomers, not with the campaign, so it fits in
/// the import's HTTP request.
pub async fn admit_late(
    deps: &Deps,
    campaign: &Campaign,
    added: &[CustomerRecord],
) -> Result<Option<Admitted>, PortError> {
    if added.is_empty() {
        return Ok(None);
    }
    let scheduled = deps.scheduler.scheduled(&campaign.id).await?;
    if scheduled.is_empty() {
        return Ok(None);
    }
    let mut tiers = SegmentSummary::default();
    for page in added.chunks(1000) {
        let core = page
            .iter()
            .filter(|r| segment::tier_of(campaign, r) == Some(crate::domain::Tier::Core));
        super::outreach::open_tasks_for(deps, campaign, core, deps.clock.now()).await?;
        let page = segment::segment_these(campaign, page.to_vec(), deps.customers.as_ref()).await?;
        tiers.add(&page);
    }
    let jobs_added = plan_new_zones(deps, campaign, added, &scheduled).await?;
    let catch_up = schedule_catch_up(deps, campaign, added).await?;
    deps.audit
        .append(AuditEntry {
            at: deps.clock.now(),
            campaign: campaign.id.clone(),
            customer: None,
            action: "admitted-late".into(),
            detail: serde_json::json!({ "tiers": tiers, "jobs_added": jobs_added, "catch_up": catch_up }),
        })
        .await?;
    tracing::info!(campaign = %campaign.id, core = tiers.core, standard = tiers.standard, low = tiers.low, jobs_added, catch_up, "late import joined the waves");
    Ok(Some(Admitted {
        tiers,
        jobs_added,
        catch_up,
    }))
}

/// Customers imported after the service ended, by the operator's choice
/// (`after_end=purge`), go straight to the purge with no notice: at the
/// campaign's purge if that is still ahead, else now. Returns when it runs.
pub async fn purge_without_notice(
    deps: &Deps,
    campaign: &Campaign,
    imported: usize,
) -> Result<Option<DateTime<Utc>>, PortError> {
    if imported == 0 {
        return Ok(None);
    }
    let now = deps.clock.now();
    let deadline = campaign.dates.export_deadline;
    // Where they live is not known here: the purge for them runs once the
    // deadline has ended everywhere (a run finds each customer due only
    // after their own last day).
    let everywhere = milestone::day_ends_everywhere(deadline);
    let job = if now < everywhere {
        ScheduledJob {
            name: format!("{}.purge.after-end.{deadline}", campaign.id),
            due: everywhere,
            job: Job::Purge {
                campaign: campaign.id.clone(),
            },
        }
    } else {
        ScheduledJob {
            name: format!(
                "{}.purge.after-end.{}",
                campaign.id,
                now.format("%Y%m%dT%H%M%S")
            ),
            due: now,
            job: Job::Purge {
                campaign: campaign.id.clone(),
            },
        }
    };
    deps.scheduler.upsert(&job).await?;
    deps.audit
        .append(AuditEntry {
            at: now,
            campaign: campaign.id.clone(),
            customer: None,
            action: "imported-after-service-end".into(),
            detail: serde_json::json!({ "customers": imported, "purge_at": job.due, "notice": "none" }),
        })
        .await?;
    tracing::info!(campaign = %campaign.id, customers = imported, purge_at = %job.due, "imported after the service ended, straight into the purge");
    Ok(Some(job.due))
}

/// Schedules the waves still ahead in the newcomers' zones that the
/// campaign has no waves in; returns how many. The zones come from the
/// scheduled jobs themselves, not their names (a scheduler may shorten a
/// long name).
async fn plan_new_zones(
    deps: &Deps,
    campaign: &Campaign,
    added: &[CustomerRecord],
    scheduled: &[ScheduledJob],
) -> Result<usize, PortError> {
    let now = deps.clock.now();
    let planned: HashSet<Tz> = scheduled
        .iter()
        .filter_map(|j| match j.job {
            Job::Notice { timezone, .. } => Some(timezone),
            _ => None,
        })
        .collect();
    let mut zones: Vec<Tz> = added
        .iter()
        .map(|r| r.zone)
        .filter(|z| !planned.contains(z))
        .collect();
    zones.sort_by_key(|z| z.name());
    zones.dedup();
    let ahead: Vec<ScheduledJob> = milestone::plan(campaign, &zones, &BTreeSet::new())
        .into_iter()
        .filter(|j| matches!(j.job, Job::Notice { .. }) && j.due > now)
        .collect();
    for job in &ahead {
        deps.scheduler.upsert(job).await?;
    }
    Ok(ahead.len())
}

/// Newcomers per catch-up job: keeps a schedule's payload small.
const CATCH_UP_CHUNK: usize = 50;

/// Schedules, for now, the announcement of the newcomers whose zone has
/// already had it; returns how many.
async fn schedule_catch_up(
    deps: &Deps,
    campaign: &Campaign,
    added: &[CustomerRecord],
) -> Result<usize, PortError> {
    let now = deps.clock.now();
    let announce = milestone_date(campaign, Milestone::Announcement).expect("has a date");
    let late: Vec<CustomerId> = added
        .iter()
        .filter(|r| now >= local_instant(announce, campaign.send_time(), r.zone))
        .map(|r| r.id.clone())
        .collect();
    for chunk in late.chunks(CATCH_UP_CHUNK) {
        let mut h = Sha256::new();
        for id in chunk {
            h.update(id.as_str());
            h.update([0]);
        }
        deps.scheduler
            .upsert(&ScheduledJob {
                name: format!(
                    "{}.catch-up.{}",
                    campaign.id,
                    hex::encode(&h.finalize()[..6])
                ),
                due: now,
                job: Job::CatchUp {
                    campaign: campaign.id.clone(),
                    customers: chunk.to_vec(),
                },
            })
            .await?;
    }
    Ok(late.len())
}
