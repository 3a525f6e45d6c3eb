//! What SES says happened to sent messages (delivered, bounced, marked as
//! spam, opened, clicked), recorded on their ledger entries; a hard bounce
//! or a complaint suppresses the address for good, and a campaign whose
//! bounce or complaint rate passes its limit pauses its remaining waves
//! until the operator resumes them (`resume`).

use serde::Serialize;

use crate::domain::audit::AuditEntry;
use crate::domain::customer::Suppression;
use crate::domain::delivery_event::{
    self, DeliveryEvent, DeliveryEventError, DeliveryOutcome, Parsed,
};
use crate::domain::ledger::Recipient;
use crate::domain::milestone::ScheduledJob;
use crate::domain::reputation::{self, DeliveryCounts, Pause};
use crate::domain::{CampaignId, Job};
use crate::ports::{Deps, OutcomeRecorded, PortError};

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// The event is not one this can read (the field at fault): retrying
    /// cannot help.
    #[error(transparent)]
    Unreadable(#[from] DeliveryEventError),
    #[error(transparent)]
    Port(#[from] PortError),
}

impl EventsError {
    pub fn retryable(&self) -> bool {
        matches!(self, EventsError::Port(e) if e.retryable)
    }
}

/// What one event came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum EventRecorded {
    Recorded {
        outcome: &'static str,
        recorded: OutcomeRecorded,
        /// The address is now suppressed.
        suppressed: bool,
        /// The campaign paused, and why.
        paused: Option<String>,
    },
    /// An event type with no bearing on delivery (a subscription change).
    Ignored { event_type: String },
}

/// Reads and records one SES event (bare, or in EventBridge's envelope).
pub async fn record_json(
    deps: &Deps,
    json: &serde_json::Value,
) -> Result<EventRecorded, EventsError> {
    match delivery_event::parse(json)? {
        Parsed::Ignored { event_type } => Ok(EventRecorded::Ignored { event_type }),
        Parsed::Event(event) => Ok(record(deps, &event).await?),
    }
}

/// Records one event on its message's ledger entry; suppresses and
/// checks the campaign's reputation when it is a hard bounce or a
/// complaint seen for the first time (events come at least once).
pub async fn record(deps: &Deps, event: &DeliveryEvent) -> Result<EventRecorded, PortError> {
    let campaign = &event.key.campaign;
    let recorded = deps
        .ledger
        .record_outcome(&event.key, &event.message_id, event.outcome, event.at)
        .await?;
    let mut result = EventRecorded::Recorded {
        outcome: event.outcome.name(),
        recorded,
        suppressed: false,
        paused: None,
    };
    match recorded {
        OutcomeRecorded::NoSuchMessage => {
            // Not a message this deployment sent: nothing is suppressed on
            // an event that cannot be matched.
            tracing::warn!(campaign = %campaign, milestone = %event.key.milestone, outcome = event.outcome.name(), "delivery event for no message sent");
            return Ok(result);
        }
        OutcomeRecorded::Again => return Ok(result),
        OutcomeRecorded::First => {}
    }
    if !event.outcome.suppresses() {
        return Ok(result);
    }
    if let Recipient::Customer(customer) = &event.key.recipient {
        let suppression = Suppression {
            at: event.at,
            reason: event.outcome.name().to_owned(),
        };
        deps.customers
            .suppress(campaign, customer, &suppression)
            .await?;
    }
    for address in &event.recipients {
        deps.mailer.suppress(address, event.outcome).await?;
    }
    let add = match event.outcome {
        DeliveryOutcome::Complained => DeliveryCounts {
            complaints: 1,
            ..DeliveryCounts::default()
        },
        _ => DeliveryCounts {
            hard_bounces: 1,
            ..DeliveryCounts::default()
        },
    };
    deps.campaigns.count_delivery(campaign, add).await?;
    let paused = guard_reputation(deps, campaign, event).await?;
    tracing::info!(campaign = %campaign, milestone = %event.key.milestone, outcome = event.outcome.name(), "address suppressed");
    if let EventRecorded::Recorded {
        suppressed,
        paused: p,
        ..
    } = &mut result
    {
        *suppressed = true;
        *p = paused;
    }
    Ok(result)
}

/// Pauses the campaign if its rates passed a limit (once: a campaign
/// already paused stays as it is); returns the reason when it paused now.
async fn guard_reputation(
    deps: &Deps,
    campaign: &CampaignId,
    event: &DeliveryEvent,
) -> Result<Option<String>, PortError> {
    let Some(spec) = deps.campaigns.campaign(campaign).await? else {
        return Ok(None);
    };
    let counts = deps.campaigns.delivery_counts(campaign).await?;
    let Some(reason) = reputation::breach(
        counts,
        spec.delivery.max_bounce_rate,
        spec.delivery.max_complaint_rate,
    ) else {
        return Ok(None);
    };
    if deps.campaigns.paused(campaign).await?.is_some() {
        return Ok(None);
    }
    let pause = Pause {
        at: event.at,
        reason: reason.clone(),
    };
    deps.campaigns.set_paused(campaign, Some(&pause)).await?;
    deps.audit
        .append(AuditEntry {
            at: event.at,
            campaign: campaign.clone(),
            customer: None,
            action: "campaign-paused".into(),
            detail: serde_json::json!({ "reason": reason, "counts": counts }),
        })
        .await?;
    crate::telemetry::campaign_paused(campaign);
    tracing::error!(campaign = %campaign, reason = %reason, "campaign paused: its remaining waves wait for the operator");
    Ok(Some(reason))
}

/// What a resume did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resumed {
    /// Whether the campaign was paused.
    pub was_paused: bool,
    /// Waves moved to run at once.
    pub waves: usize,
}

/// Resumes a paused campaign: its waves' next parts, waiting for their
/// hourly look, run at once.
pub async fn resume(deps: &Deps, campaign: &CampaignId, by: &str) -> Result<Resumed, PortError> {
    let now = deps.clock.now();
    let was = deps.campaigns.paused(campaign).await?;
    deps.campaigns.set_paused(campaign, None).await?;
    let mut waves = 0;
    for job in deps.scheduler.scheduled(campaign).await? {
        if matches!(
            &job.job,
            Job::Notice {
                resume: Some(_),
                ..
            }
        ) && job.due > now
        {
            deps.scheduler
                .upsert(&ScheduledJob { due: now, ..job })
                .await?;
            waves += 1;
        }
    }
    if let Some(pause) = &was {
        deps.audit
            .append(AuditEntry {
                at: now,
                campaign: campaign.clone(),
                customer: None,
                action: "campaign-resumed".into(),
                detail: serde_json::json!({ "paused_at": pause.at, "reason": pause.reason, "by": by, "waves": waves }),
            })
            .await?;
        tracing::info!(campaign = %campaign, waves, "campaign resumed");
    }
    Ok(Resumed {
        was_paused: was.is_some(),
        waves,
    })
}
