//! The delivery ledger: one row per message, claimed before it is sent.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, parse_ts, ts};
use crate::domain::ledger::{Delivery, DeliveryKey, Recipient};
use crate::domain::{CampaignId, CustomerId, Milestone};
use crate::ports::{DeliveryLedger, PortResult};

fn milestone_of(s: &str) -> rusqlite::Result<Milestone> {
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

#[async_trait]
impl DeliveryLedger for SqliteStore {
    async fn claim(&self, keys: &[DeliveryKey], at: DateTime<Utc>) -> PortResult<Vec<bool>> {
        let at = ts(at);
        self.with(|c| {
            let tx = c.transaction()?;
            let mut claimed = Vec::with_capacity(keys.len());
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT OR IGNORE INTO deliveries (campaign_id, recipient, milestone, channel, occurrence, claimed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for k in keys {
                    let n = stmt.execute(params![
                        k.campaign.as_str(),
                        k.recipient.key(),
                        k.milestone.name(),
                        k.channel.to_string(),
                        k.occurrence,
                        at
                    ])?;
                    claimed.push(n == 1);
                }
            }
            tx.commit()?;
            Ok(claimed)
        })
    }

    async fn mark_sent(&self, sent: &[(DeliveryKey, String)], at: DateTime<Utc>) -> PortResult<()> {
        let at = ts(at);
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE deliveries SET sent_at = ?6, message_id = ?7
                     WHERE campaign_id = ?1 AND recipient = ?2 AND milestone = ?3 AND channel = ?4 AND occurrence = ?5",
                )?;
                for (k, message_id) in sent {
                    stmt.execute(params![
                        k.campaign.as_str(),
                        k.recipient.key(),
                        k.milestone.name(),
                        k.channel.to_string(),
                        k.occurrence,
                        at,
                        message_id
                    ])?;
                }
            }
            tx.commit()
        })
    }

    async fn release(&self, k: &DeliveryKey) -> PortResult<()> {
        self.with(|c| {
            c.prepare_cached(
                "DELETE FROM deliveries WHERE campaign_id = ?1 AND recipient = ?2 AND milestone = ?3
                 AND channel = ?4 AND occurrence = ?5 AND sent_at IS NULL",
            )?
            .execute(params![k.campaign.as_str(), k.recipient.key(), k.milestone.name(), k.channel.to_string(), k.occurrence])
        })?;
        Ok(())
    }

    async fn sent(&self, keys: &[DeliveryKey]) -> PortResult<Vec<bool>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT sent_at IS NOT NULL FROM deliveries WHERE campaign_id = ?1 AND recipient = ?2
                 AND milestone = ?3 AND channel = ?4 AND occurrence = ?5",
            )?;
            keys.iter()
                .map(|k| {
                    stmt.query_row(
                        params![
                            k.campaign.as_str(),
                            k.recipient.key(),
                            k.milestone.name(),
                            k.channel.to_string(),
                            k.occurrence
                        ],
                        |r| r.get::<_, bool>(0),
                    )
                    .optional()
                    .map(|sent| sent.unwrap_or(false))
                })
                .collect()
        })
    }

    async fn sent_counts(&self, campaign: &CampaignId) -> PortResult<BTreeMap<String, u64>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT milestone, COUNT(*) FROM deliveries WHERE campaign_id = ?1 AND sent_at IS NOT NULL GROUP BY milestone",
            )?;
            stmt.query_map(params![campaign.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }

    async fn deliveries_to(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Vec<Delivery>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT milestone, occurrence, claimed_at, sent_at, message_id FROM deliveries
                 WHERE campaign_id = ?1 AND recipient = ?2 ORDER BY claimed_at",
            )?;
            stmt.query_map(params![campaign.as_str(), customer.as_str()], |r| {
                Ok(Delivery {
                    key: DeliveryKey {
                        campaign: campaign.clone(),
                        recipient: Recipient::Customer(customer.clone()),
                        milestone: milestone_of(&r.get::<_, String>(0)?)?,
                        channel: crate::domain::ledger::Channel::Email,
                        occurrence: r.get(1)?,
                    },
                    claimed_at: parse_ts(r.get(2)?).unwrap_or_default(),
                    sent_at: parse_ts(r.get(3)?),
                    message_id: r.get(4)?,
                })
            })?
            .collect()
        })
    }
}
