//! A customer's last day moved — an extension, a legal hold released — and
//! they are told: the new day, and a fresh export link valid to its end
//! where they live. Once per customer and day (the ledger's claim).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::ledger::{DeliveryKey, Recipient};
use crate::domain::milestone::{Job, ScheduledJob};
use crate::domain::{Campaign, CustomerId, Milestone};
use crate::ports::{Deps, PortError};

use super::dispatch::{DispatchError, send_one_claimed};
use super::notice;

#[derive(Debug, thiserror::Error)]
pub enum DeadlineError {
    #[error("no customer {0} in this campaign")]
    UnknownCustomer(CustomerId),
    #[error(transparent)]
    Send(#[from] DispatchError),
    #[error(transparent)]
    Port(#[from] PortError),
}

impl DeadlineError {
    pub fn retryable(&self) -> bool {
        match self {
            DeadlineError::Port(e) => e.retryable,
            DeadlineError::Send(e) => e.retryable(),
            DeadlineError::UnknownCustomer(_) => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadlineReport {
    pub customer: CustomerId,
    /// Whether this run sent it (an earlier one may have).
    pub sent: bool,
}

/// Puts the notice on the calendar, now: it goes out from the job, with the
/// customer's new state (the event that moved the day is stored by then).
pub async fn schedule(
    deps: &Deps,
    campaign: &Campaign,
    customer: &CustomerId,
    at: DateTime<Utc>,
    day: chrono::NaiveDate,
) -> Result<(), PortError> {
    deps.scheduler
        .upsert(&ScheduledJob {
            name: format!("{}.deadline.{customer}.{day}", campaign.id),
            due: at,
            job: Job::DeadlineNotice {
                campaign: campaign.id.clone(),
                customer: customer.clone(),
            },
        })
        .await
}

/// Sends the customer the notice of their current last day, unless it went
/// out already (or they were purged meanwhile: nothing left to tell).
pub async fn send(
    deps: &Deps,
    campaign: &Campaign,
    customer: &CustomerId,
    now: DateTime<Utc>,
) -> Result<DeadlineReport, DeadlineError> {
    let record = deps
        .customers
        .customer(&campaign.id, customer)
        .await?
        .ok_or_else(|| DeadlineError::UnknownCustomer(customer.clone()))?;
    // Purged, or the address bounced or complained: nothing to send.
    let Some(profile) = record
        .mailable()
        .cloned()
        .filter(|_| record.purged_at.is_none())
    else {
        return Ok(DeadlineReport {
            customer: customer.clone(),
            sent: false,
        });
    };
    let day = record.effective_deadline(campaign.dates.export_deadline);
    let mut key = DeliveryKey::once(
        &campaign.id,
        Recipient::Customer(customer.clone()),
        Milestone::Deadline,
    );
    key.occurrence = day.to_string();
    let sent = send_one_claimed(
        deps,
        campaign,
        &profile.email,
        key,
        || notice::render_deadline(campaign, &record, &profile, &deps.signer),
        now,
    )
    .await?;
    if !sent {
        return Ok(DeadlineReport {
            customer: customer.clone(),
            sent: false,
        });
    }
    tracing::info!(campaign = %campaign.id, customer = %customer, %day, "deadline notice sent");
    Ok(DeadlineReport {
        customer: customer.clone(),
        sent: true,
    })
}
