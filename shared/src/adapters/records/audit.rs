//! An audit entry as stored. The hash chain does not depend on this form:
//! entries are hashed in the canonical form `domain::audit` fixes, so a
//! chain verifies whichever version stored its entries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{decode_err, unknown_version, versioned};
use crate::domain::audit::AuditEntry;
use crate::domain::{CampaignId, CustomerId};
use crate::ports::{PortError, PortResult};

/// Version 1; version 0 is the same without `v`. `detail` holds counts
/// and hashes only, as the domain's entry does.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditV1 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<u32>,
    at: DateTime<Utc>,
    campaign: String,
    customer: Option<String>,
    action: String,
    detail: serde_json::Value,
}

pub fn audit_to_json(e: &AuditEntry) -> PortResult<String> {
    serde_json::to_string(&AuditV1 {
        v: Some(1),
        at: e.at,
        campaign: e.campaign.to_string(),
        customer: e.customer.as_ref().map(ToString::to_string),
        action: e.action.clone(),
        detail: e.detail.clone(),
    })
    .map_err(PortError::permanent)
}

pub fn audit_from_json(json: &str) -> PortResult<AuditEntry> {
    match versioned(json)? {
        None | Some(1) => {
            let r: AuditV1 =
                serde_json::from_str(json).map_err(|e| decode_err("an audit entry", e))?;
            let field = |what: &str, e: String| {
                PortError::permanent(anyhow::anyhow!("a stored audit entry's {what}: {e}"))
            };
            Ok(AuditEntry {
                at: r.at,
                campaign: CampaignId::parse(&r.campaign).map_err(|e| field("campaign", e.0))?,
                customer: r
                    .customer
                    .map(|c| CustomerId::parse(&c).map_err(|e| field("customer", e.0)))
                    .transpose()?,
                action: r.action,
                detail: r.detail,
            })
        }
        Some(v) => Err(unknown_version("an audit entry", v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::chain_hash;

    /// An entry as the release before versions stored it reads, hashes as
    /// it did then, and reads back the same from version 1.
    #[test]
    fn an_entry_written_before_versions_reads_and_hashes_as_it_did() {
        let v0 = r#"{"at":"2027-11-01T09:00:00Z","campaign":"orbit-crm-2027","customer":"C000001","action":"purged","detail":{"files":4,"sha256":"ab12"}}"#;
        let e = audit_from_json(v0).unwrap();
        assert_eq!(e.action, "purged");
        // The hash that release stored for it (domain::audit pins it too).
        assert_eq!(
            chain_hash("", &e),
            "a731a985dd01c0d86589be672ae330948a83de148e49f61b7c43994fdc06a1bb"
        );
        let v1 = audit_to_json(&e).unwrap();
        assert!(v1.starts_with(r#"{"v":1,"#), "{v1}");
        assert_eq!(audit_from_json(&v1).unwrap(), e);
        assert!(
            audit_from_json(r#"{"v":2,"at":"2027-11-01T09:00:00Z"}"#)
                .unwrap_err()
                .to_string()
                .contains("version 2")
        );
    }
}
