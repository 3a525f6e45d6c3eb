//! Applies what happens to a customer: a migration, a decline, a ticket, a
//! legal hold, an extension, an export request.

use chrono::NaiveDate;

use crate::domain::event::{CustomerEvent, CustomerEventKind};
use crate::domain::milestone::{Job, ScheduledJob, purge_time};
use crate::domain::{Campaign, CustomerId, MigrationStatus};
use crate::ports::{Deps, PortError};

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
    Port(#[from] PortError),
}

pub async fn apply(
    deps: &Deps,
    campaign: &Campaign,
    event: &CustomerEvent,
) -> Result<(), EventError> {
    let mut record = deps
        .customers
        .customer(&campaign.id, &event.customer)
        .await?
        .ok_or_else(|| EventError::UnknownCustomer(event.customer.clone()))?;
    if record.purged_at.is_some()
        && !matches!(
            event.kind,
            CustomerEventKind::TicketOpened(_) | CustomerEventKind::TicketResolved(_)
        )
    {
        return Err(EventError::Purged(event.customer.clone()));
    }
    match &event.kind {
        CustomerEventKind::Migrated => {
            record.status = MigrationStatus::Migrated;
            record.status_at = Some(event.at);
        }
        CustomerEventKind::Declined(_) => {
            if record.status != MigrationStatus::Migrated {
                record.status = MigrationStatus::Declined;
                record.status_at = Some(event.at);
            }
        }
        CustomerEventKind::LegalHold(_) => record.legal_hold = true,
        CustomerEventKind::Extension(date) => {
            if *date <= campaign.dates.export_deadline {
                return Err(EventError::ExtensionTooEarly {
                    date: *date,
                    deadline: campaign.dates.export_deadline,
                });
            }
            record.extended_until = Some(record.extended_until.map_or(*date, |d| d.max(*date)));
            deps.scheduler
                .upsert(&ScheduledJob {
                    name: format!("{}.purge.{date}", campaign.id),
                    due: purge_time(campaign, *date),
                    job: Job::Purge {
                        campaign: campaign.id.clone(),
                    },
                })
                .await?;
        }
        CustomerEventKind::ExportRequested => {
            export::request_export(deps, campaign, &event.customer, event.at).await?;
        }
        CustomerEventKind::TicketOpened(_) | CustomerEventKind::TicketResolved(_) => {}
    }
    if !matches!(
        event.kind,
        CustomerEventKind::TicketOpened(_)
            | CustomerEventKind::TicketResolved(_)
            | CustomerEventKind::ExportRequested
    ) {
        deps.customers.update_state(&campaign.id, &record).await?;
    }
    deps.events.record_event(&campaign.id, event).await?;
    tracing::debug!(campaign = %campaign.id, customer = %event.customer, event = event.kind.name(), "event applied");
    Ok(())
}
