//! Sorts every customer into core / standard / low, with the reason.

use chrono::Utc;
use serde::Serialize;

use crate::domain::Campaign;
use crate::domain::audit::AuditEntry;
use crate::ports::{AuditLog, CustomerStore, PortResult};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SegmentSummary {
    pub core: u64,
    pub standard: u64,
    pub low: u64,
}

const PAGE: usize = 1000;

/// Tenure is counted up to the announcement, so the result does not depend
/// on the day segmentation runs.
pub async fn segment(
    campaign: &Campaign,
    customers: &dyn CustomerStore,
    audit: &dyn AuditLog,
) -> PortResult<SegmentSummary> {
    let mut summary = SegmentSummary::default();
    let mut after = None;
    loop {
        let page = customers
            .customers_page(&campaign.id, after.as_ref(), PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        let decisions: Vec<_> = page
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
                crate::domain::Tier::Core => summary.core += 1,
                crate::domain::Tier::Standard => summary.standard += 1,
                crate::domain::Tier::Low => summary.low += 1,
            }
        }
        customers.set_tiers(&campaign.id, &decisions).await?;
    }
    audit
        .append(AuditEntry {
            at: Utc::now(),
            campaign: campaign.id.clone(),
            customer: None,
            action: "segmented".into(),
            detail: serde_json::to_value(&summary).unwrap_or_default(),
        })
        .await?;
    tracing::info!(campaign = %campaign.id, core = summary.core, standard = summary.standard, low = summary.low, "segmented");
    Ok(summary)
}
