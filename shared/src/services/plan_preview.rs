//! The plan, before and during the campaign: per day and channel, how many
//! customers get which notice; and one customer's whole sequence, dated in
//! their zone. Decided by the same rules the waves apply when they send
//! (`dispatch::channels_for`, the waves' own "who is still due"), so what
//! the preview says is what goes out, as long as nobody's standing
//! changes (a customer who migrates gets no further reminders).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::customer::MigrationStatus;
use crate::domain::ledger::{Channel, Recipient};
use crate::domain::lifecycle::Phase;
use crate::domain::milestone::{local_instant, milestone_date, purge_time};
use crate::domain::{Campaign, CampaignId, CustomerId, CustomerRecord, Milestone};
use crate::ports::{Deps, PortError};

use super::dispatch::channels_for;

/// The whole campaign's plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanPreview {
    pub campaign: CampaignId,
    pub as_of: DateTime<Utc>,
    pub phase: Phase,
    /// Customers in the waves: segmented, not purged.
    pub customers: u64,
    /// Customers whose data was deleted: no longer in the rows (what they
    /// were sent is in the report).
    pub purged: u64,
    /// One row per day, notice and channel, in date order.
    pub rows: Vec<PlanRow>,
}

/// A notice on a channel on one calendar day (the customers' own day:
/// each zone gets it at the send hour there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanRow {
    pub date: NaiveDate,
    pub notice: String,
    pub channel: Channel,
    /// Customers it goes to (or went to).
    pub customers: u64,
    /// Of those, by zone.
    pub by_zone: BTreeMap<String, u64>,
    /// When its first and last zone send.
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Sent so far, per the ledger.
    pub sent: u64,
}

