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
    h.update(serde_json::to_vec(entry).expect("audit entries serialize"));
    hex::encode(h.finalize())
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
