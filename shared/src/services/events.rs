//! Applies what happens to a customer: a migration, a decline, a ticket, a
//! legal hold, an extension, an export request.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::domain::event::{CustomerEvent, CustomerEventKind};
use crate::domain::milestone::{Job, ScheduledJob, day_ends_everywhere};
use crate::domain::outreach::{OutreachChange, OutreachState};
use crate::domain::{Campaign, CustomerId, CustomerRecord, MigrationStatus};
use crate::ports::{Deps, PortError};

use super::deadline;
use super::export::{self, ExportError};

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("no customer {0} in this campaign")]
    UnknownCustomer(CustomerId),
    #[error("customer {0} has been purged")]
    Purged(CustomerId),
    #[error("the extension {date} is not after the export deadline {deadline}")]
    ExtensionTooEarly {
        date: NaiveDate,
        deadline: NaiveDate,
    },
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Outreach(#[from] super::outreach::OutreachError),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Days a customer gets to take their data when a legal hold on it is
/// released after their last day.
pub const HOLD_RELEASE_GRACE_DAYS: u64 = 30;

/// A purge run for customers whose last day is `day`, once it has ended
/// everywhere (other customers may share the date from other zones).
async fn schedule_purge(deps: &Deps, campaign: &Campaign, day: NaiveDate) -> Result<(), PortError> {
    deps.scheduler
        .upsert(&ScheduledJob {
            name: format!("{}.purge.{day}", campaign.id),
            due: day_ends_everywhere(day),
            job: Job::Purge {
                campaign: campaign.id.clone(),
            },
        })
        .await
}

/// An outreach event from the events file or route: the account team's.
async fn outreach_update(
    deps: &Deps,
    campaign: &Campaign,
    event: &CustomerEvent,
    change: &OutreachChange,
) -> Result<(), EventError> {
    match super::outreach::update(
        deps,
        campaign,
        &event.customer,
        change,
        "account team",
        event.at,
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(super::outreach::OutreachError::Port(p)) => Err(EventError::Port(p)),
        Err(e) => Err(e.into()),
    }
}

/// Applies one event.
pub async fn apply(
    deps: &Deps,
    campaign: &Campaign,
    event: &CustomerEvent,
) -> Result<(), EventError> {
    match apply_all(deps, campaign, std::slice::from_ref(event))
        .await?
        .pop()
    {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// Applies events in order and records them in one write; returns the
/// index and error of each event that could not apply (the others stand).
/// `Err` only when recording itself failed.
pub async fn apply_all(
    deps: &Deps,
    campaign: &Campaign,
    events: &[CustomerEvent],
) -> Result<Vec<(usize, EventError)>, PortError> {
    Ok(apply_all_to(deps, campaign, events, HashMap::new())
        .await?
        .refused)
}

/// What applying events did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Each event that could not apply, by index, and why.
    pub refused: Vec<(usize, EventError)>,
    /// The migrations not recorded, by index: the customer had migrated
    /// by the time they were written (another call's, at the same time).
    pub already: Vec<usize>,
}

/// As [`apply_all`], to customers some of whom the caller has just read
/// (`states`): they are not read again.
pub async fn apply_all_to(
    deps: &Deps,
    campaign: &Campaign,
    events: &[CustomerEvent],
    mut states: HashMap<CustomerId, CustomerRecord>,
) -> Result<Applied, PortError> {
    let mut records = Vec::with_capacity(events.len());
    let mut applied = Vec::with_capacity(events.len());
    let mut refused = Vec::new();
    for (i, event) in events.iter().enumerate() {
        match apply_one(deps, campaign, event, &mut states).await {
            Ok(changed) => {
                records.push((event.clone(), changed));
                applied.push(i);
            }
            Err(EventError::Port(e)) => return Err(e),
            Err(e) => refused.push((i, e)),
        }
    }
    let already: Vec<usize> = deps
        .events
        .record_events(&campaign.id, &records)
        .await?
        .into_iter()
        .map(|r| applied[r])
        .collect();
    tracing::debug!(campaign = %campaign.id, applied = records.len() - already.len(), refused = refused.len(), already = already.len(), "events applied");
    Ok(Applied { refused, already })
}

/// The new state an event leads to (`None` if it changes no state), with
/// its side effects on the schedule and exports.
async fn apply_one(
    deps: &Deps,
    campaign: &Campaign,
    event: &CustomerEvent,
    states: &mut HashMap<CustomerId, CustomerRecord>,
) -> Result<Option<CustomerRecord>, EventError> {
    let mut record = match states.get(&event.customer) {
        Some(r) => r.clone(),
        None => deps
            .customers
            .customer(&campaign.id, &event.customer)
            .await?
            .ok_or_else(|| EventError::UnknownCustomer(event.customer.clone()))?,
    };
    let is_ticket = matches!(
        event.kind,
        CustomerEventKind::TicketOpened(_) | CustomerEventKind::TicketResolved(_)
    );
    if record.purged_at.is_some() && !is_ticket {
        return Err(EventError::Purged(event.customer.clone()));
    }
    match &event.kind {
        CustomerEventKind::Migrated => {
            record.status = MigrationStatus::Migrated;
            record.status_at = Some(event.at);
        }
        CustomerEventKind::ExportDownloaded => {
            // Holding a copy is news only for someone still to move.
            if record.status == MigrationStatus::Pending {
                record.status = MigrationStatus::Exported;
                record.status_at = Some(event.at);
            }
        }
        CustomerEventKind::Declined(_) => {
            if record.status != MigrationStatus::Migrated {
                record.status = MigrationStatus::Declined;
                record.status_at = Some(event.at);
            }
        }
        CustomerEventKind::LegalHold(_) => record.legal_hold = true,
        CustomerEventKind::LegalHoldReleased(_) => {
            record.legal_hold = false;
            // Released after their last day: they get time to take their
            // data before the purge, and are told so.
            if event.at >= record.deadline_ends(campaign.dates.export_deadline) {
                let day = event.at.with_timezone(&record.zone).date_naive()
                    + chrono::Days::new(HOLD_RELEASE_GRACE_DAYS);
                record.extended_until = Some(day);
                schedule_purge(deps, campaign, day).await?;
                deadline::schedule(deps, campaign, &record.id, event.at, day).await?;
            }
        }
        CustomerEventKind::Extension(date) => {
            if *date <= campaign.dates.export_deadline {
                return Err(EventError::ExtensionTooEarly {
                    date: *date,
                    deadline: campaign.dates.export_deadline,
                });
            }
            let before = record.effective_deadline(campaign.dates.export_deadline);
            record.extended_until = Some(record.extended_until.map_or(*date, |d| d.max(*date)));
            schedule_purge(deps, campaign, *date).await?;
            // Told, with links valid to the new day (a later day only).
            if *date > before {
                deadline::schedule(deps, campaign, &record.id, event.at, *date).await?;
            }
        }
        CustomerEventKind::ApprovePurge(_) => {
            record.purge_without_notice = true;
            // Past their deadline, the purge that held them has run: one
            // more runs now for them.
            if event.at >= record.deadline_ends(campaign.dates.export_deadline) {
                deps.scheduler
                    .upsert(&ScheduledJob {
                        name: format!("{}.purge.approved.{}", campaign.id, record.id),
                        due: event.at,
                        job: Job::Purge {
                            campaign: campaign.id.clone(),
                        },
                    })
                    .await?;
            }
        }
        CustomerEventKind::ExportRequested => {
            export::request_export(deps, campaign, &event.customer, event.at).await?;
            return Ok(None);
        }
        CustomerEventKind::TicketOpened(_) | CustomerEventKind::TicketResolved(_) => {
            return Ok(None);
        }
        CustomerEventKind::OutreachDone(note) => {
            let change = OutreachChange {
                state: Some(OutreachState::Done),
                note: (!note.is_empty()).then(|| note.clone()),
                ..Default::default()
            };
            outreach_update(deps, campaign, event, &change).await?;
            return Ok(None);
        }
        CustomerEventKind::OutreachScheduled(day) => {
            let change = OutreachChange {
                scheduled_for: Some(*day),
                ..Default::default()
            };
            outreach_update(deps, campaign, event, &change).await?;
            return Ok(None);
        }
    }
    states.insert(record.id.clone(), record.clone());
    Ok(Some(record))
}
