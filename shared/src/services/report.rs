//! The retrospective the seed's §五 asks for: reach per milestone, migration
//! per tier, exports, support tickets, purge. Built from non-personal data
//! only, so it is the same before and after the purge.

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::event::CustomerEventKind;
use crate::domain::export::ExportStatus;
use crate::domain::ledger::Channel;
use crate::domain::milestone::day_ends;
use crate::domain::reputation::{DeliveryCounts, Pause};
use crate::domain::{Campaign, CustomerId, CustomerRecord, Milestone};
use crate::ports::{Deps, JobFailure, PortError, TierCount};

/// A milestone's messages: sent, and missed (a wave past its grace).
pub type MilestoneFigures = crate::ports::Tally;

#[derive(Debug, Clone, Serialize)]
pub struct TierFigures {
    #[serde(flatten)]
    pub counts: TierCount,
    /// migrated / customers
    pub migration_rate: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TicketFigures {
    pub opened: u64,
    pub resolved: u64,
    pub mean_hours_to_resolve: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportFigures {
    pub requested: u64,
    pub ready: u64,
    pub mean_minutes_to_ready: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub campaign: String,
    pub product: String,
    pub generated_at: DateTime<Utc>,
    pub customers: u64,
    /// E-mails per milestone.
    pub milestones: BTreeMap<String, MilestoneFigures>,
    /// Texts per milestone (SMS).
    pub texts: BTreeMap<String, MilestoneFigures>,
    pub tiers: BTreeMap<String, TierFigures>,
    /// Per channel: sent, missed, and the share of customers the
    /// announcement reached on it.
    pub channels: BTreeMap<String, ChannelFigures>,
    pub declined: u64,
    pub exports: ExportFigures,
    pub tickets: BTreeMap<String, TicketFigures>,
    /// The core customers' 1:1 outreach: tasks by state, and how each
    /// first heard (their account manager, or the held mass notice).
    pub outreach: super::outreach::OutreachFigures,
    pub purge: PurgeFigures,
    /// Scheduled jobs that failed and are being retried or were given up
    /// (the embedded scheduler; on AWS, Scheduler's dead-letter queue and
    /// its alarm say so).
    pub failing_jobs: Vec<JobFailure>,
    /// Set while the campaign's waves wait (its bounce or complaint rate
    /// passed its limit): the operator resumes them.
    pub paused: Option<Pause>,
    /// The counts the reputation guard reads.
    pub delivery_counts: DeliveryCounts,
    pub audit_entries: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelFigures {
    pub sent: u64,
    /// Notices recorded as missed: waves run past their grace. Never
    /// silent: also logged as an error, and a metric with an alarm on AWS.
    pub missed: u64,
    pub announcement_reach: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PurgeFigures {
    pub purged: u64,
    pub legal_hold: u64,
    pub remaining: u64,
    /// Past their deadline but never sent the announcement: the purge holds
    /// them until the operator decides (`approve_purge`, or tell them and
    /// extend their deadline). Named here, for the operator, and nowhere
    /// in the logs.
    pub held_never_told: Vec<CustomerId>,
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty())
        .then(|| (values.iter().sum::<f64>() / values.len() as f64 * 100.0).round() / 100.0)
}

/// Customers the purge holds because they were never told: due (past their
/// deadline, not on legal hold, not purged) without the operator's
/// decision and without a sent announcement. Before the export deadline
/// nobody can be, so nothing is read.
async fn held_never_told(
    deps: &Deps,
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> Result<Vec<CustomerId>, PortError> {
    let mut held = Vec::new();
    // The deadline ends first at UTC+14; before that nobody can be due.
    if now < day_ends(campaign.dates.export_deadline, chrono_tz::Etc::GMTMinus14) {
        return Ok(held);
    }
    const PAGE: usize = 1000;
    let mut pages = super::paging::Pages::new(PAGE);
    while let Some(page) = pages.next(deps.customers.as_ref(), &campaign.id).await? {
        let due: Vec<&CustomerRecord> = page
            .iter()
            .filter(|r| {
                r.purged_at.is_none()
                    && !r.legal_hold
                    && !r.purge_without_notice
                    && now >= r.deadline_ends(campaign.dates.export_deadline)
            })
            .collect();
        let told = super::purge::were_told(deps, campaign, &due).await?;
        held.extend(
            due.into_iter()
                .zip(told)
                .filter(|(_, told)| !told)
                .map(|(r, _)| r.id.clone()),
        );
    }
    Ok(held)
}

pub async fn report(
    deps: &Deps,
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> Result<Report, PortError> {
    let tallies = deps.ledger.tallies(&campaign.id).await?;
    let tiers = deps.customers.tier_counts(&campaign.id).await?;
    let events = deps.events.events(&campaign.id).await?;
    let exports = deps.exports.all_exports(&campaign.id).await?;
    let audit_entries = deps.audit.count(&campaign.id).await?;
    let failing_jobs = deps.scheduler.failures(&campaign.id).await?;
    let paused = deps.campaigns.paused(&campaign.id).await?;
    let delivery_counts = deps.campaigns.delivery_counts(&campaign.id).await?;

    let customers: u64 = tiers.values().map(|t| t.customers).sum();
    let mut milestones: BTreeMap<String, MilestoneFigures> = BTreeMap::new();
    let none = MilestoneFigures::default();
    milestones.insert("outreach-brief".into(), none);
    for notice in campaign.notices() {
        milestones.insert(notice.name(), none);
    }
    milestones.insert("export-ready".into(), none);
    milestones.insert(Milestone::DeletionDone.name(), none);
    let empty = BTreeMap::new();
    let emails = tallies.get(&Channel::Email).unwrap_or(&empty);
    for (name, tally) in emails {
        milestones.insert(name.clone(), *tally);
    }
    let texts: BTreeMap<String, MilestoneFigures> =
        tallies.get(&Channel::Sms).cloned().unwrap_or_default();
    let reach = |sent: u64| {
        if customers == 0 {
            0.0
        } else {
            (sent as f64 / customers as f64 * 10_000.0).round() / 10_000.0
        }
    };
    let channels: BTreeMap<String, ChannelFigures> = Channel::ALL
        .into_iter()
        .map(|channel| {
            let figures = tallies.get(&channel).unwrap_or(&empty);
            (
                channel.to_string(),
                ChannelFigures {
                    sent: figures.values().map(|t| t.sent).sum(),
                    missed: figures.values().map(|t| t.missed).sum(),
                    announcement_reach: reach(figures.get("announcement").map_or(0, |t| t.sent)),
                },
            )
        })
        .collect();

    let mut tickets: BTreeMap<String, TicketFigures> = BTreeMap::new();
    let mut open: HashMap<(String, String), VecDeque<DateTime<Utc>>> = HashMap::new();
    let mut hours: HashMap<String, Vec<f64>> = HashMap::new();
    let mut declined = 0;
    for e in &events {
        match &e.kind {
            CustomerEventKind::TicketOpened(kind) => {
                tickets.entry(kind.clone()).or_default().opened += 1;
                open.entry((e.customer.to_string(), kind.clone()))
                    .or_default()
                    .push_back(e.at);
            }
            CustomerEventKind::TicketResolved(kind) => {
                tickets.entry(kind.clone()).or_default().resolved += 1;
                if let Some(opened) = open
                    .get_mut(&(e.customer.to_string(), kind.clone()))
                    .and_then(VecDeque::pop_front)
                {
                    hours
                        .entry(kind.clone())
                        .or_default()
                        .push((e.at - opened).num_minutes() as f64 / 60.0);
                }
            }
            CustomerEventKind::Declined(_) => declined += 1,
            _ => {}
        }
    }
    for (kind, figures) in tickets.iter_mut() {
        figures.mean_hours_to_resolve = hours.get(kind).and_then(|h| mean(h));
    }

    let ready: Vec<f64> = exports
        .iter()
        .filter_map(|r| {
            r.ready_at
                .map(|t| (t - r.requested_at).num_seconds() as f64 / 60.0)
        })
        .collect();
    let purged: u64 = tiers.values().map(|t| t.purged).sum();
    let held_never_told = held_never_told(deps, campaign, now).await?;
    let held: u64 = tiers.values().map(|t| t.legal_hold).sum();

    let outreach = super::outreach::figures(deps, campaign).await?;
    Ok(Report {
        campaign: campaign.id.to_string(),
        product: campaign.product.clone(),
        generated_at: now,
        customers,
        milestones,
        tiers: tiers
            .into_iter()
            .map(|(tier, counts)| {
                let rate = if counts.customers == 0 {
                    0.0
                } else {
                    counts.migrated as f64 / counts.customers as f64
                };
                (
                    tier,
                    TierFigures {
                        counts,
                        migration_rate: (rate * 10_000.0).round() / 10_000.0,
                    },
                )
            })
            .collect(),
        channels,
        texts,
        declined,
        exports: ExportFigures {
            requested: exports.len() as u64,
            ready: exports
                .iter()
                .filter(|r| r.status == ExportStatus::Ready)
                .count() as u64,
            mean_minutes_to_ready: mean(&ready),
        },
        tickets,
        outreach,
        purge: PurgeFigures {
            purged,
            legal_hold: held,
            remaining: customers - purged,
            held_never_told,
        },
        failing_jobs,
        paused,
        delivery_counts,
        audit_entries,
    })
}
