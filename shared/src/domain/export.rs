//! Data export requests and the bundles built for them.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{CampaignId, CustomerId, InvalidValue};

/// An export request's id: `x` and 32 hex digits of a fresh random 128-bit
/// value, so two requests never share one however close together they are
/// made (an id from the time alone let two customers in the same
/// millisecond overwrite each other's request). It names the bundle's key
/// and a scheduled job, so it stays ASCII letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExportId(String);

impl ExportId {
    /// A new id from the thread's cryptographically secure generator.
    pub fn generate() -> Self {
        Self(format!("x{:032x}", rand::random::<u128>()))
    }

    /// An id as stored or given in a link: 1 to 64 ASCII letters and digits
    /// (ids made before the random form, `x20270301T143000000Z`, still read).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.is_empty() || raw.len() > 64 || !raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(InvalidValue(
                "is not an export request id (1 to 64 letters and digits)".into(),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ExportId {
    type Error = InvalidValue;
    fn try_from(raw: String) -> Result<Self, InvalidValue> {
        Self::parse(&raw)
    }
}

impl From<ExportId> for String {
    fn from(id: ExportId) -> String {
        id.0
    }
}

impl fmt::Display for ExportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportStatus {
    Requested,
    Ready,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub id: ExportId,
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
        id: ExportId,
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
    pub fn bundle_key_for(
        campaign: &CampaignId,
        customer: &CustomerId,
        request: &ExportId,
    ) -> String {
        format!("exports/{campaign}/{customer}/{request}.zip")
    }

    pub fn customer_prefix(campaign: &CampaignId, customer: &CustomerId) -> String {
        format!("exports/{campaign}/{customer}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_distinct_and_parse_back() {
        let ids: std::collections::HashSet<ExportId> =
            (0..10_000).map(|_| ExportId::generate()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(10) {
            assert_eq!(id.as_str().len(), 33);
            assert_eq!(ExportId::parse(id.as_str()).as_ref(), Ok(id));
        }
        assert!(ExportId::parse("x20270301T143000000Z").is_ok());
        for bad in ["", "../x", "x y", "x\n", &"a".repeat(65)] {
            assert!(ExportId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
