//! Sorts every customer into core / standard / low, with the reason.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::audit::AuditEntry;
use crate::domain::{Campaign, CustomerRecord, Tier};
use crate::ports::{AuditLog, CustomerStore, PortResult};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SegmentSummary {
    pub core: u64,
    pub standard: u64,
    pub low: u64,
}

impl SegmentSummary {
    pub(crate) fn add(&mut self, other: &SegmentSummary) {
        self.core += other.core;
        self.standard += other.standard;
        self.low += other.low;
    }
}

const PAGE: usize = 1000;

/// Decides and stores the tier of these customers (the purged are skipped).
/// The tier segmentation gives a customer: the operator's, else the
/// campaign's rules' (`None` once purged).
pub fn tier_of(campaign: &Campaign, r: &CustomerRecord) -> Option<Tier> {
    let profile = r.profile.as_ref()?;
    Some(match &r.tier_override {
        Some(o) => o.tier,
        None => {
            campaign
                .segmentation
                .decide(profile, campaign.dates.announce)
                .tier
        }
    })
}

pub async fn segment_these(
    campaign: &Campaign,
    records: Vec<CustomerRecord>,
    customers: &dyn CustomerStore,
) -> PortResult<SegmentSummary> {
    let mut summary = SegmentSummary::default();
    // The operator's tier stands (the store keeps it too): counted, not
    // decided again.
    let (set, records): (Vec<_>, Vec<_>) = records
        .into_iter()
        .partition(|r| r.tier_override.is_some() && r.profile.is_some());
    for o in set.iter().filter_map(|r| r.tier_override.as_ref()) {
        match o.tier {
            Tier::Core => summary.core += 1,
            Tier::Standard => summary.standard += 1,
            Tier::Low => summary.low += 1,
        }
    }
    let decisions: Vec<_> = records
        .into_iter()
        .filter_map(|r| {
            let decision = campaign
                .segmentation
                .decide(r.profile.as_ref()?, campaign.dates.announce);
            Some((r, decision))
        })
        .collect();
    for (_, d) in &decisions {
        match d.tier {
            Tier::Core => summary.core += 1,
            Tier::Standard => summary.standard += 1,
            Tier::Low => summary.low += 1,
        }
    }
    customers.set_tiers(&campaign.id, &decisions).await?;
    Ok(summary)
}

/// Tenure is counted up to the announcement, so the result does not depend
/// on the day segmentation runs; `now` dates the audit entry.
pub async fn segment(
    campaign: &Campaign,
    customers: &dyn CustomerStore,
    audit: &dyn AuditLog,
    now: DateTime<Utc>,
) -> PortResult<SegmentSummary> {
    let mut summary = SegmentSummary::default();
    let mut pages = super::paging::Pages::new(PAGE);
    while let Some(page) = pages.next(customers, &campaign.id).await? {
        summary.add(&segment_these(campaign, page, customers).await?);
    }
    audit
        .append(AuditEntry {
            at: now,
            campaign: campaign.id.clone(),
            customer: None,
            action: "segmented".into(),
            detail: serde_json::to_value(&summary).unwrap_or_default(),
        })
        .await?;
    tracing::info!(campaign = %campaign.id, core = summary.core, standard = summary.standard, low = summary.low, "segmented");
    Ok(summary)
}
