//! What the retiring product reports: which customers have moved to an
//! alternative. A migrated customer gets no more reminders, is counted in
//! the report and keeps their data until the deadline like everyone else.
//!
//! Every report is idempotent: a customer already migrated is left as they
//! are (no second event, no new time), so the product may resend a batch
//! after a timeout, and a signed request replayed within its window
//! changes nothing.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::event::{CustomerEvent, CustomerEventKind};
use crate::domain::{Campaign, CustomerId, CustomerRecord, MigrationStatus};
use crate::ports::{Deps, PortError};

use super::events::{self, EventError};

/// Most reports in one bulk call: one request's worth of reads.
pub const BULK_LIMIT: usize = 1000;

/// Customers read at once while checking a bulk report.
const READS_IN_FLIGHT: usize = 16;

/// How far ahead of sunset's clock the product's may run: a migration
/// "at" a moment a little ahead is taken as now.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// One customer the product says has migrated, and when (now when it does
/// not say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    pub customer: CustomerId,
    pub at: Option<DateTime<Utc>>,
}

/// What a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The customer is now migrated.
    Recorded,
    /// They already were (or appear earlier in the same batch).
    Unchanged,
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("no customer {0} in this campaign")]
    UnknownCustomer(CustomerId),
    #[error("customer {0} has been purged")]
    Purged(CustomerId),
    #[error("{at} is in the future")]
    InTheFuture { at: DateTime<Utc> },
    #[error(transparent)]
    Event(EventError),
}

/// Records each report; one outcome or refusal per report, in order. `Err`
/// only when the store failed (then nothing of this call was recorded).
pub async fn record(
    deps: &Deps,
    campaign: &Campaign,
    reports: &[Migrated],
    now: DateTime<Utc>,
) -> Result<Vec<Result<Outcome, StatusError>>, PortError> {
    let mut records: Vec<Option<CustomerRecord>> = Vec::with_capacity(reports.len());
    for chunk in reports.chunks(READS_IN_FLIGHT) {
        let reads: Vec<_> = chunk
            .iter()
            .map(|r| deps.customers.customer(&campaign.id, &r.customer))
            .collect();
        records.extend(futures::future::try_join_all(reads).await?);
    }
    let mut outcomes = Vec::with_capacity(reports.len());
    let mut to_apply = Vec::new();
    let mut applied_at = Vec::new();
    let mut states = HashMap::new();
    let mut seen = HashSet::new();
    for (i, (report, record)) in reports.iter().zip(records).enumerate() {
        outcomes.push(match (record, report.at) {
            (_, Some(at)) if at > now + CLOCK_SKEW => Err(StatusError::InTheFuture { at }),
            (None, _) => Err(StatusError::UnknownCustomer(report.customer.clone())),
            (Some(r), _) if r.purged_at.is_some() => {
                Err(StatusError::Purged(report.customer.clone()))
            }
            (Some(r), _) if r.status == MigrationStatus::Migrated => Ok(Outcome::Unchanged),
            (Some(_), _) if !seen.insert(report.customer.clone()) => Ok(Outcome::Unchanged),
            (Some(r), at) => {
                to_apply.push(CustomerEvent {
                    at: at.map_or(now, |at| at.min(now)),
                    customer: report.customer.clone(),
                    kind: CustomerEventKind::Migrated,
                });
                applied_at.push(i);
                states.insert(r.id.clone(), r);
                Ok(Outcome::Recorded)
            }
        });
    }
    if !to_apply.is_empty() {
        let applied = events::apply_all_to(deps, campaign, &to_apply, states).await?;
        for (j, e) in applied.refused {
            outcomes[applied_at[j]] = Err(StatusError::Event(e));
        }
        // Migrated by another report at the same time: not twice.
        for j in applied.already {
            outcomes[applied_at[j]] = Ok(Outcome::Unchanged);
        }
    }
    let recorded = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Outcome::Recorded)))
        .count();
    tracing::info!(campaign = %campaign.id, reports = reports.len(), recorded, "migration status reported");
    Ok(outcomes)
}
