//! The audit trail: what was done, when, to which customer id, never with a
//! name or e-mail address. Entries form a hash chain, so a deletion
//! certificate (the purge entry and its hash) can be checked against the
//! whole trail.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ids::{CampaignId, CustomerId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub campaign: CampaignId,
    pub customer: Option<CustomerId>,
    /// What happened: `imported`, `segmented`, `export-built`, `purged`,
    /// `purge-skipped-legal-hold`, ...
    pub action: String,
    /// Counts and hashes only.
    pub detail: serde_json::Value,
}

/// An entry with its place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainedEntry {
    pub seq: u64,
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

/// `sha256(prev_hash || canonical JSON of the entry)`, hex.
pub fn chain_hash(prev_hash: &str, entry: &AuditEntry) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(Canonical::of(entry).bytes());
    hex::encode(h.finalize())
}

/// The bytes an entry is hashed as, fixed for good: a chain written by
/// one release is verified by every later one, so this shape does not
/// follow `AuditEntry` if it is renamed or grows (a new field is hashed
/// only by a new version of this form). Field order and names are those
/// of the first release.
#[derive(Serialize)]
struct Canonical<'a> {
    at: &'a DateTime<Utc>,
    campaign: &'a str,
    customer: Option<&'a str>,
    action: &'a str,
    detail: &'a serde_json::Value,
}

impl<'a> Canonical<'a> {
    fn of(e: &'a AuditEntry) -> Self {
        Canonical {
            at: &e.at,
            campaign: e.campaign.as_str(),
            customer: e.customer.as_ref().map(CustomerId::as_str),
            action: &e.action,
            detail: &e.detail,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        // Strings, a time and a JSON value: nothing here can fail to encode.
        serde_json::to_vec(self).expect("an audit entry's canonical form encodes")
    }
}

/// Checks every link of a chain; returns the first broken sequence number.
pub fn verify_chain(entries: &[ChainedEntry]) -> Result<(), u64> {
    let mut prev = String::new();
    for e in entries {
        if e.prev_hash != prev || chain_hash(&e.prev_hash, &e.entry) != e.hash {
            return Err(e.seq);
        }
        prev = e.hash.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain written by any release must verify under every later one:
    /// the hash of a fixed entry is pinned to what the releases before
    /// this test wrote.
    #[test]
    fn the_hash_of_an_entry_never_changes() {
        let entry = AuditEntry {
            at: "2027-11-01T09:00:00Z".parse().unwrap(),
            campaign: CampaignId::parse("orbit-crm-2027").unwrap(),
            customer: Some(CustomerId::parse("C000001").unwrap()),
            action: "purged".into(),
            detail: serde_json::json!({"sha256": "ab12", "files": 4}),
        };
        assert_eq!(
            chain_hash("", &entry),
            "a731a985dd01c0d86589be672ae330948a83de148e49f61b7c43994fdc06a1bb"
        );
        let none = AuditEntry {
            customer: None,
            ..entry
        };
        assert_eq!(
            chain_hash("00ff", &none),
            "13ebfd4600561f5eba35a3078f86d9cba43f12d9964d8b9fdc73fc2703f78b4a"
        );
    }
}