/// One customer's sequence.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerPlan {
    pub customer: CustomerId,
    pub zone: String,
    pub tier: Option<String>,
    pub status: MigrationStatus,
    pub steps: Vec<PlanStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanStep {
    pub notice: String,
    pub channel: Channel,
    /// The day and time in the customer's zone.
    pub date: NaiveDate,
    pub local_time: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub state: StepState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StepState {
    Planned,
    Sent {
        sent_at: DateTime<Utc>,
    },
    /// The rules give it, and it cannot go: why.
    Skipped {
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum PlanPreviewError {
    #[error("no customer {0} in this campaign")]
    UnknownCustomer(CustomerId),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// A planned message: which notice, on which channel, when.
struct Planned {
    notice: Milestone,
    channel: Channel,
    date: NaiveDate,
    at: DateTime<Utc>,
}

/// What the campaign will send `record`, whether each can reach them, in
/// order: its notices, then the farewell once their data is deleted.
fn sequence(
    campaign: &Campaign,
    record: &CustomerRecord,
    zones: &[chrono_tz::Tz],
) -> Vec<(Planned, Option<String>)> {
    let mut out = Vec::new();
    if record.tier.is_none() || record.purged_at.is_some() {
        return out;
    }
    for m in campaign.notices() {
        let Some(date) = milestone_date(campaign, m) else {
            continue;
        };
        if campaign.rules.only_unmigrated(m) && record.status == MigrationStatus::Migrated {
            continue;
        }
        let at = local_instant(date, campaign.send_time(), record.zone);
        for (channel, reachable) in channels_for(campaign, m, record) {
            let why = (!reachable).then(|| unreachable(channel, record));
            out.push((
                Planned {
                    notice: m,
                    channel,
                    date,
                    at,
                },
                why,
            ));
        }
    }
    // The farewell goes once the purge has deleted their data, to whom it
    // can reach; never to a customer purged without notice, nor one on
    // legal hold (whose data stays).
    if !record.legal_hold && !record.purge_without_notice {
        let deadline = record.effective_deadline(campaign.dates.export_deadline);
        let at = purge_time(campaign, zones, deadline);
        let why = record
            .mailable()
            .is_none()
            .then(|| unreachable(Channel::Email, record));
        out.push((
            Planned {
                notice: Milestone::DeletionDone,
                channel: Channel::Email,
                date: at.with_timezone(&record.zone).date_naive(),
                at,
            },
            why,
        ));
    }
    out
}

fn unreachable(channel: Channel, record: &CustomerRecord) -> String {
    match channel {
        Channel::Email => match &record.suppressed {
            Some(s) => format!("their address is suppressed: {}", s.reason),
            None => "no e-mail address".into(),
        },
        Channel::Sms => "no mobile number with its country code".into(),
    }
}

/// The campaign's plan as of `now`.
pub async fn preview(
    deps: &Deps,
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> Result<PlanPreview, PortError> {
    let status = deps
        .campaigns
        .status(&campaign.id)
        .await?
        .unwrap_or_default();
    let zones = zones(deps, campaign).await?;
    // Rows sort by day, then in the campaign's order of notices.
    let notices = campaign.notices();
    let rank = |m: Milestone| {
        notices
            .iter()
            .position(|n| *n == m)
            .unwrap_or(notices.len())
    };
    let mut rows: BTreeMap<(NaiveDate, usize, Channel), PlanRow> = BTreeMap::new();
    let (mut customers, mut purged) = (0, 0);
    let mut pages = super::paging::Pages::new(1000);
    while let Some(page) = pages.next(deps.customers.as_ref(), &campaign.id).await? {
        for record in &page {
            let steps = sequence(campaign, record, &zones);
            if record.purged_at.is_some() {
                purged += 1;
            } else if record.tier.is_some() {
                customers += 1;
            }
            for (p, why) in steps {
                if why.is_some() || (status.cancelled.is_some() && p.at > now) {
                    continue;
                }
                let row = rows
                    .entry((p.date, rank(p.notice), p.channel))
                    .or_insert_with(|| PlanRow {
                        date: p.date,
                        notice: p.notice.name(),
                        channel: p.channel,
                        customers: 0,
                        by_zone: BTreeMap::new(),
                        from: p.at,
                        until: p.at,
                        sent: 0,
                    });
                row.customers += 1;
                *row.by_zone
                    .entry(record.zone.name().to_owned())
                    .or_default() += 1;
                row.from = row.from.min(p.at);
                row.until = row.until.max(p.at);
            }
        }
    }
    let tallies = deps.ledger.tallies(&campaign.id).await?;
    let mut rows: Vec<PlanRow> = rows.into_values().collect();
    for row in &mut rows {
        row.sent = tallies
            .get(&row.channel)
            .and_then(|t| t.get(&row.notice))
            .map_or(0, |t| t.sent);
    }
    Ok(PlanPreview {
        campaign: campaign.id.clone(),
        as_of: now,
        phase: status.phase(),
        customers,
        purged,
        rows,
    })
}

async fn zones(deps: &Deps, campaign: &Campaign) -> Result<Vec<chrono_tz::Tz>, PortError> {
    let mut zones = deps.customers.zones(&campaign.id).await?;
    if zones.is_empty() {
        zones.push(campaign.timezone);
    }
    Ok(zones)
}

/// One customer's whole sequence, each step sent (per the ledger),
/// planned, or skipped with the reason.
pub async fn for_customer(
    deps: &Deps,
    campaign: &Campaign,
    customer: &CustomerId,
    now: DateTime<Utc>,
) -> Result<CustomerPlan, PlanPreviewError> {
    let record = deps
        .customers
        .customer(&campaign.id, customer)
        .await?
        .ok_or_else(|| PlanPreviewError::UnknownCustomer(customer.clone()))?;
    let cancelled = deps
        .campaigns
        .status(&campaign.id)
        .await?
        .and_then(|s| s.cancelled);
    let zones = zones(deps, campaign).await?;
    let sent: BTreeMap<(String, Channel), DateTime<Utc>> = deps
        .ledger
        .deliveries_to(&campaign.id, customer)
        .await?
        .into_iter()
        .filter(|d| matches!(d.key.recipient, Recipient::Customer(_)))
        .filter_map(|d| Some(((d.key.milestone.name(), d.key.channel), d.sent_at?)))
        .collect();
    let steps = sequence(campaign, &record, &zones)
        .into_iter()
        .map(|(p, why)| {
            let state = match (sent.get(&(p.notice.name(), p.channel)), why) {
                (Some(at), _) => StepState::Sent { sent_at: *at },
                (None, Some(reason)) => StepState::Skipped { reason },
                (None, None) if cancelled.is_some() && p.at > now => StepState::Skipped {
                    reason: "the campaign was cancelled".into(),
                },
                (None, None) => StepState::Planned,
            };
            let local = p.at.with_timezone(&record.zone);
            PlanStep {
                notice: p.notice.name(),
                channel: p.channel,
                date: p.date,
                local_time: local.format("%H:%M %Z").to_string(),
                at: p.at,
                state,
            }
        })
        .collect();
    Ok(CustomerPlan {
        customer: record.id.clone(),
        zone: record.zone.name().to_owned(),
        tier: record.tier.as_ref().map(|t| t.tier.as_str().to_owned()),
        status: record.status,
        steps,
    })
}
