//! Puts a campaign's milestones on the scheduler, and moves them when the
//! campaign changes. Safe to run again: jobs are named after what they do,
//! so a new plan updates a schedule instead of adding a second one, and
//! the planned jobs a new plan no longer has are deleted.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::event::CustomerEventKind;
use crate::domain::milestone::{self, ScheduledJob};
use crate::domain::schedule::schedule_name;
use crate::domain::{Campaign, Job};
use crate::ports::{CustomerStore, Deps, EventLog, PortResult};

/// What planning did to the campaign's schedules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Replanned {
    /// Every job of the plan, in the order they are due.
    pub jobs: Vec<ScheduledJob>,
    /// Schedules created.
    pub added: usize,
    /// Schedules whose time (or payload) changed.
    pub moved: usize,
    /// Schedules already as planned.
    pub unchanged: usize,
    /// Planned jobs already run before this plan (due in the past under
    /// the old plan as under the new): left alone.
    pub past: usize,
    /// Schedules of the old plan the new one does not have, deleted.
    pub removed: usize,
}

/// What a plan is made for.
pub struct PlanFor<'a> {
    pub campaign: &'a Campaign,
    /// The campaign as it was planned before (a change of dates): a job
    /// due in the past under both plans has run and is not run again.
    pub before: Option<&'a Campaign>,
    /// Whether notices are planned (not for a cancelled campaign: only
    /// its purge).
    pub notices: bool,
    /// Whether schedules already as planned are written again: a launch
    /// does, which revives a job the embedded runner gave up on.
    pub revive: bool,
    pub now: DateTime<Utc>,
}

/// Where the campaign's customers live and the deadlines extended so far:
/// what its plan depends on besides the campaign itself.
struct Inputs {
    zones: Vec<chrono_tz::Tz>,
    extensions: BTreeSet<chrono::NaiveDate>,
}

async fn inputs(
    campaign: &Campaign,
    customers: &dyn CustomerStore,
    events: &dyn EventLog,
) -> PortResult<Inputs> {
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
    Ok(Inputs { zones, extensions })
}

/// Whether a scheduled job is one the plan makes (and so one a new plan
/// may move or delete), rather than one a run scheduled for itself (an
/// export, a catch-up, a purge's next batch, a job again after a
/// deferral). A wave's continuation belongs to its wave: it goes when
/// the plan no longer has that notice.
fn planned_kind(job: &ScheduledJob, campaign: &Campaign, notices: &BTreeSet<String>) -> bool {
    let id = campaign.id.as_str();
    match &job.job {
        Job::OutreachBriefs { .. } => job.name == schedule_name(&format!("{id}.outreach-brief")),
        Job::OutreachReminders { .. } => {
            job.name == schedule_name(&format!("{id}.outreach-reminder"))
        }
        Job::Notice {
            resume: None,
            milestone,
            timezone,
            ..
        } => {
            job.name
                == schedule_name(&milestone::notice_job_name(
                    &campaign.id,
                    *milestone,
                    *timezone,
                ))
        }
        Job::Notice {
            resume: Some(_),
            milestone,
            ..
        } => !notices.contains(&milestone.name()),
        Job::Purge { .. } => {
            job.name.starts_with(&format!("{id}.purge."))
                && !job.name.starts_with(&format!("{id}.purge.at."))
        }
        _ => false,
    }
}

/// Brings the scheduler to the campaign's plan: creates what is missing,
/// moves what changed, deletes planned jobs the plan no longer has. Run
/// twice with the same campaign, the second run changes nothing.
pub async fn replan(deps: &Deps, target: PlanFor<'_>) -> PortResult<Replanned> {
    let campaign = target.campaign;
    let given = inputs(campaign, deps.customers.as_ref(), deps.events.as_ref()).await?;
    let mut jobs = milestone::plan(campaign, &given.zones, &given.extensions);
    if !target.notices {
        jobs.retain(|j| !j.job.tells());
    }
    let before: BTreeMap<String, DateTime<Utc>> = match target.before {
        Some(old) => milestone::plan(old, &given.zones, &given.extensions)
            .into_iter()
            .map(|j| (j.name, j.due))
            .collect(),
        None => BTreeMap::new(),
    };
    let current: BTreeMap<String, ScheduledJob> = deps
        .scheduler
        .scheduled(&campaign.id)
        .await?
        .into_iter()
        .map(|j| (schedule_name(&j.name), j))
        .collect();
    let mut out = Replanned::default();
    let mut wanted = BTreeSet::new();
    for job in &jobs {
        let name = schedule_name(&job.name);
        wanted.insert(name.clone());
        match current.get(&name) {
            Some(existing)
                if existing.due == job.due && existing.job == job.job && !target.revive =>
            {
                out.unchanged += 1
            }
            Some(_) => {
                deps.scheduler.upsert(job).await?;
                out.moved += 1;
            }
            None if job.due <= target.now
                && before.get(&job.name).is_some_and(|due| *due <= target.now) =>
            {
                out.past += 1
            }
            None => {
                deps.scheduler.upsert(job).await?;
                out.added += 1;
            }
        }
    }
    let notices: BTreeSet<String> = if target.notices {
        campaign.notices().iter().map(|m| m.name()).collect()
    } else {
        BTreeSet::new()
    };
    for (name, job) in &current {
        if !wanted.contains(name) && planned_kind(job, campaign, &notices) {
            deps.scheduler.cancel(&campaign.id, name).await?;
            out.removed += 1;
        }
    }
    tracing::info!(
        campaign = %campaign.id,
        jobs = jobs.len(),
        added = out.added,
        moved = out.moved,
        unchanged = out.unchanged,
        removed = out.removed,
        "planned"
    );
    out.jobs = jobs;
    Ok(out)
}
