//! The core customers' outreach (the guide's step 2): a task per core
//! customer for their owner, opened at launch; the owner moves it on; a
//! reminder goes to owners with open tasks three days before the
//! announcement; and the announcement waits for a core customer whose
//! task is not done — the task is escalated — for at most
//! `delivery.outreach_hold_days`, then goes anyway: nobody is left untold.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::domain::audit::AuditEntry;
use crate::domain::milestone::{Job, ScheduledJob, local_instant};
use crate::domain::outreach::{OutreachChange, OutreachRefusal, OutreachState, OutreachTask};
use crate::domain::{Campaign, CustomerId, CustomerRecord, Milestone, Tier};
use crate::ports::{Deps, PortError};

/// How often a write that met another is tried again. Writers that lost
/// pause for a random while before reading again, so ten account managers
/// saving notes at the same instant do not collide round after round.
const WRITE_ATTEMPTS: u32 = 12;

/// A random pause, growing with the attempt (up to 5 ms × 2⁶), before a
/// write that lost to another is tried again.
async fn after_contention(attempt: u32) {
    use rand::Rng;
    let ceiling_ms = 5u64 << attempt.min(6);
    let pause = rand::rng().random_range(0..=ceiling_ms);
    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
}

#[derive(Debug, thiserror::Error)]
pub enum OutreachError {
    #[error("customer {0} has no outreach task (only core customers have one)")]
    NoTask(CustomerId),
    #[error(transparent)]
    Refused(#[from] OutreachRefusal),
    #[error("the task kept changing under this write; try again")]
    Contended,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Opens a task for every live core customer who has none (at launch, and
/// when a late import brings core customers); returns how many were new.
pub async fn open_tasks(
    deps: &Deps,
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> Result<u64, PortError> {
    let mut added = 0;
    let mut pages = super::paging::Pages::new(1000);
    while let Some(page) = pages.next(deps.customers.as_ref(), &campaign.id).await? {
        let core = page
            .iter()
            .filter(|r| r.tier.as_ref().is_some_and(|t| t.tier == Tier::Core));
        added += open_tasks_for(deps, campaign, core, now).await?;
    }
    Ok(added)
}

/// Opens a task for each of these core customers who has none (a late
/// import's newcomers).
pub async fn open_tasks_for<'a>(
    deps: &Deps,
    campaign: &Campaign,
    core: impl Iterator<Item = &'a CustomerRecord>,
    now: DateTime<Utc>,
) -> Result<u64, PortError> {
    let tasks: Vec<OutreachTask> = core
        .filter_map(|r| {
            let profile = r.profile.as_ref()?;
            Some(OutreachTask::new(
                campaign.id.clone(),
                r.id.clone(),
                profile.account_manager.clone(),
                now,
            ))
        })
        .collect();
    if tasks.is_empty() {
        return Ok(0);
    }
    let added = deps.outreach.open_tasks(&tasks).await?;
    if added > 0 {
        tracing::info!(campaign = %campaign.id, added, "outreach tasks opened");
    }
    Ok(added)
}

/// The owner's (or the operator's) change to a task, kept against
/// concurrent writes: each write names the revision it read, and one that
/// met another is read and applied again. A task done after its
/// customer's announcement was held sends that announcement now.
pub async fn update(
    deps: &Deps,
    campaign: &Campaign,
    customer: &CustomerId,
    change: &OutreachChange,
    by: &str,
    now: DateTime<Utc>,
) -> Result<OutreachTask, OutreachError> {
    for attempt in 0..WRITE_ATTEMPTS {
        let mut task = deps
            .outreach
            .task(&campaign.id, customer)
            .await?
            .ok_or_else(|| OutreachError::NoTask(customer.clone()))?;
        let was = task.state;
        task.apply(change, by, now)?;
        task.revision += 1;
        if !deps.outreach.update_task(&task).await? {
            after_contention(attempt).await;
            continue;
        }
        deps.audit
            .append(AuditEntry {
                at: now,
                campaign: campaign.id.clone(),
                customer: Some(customer.clone()),
                action: "outreach-updated".into(),
                // States only: the notes are the owner's words, kept on
                // the task, not in the trail.
                detail: serde_json::json!({
                    "from": was.as_str(),
                    "to": task.state.as_str(),
                    "note": change.note.is_some(),
                }),
            })
            .await?;
        if was.is_open() && task.state == OutreachState::Done {
            release(deps, campaign, customer, now).await?;
        }
        return Ok(task);
    }
    Err(OutreachError::Contended)
}

fn release_name(campaign: &Campaign, customer: &CustomerId) -> String {
    format!("{}.outreach-release.{customer}", campaign.id)
}

/// Sends the held announcement to `customer` at `due` (a catch-up: it
/// skips them until the announcement is due in their zone, and sends
/// nothing twice).
async fn schedule_release(
    deps: &Deps,
    campaign: &Campaign,
    customer: &CustomerId,
    due: DateTime<Utc>,
) -> Result<(), PortError> {
    deps.scheduler
        .upsert(&ScheduledJob {
            name: release_name(campaign, customer),
            due,
            job: Job::CatchUp {
                campaign: campaign.id.clone(),
                customers: vec![customer.clone()],
            },
        })
        .await
}

/// The task is done: if the announcement was held for the customer, it
/// goes now (its hold's release moved to now).
async fn release(
    deps: &Deps,
    campaign: &Campaign,
    customer: &CustomerId,
    now: DateTime<Utc>,
) -> Result<(), PortError> {
    let Some(record) = deps.customers.customer(&campaign.id, customer).await? else {
        return Ok(());
    };
    if now >= announced_at(campaign, record.zone) {
        schedule_release(deps, campaign, customer, now).await?;
    }
    Ok(())
}

/// When the announcement goes out in `zone`.
pub fn announced_at(campaign: &Campaign, zone: Tz) -> DateTime<Utc> {
    local_instant(campaign.dates.announce, campaign.send_time(), zone)
}

/// The latest the announcement waits for a core customer in `zone` whose
/// task opened at `opened`: the hold runs from the announcement, or, for
/// a customer imported after it, from when their task opened, so their
/// manager has as long to call them as everyone else's had.
pub fn hold_ends(campaign: &Campaign, zone: Tz, opened: DateTime<Utc>) -> DateTime<Utc> {
    announced_at(campaign, zone).max(opened)
        + chrono::Duration::days(i64::from(campaign.delivery.outreach_hold_days))
}

/// The core customers' tasks, read once by an announcement wave.
pub struct Gate {
    tasks: HashMap<CustomerId, OutreachTask>,
}

/// What the gate did to one page of an announcement wave.
#[derive(Debug, Default)]
pub struct Gated {
    pub records: Vec<CustomerRecord>,
    /// Core customers whose announcement waits for their call.
    pub held: u64,
}

impl Gate {
    /// The gate for an announcement wave or catch-up (`None` for any other
    /// notice, or when the campaign holds nothing).
    pub async fn for_wave(
        deps: &Deps,
        campaign: &Campaign,
        milestone: Milestone,
    ) -> Result<Option<Self>, PortError> {
        if milestone != Milestone::Announcement || campaign.delivery.outreach_hold_days == 0 {
            return Ok(None);
        }
        let tasks = deps.outreach.tasks(&campaign.id).await?;
        Ok(Some(Self {
            tasks: tasks.into_iter().map(|t| (t.customer.clone(), t)).collect(),
        }))
    }

    /// Lets through everyone but core customers whose task is open while
    /// their hold lasts: those are escalated (once, audited) and their
    /// announcement scheduled for when the hold ends.
    pub async fn filter(
        &mut self,
        deps: &Deps,
        campaign: &Campaign,
        records: Vec<CustomerRecord>,
        now: DateTime<Utc>,
    ) -> Result<Gated, PortError> {
        let mut gated = Gated::default();
        for r in records {
            let held_until = self
                .tasks
                .get(&r.id)
                .filter(|task| task.state.is_open())
                .map(|task| hold_ends(campaign, r.zone, task.created_at))
                .filter(|until| now < *until);
            let Some(until) = held_until else {
                gated.records.push(r);
                continue;
            };
            gated.held += 1;
            self.escalate(deps, campaign, &r.id, until, now).await?;
            schedule_release(deps, campaign, &r.id, until).await?;
        }
        if gated.held > 0 {
            tracing::info!(campaign = %campaign.id, held = gated.held, "announcement held for core customers not yet told 1:1");
        }
        Ok(gated)
    }

    async fn escalate(
        &mut self,
        deps: &Deps,
        campaign: &Campaign,
        customer: &CustomerId,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        for attempt in 0..WRITE_ATTEMPTS {
            let Some(mut task) = deps.outreach.task(&campaign.id, customer).await? else {
                return Ok(());
            };
            if !task.escalate(now) {
                self.tasks.insert(customer.clone(), task);
                return Ok(());
            }
            task.revision += 1;
            if deps.outreach.update_task(&task).await? {
                deps.audit
                    .append(AuditEntry {
                        at: now,
                        campaign: campaign.id.clone(),
                        customer: Some(customer.clone()),
                        action: "outreach-escalated".into(),
                        detail: serde_json::json!({
                            "held_until": until,
                        }),
                    })
                    .await?;
                self.tasks.insert(customer.clone(), task);
                return Ok(());
            }
            after_contention(attempt).await;
        }
        Err(PortError::retryable(anyhow::anyhow!(
            "the outreach task kept changing while it was escalated"
        )))
    }
}

/// Every task of the campaign, by customer (the brief and the reminder
/// list each customer's).
pub async fn tasks_by_customer(
    deps: &Deps,
    campaign: &Campaign,
) -> Result<HashMap<CustomerId, OutreachTask>, PortError> {
    Ok(deps
        .outreach
        .tasks(&campaign.id)
        .await?
        .into_iter()
        .map(|t| (t.customer.clone(), t))
        .collect())
}

/// How the core customers heard, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutreachFigures {
    pub core_customers: u64,
    pub todo: u64,
    pub scheduled: u64,
    pub done: u64,
    pub escalated: u64,
    /// Told 1:1 before their announcement was sent (or with it not sent
    /// yet).
    pub told_one_to_one_first: u64,
    /// Their announcement went out, held, before anyone called them.
    pub told_by_held_notice: u64,
}

pub async fn figures(deps: &Deps, campaign: &Campaign) -> Result<OutreachFigures, PortError> {
    let mut f = OutreachFigures::default();
    for task in deps.outreach.tasks(&campaign.id).await? {
        f.core_customers += 1;
        match task.state {
            OutreachState::Todo => f.todo += 1,
            OutreachState::Scheduled => f.scheduled += 1,
            OutreachState::Done => f.done += 1,
            OutreachState::Escalated => f.escalated += 1,
        }
        let announced = deps
            .ledger
            .deliveries_to(&campaign.id, &task.customer)
            .await?
            .into_iter()
            .filter(|d| d.key.milestone == Milestone::Announcement)
            .filter_map(|d| d.sent_at)
            .min();
        match (task.done_at, announced) {
            (Some(done), Some(sent)) if done <= sent => f.told_one_to_one_first += 1,
            (Some(_), None) => f.told_one_to_one_first += 1,
            (_, Some(_)) => f.told_by_held_notice += 1,
            (None, None) => {}
        }
    }
    Ok(f)
}

/// The purge: the notes on purged customers' tasks are the owners' words
/// about them, and go with the rest of their data; the task's states and
/// times stay for the report.
pub async fn scrub_notes(
    deps: &Deps,
    campaign: &Campaign,
    purged: &[CustomerId],
    now: DateTime<Utc>,
) -> Result<(), PortError> {
    let purged: std::collections::HashSet<&CustomerId> = purged.iter().collect();
    for task in deps.outreach.tasks(&campaign.id).await? {
        if !purged.contains(&task.customer) || task.notes.is_empty() {
            continue;
        }
        let mut task = task;
        for attempt in 0..WRITE_ATTEMPTS {
            task.notes.clear();
            task.updated_at = now;
            task.revision += 1;
            if deps.outreach.update_task(&task).await? {
                break;
            }
            after_contention(attempt).await;
            match deps.outreach.task(&campaign.id, &task.customer).await? {
                Some(fresh) => task = fresh,
                None => break,
            }
        }
        if !task.notes.is_empty() {
            return Err(PortError::retryable(anyhow::anyhow!(
                "the outreach task kept changing while its notes were deleted"
            )));
        }
    }
    Ok(())
}
