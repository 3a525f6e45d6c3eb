//! The audit trail: a hash chain per campaign.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::adapters::records;
use crate::domain::CampaignId;
use crate::domain::audit::{AuditEntry, ChainedEntry, chain_hash};
use crate::ports::{AuditLog, PortResult};

#[async_trait]
impl AuditLog for SqliteStore {
    async fn append_all(&self, entries: Vec<AuditEntry>) -> PortResult<Vec<ChainedEntry>> {
        let rows = entries
            .into_iter()
            .map(|e| Ok((records::audit_to_json(&e)?, e)))
            .collect::<PortResult<Vec<_>>>()?;
        self.with(|c| {
            let tx = c.transaction()?;
            let mut chained = Vec::with_capacity(rows.len());
            {
                let mut last = tx.prepare_cached(
                    "SELECT hash FROM audit WHERE campaign_id = ?1 ORDER BY seq DESC LIMIT 1",
                )?;
                let mut insert = tx.prepare_cached(
                    "INSERT INTO audit (campaign_id, entry, prev_hash, hash) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for (json, entry) in rows {
                    let prev: String = last
                        .query_row(params![entry.campaign.as_str()], |r| r.get(0))
                        .optional()?
                        .unwrap_or_default();
                    let hash = chain_hash(&prev, &entry);
                    insert.execute(params![entry.campaign.as_str(), json, prev, hash])?;
                    chained.push(ChainedEntry { seq: tx.last_insert_rowid() as u64, entry, prev_hash: prev, hash });
                }
            }
            tx.commit()?;
            Ok(chained)
        })
    }

    async fn entries_after(
        &self,
        campaign: &CampaignId,
        after: u64,
        limit: usize,
    ) -> PortResult<Vec<ChainedEntry>> {
        let rows: Vec<(i64, String, String, String)> = self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, entry, prev_hash, hash FROM audit WHERE campaign_id = ?1 AND seq > ?2
                 ORDER BY seq LIMIT ?3",
            )?;
            stmt.query_map(
                params![campaign.as_str(), after as i64, limit as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?
            .collect()
        })?;
        rows.into_iter()
            .map(|(seq, entry, prev_hash, hash)| {
                Ok(ChainedEntry {
                    seq: seq as u64,
                    entry: records::audit_from_json(&entry)?,
                    prev_hash,
                    hash,
                })
            })
            .collect()
    }

    async fn count(&self, campaign: &CampaignId) -> PortResult<u64> {
        let n: i64 = self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM audit WHERE campaign_id = ?1",
                params![campaign.as_str()],
                |r| r.get(0),
            )
        })?;
        Ok(n as u64)
    }
}
