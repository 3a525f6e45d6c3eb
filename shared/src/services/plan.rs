//! Puts a campaign's milestones on the scheduler. Safe to run again: jobs
//! are named after what they do, so a new plan moves them.

use std::collections::BTreeSet;

use crate::domain::Campaign;
use crate::domain::event::CustomerEventKind;
use crate::domain::milestone::{self, ScheduledJob};
use crate::ports::{CustomerStore, EventLog, PortResult, Scheduler};

pub async fn plan(
    campaign: &Campaign,
    customers: &dyn CustomerStore,
    events: &dyn EventLog,
    scheduler: &dyn Scheduler,
) -> PortResult<Vec<ScheduledJob>> {
    let mut zones = customers.zones(&campaign.id).await?;
    if zones.is_empty() {
        zones.push(campaign.timezone);
    }
    let extensions: BTreeSet<_> = events
        .events(&campaign.id)
        .await?
        .into_iter()
        .filter_map(|e| match e.kind {
            CustomerEventKind::Extension(d) => Some(d),
            _ => None,
        })
        .collect();
    let jobs = milestone::plan(campaign, &zones, &extensions);
    for job in &jobs {
        scheduler.upsert(job).await?;
    }
    tracing::info!(campaign = %campaign.id, jobs = jobs.len(), zones = zones.len(), "planned");
    Ok(jobs)
}
