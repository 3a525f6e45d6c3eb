//! Data export requests and the bundles built for them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{CampaignId, CustomerId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportStatus {
    Requested,
    Ready,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub id: String,
    pub campaign: CampaignId,
    pub customer: CustomerId,
    pub requested_at: DateTime<Utc>,
    pub status: ExportStatus,
    pub ready_at: Option<DateTime<Utc>>,
    /// Where the bundle is in the blob store.
    pub bundle_key: Option<String>,
    pub bundle_bytes: Option<u64>,
    pub bundle_files: Option<u64>,
    pub bundle_sha256: Option<String>,
}

impl ExportRequest {
    /// A request just made: no bundle yet.
    pub fn new(
        id: String,
        campaign: CampaignId,
        customer: CustomerId,
        requested_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            campaign,
            customer,
            requested_at,
            status: ExportStatus::Requested,
            ready_at: None,
            bundle_key: None,
            bundle_bytes: None,
            bundle_files: None,
            bundle_sha256: None,
        }
    }

    /// The blob key of a bundle; the customer id is in the path so the purge
    /// can delete every bundle of a customer by prefix.
    pub fn bundle_key_for(campaign: &CampaignId, customer: &CustomerId, request: &str) -> String {
        format!("exports/{campaign}/{customer}/{request}.zip")
    }

    pub fn customer_prefix(campaign: &CampaignId, customer: &CustomerId) -> String {
        format!("exports/{campaign}/{customer}/")
    }
}
