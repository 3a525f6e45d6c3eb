//! The delivery ledger: one row per message, claimed before it is sent.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, parse_ts, ts};
use crate::domain::delivery_event::DeliveryOutcome;
use crate::domain::ledger::{Claimed, Delivery, DeliveryKey, Lease, Recipient};
use crate::domain::{CampaignId, CustomerId, Milestone};
use crate::ports::{DeliveryLedger, OutcomeRecorded, PortResult, Tallies, Tally};

fn milestone_of(s: &str) -> rusqlite::Result<Milestone> {
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn channel_of(s: &str) -> rusqlite::Result<crate::domain::ledger::Channel> {
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// What a key holds that a claim (or a miss) did not take.
fn found(
    tx: &rusqlite::Transaction<'_>,
    k: &DeliveryKey,
    at: DateTime<Utc>,
) -> rusqlite::Result<Claimed> {
    tx.prepare_cached(
        "SELECT sent_at, missed_at, lease_until FROM deliveries WHERE campaign_id = ?1
         AND recipient = ?2 AND milestone = ?3 AND channel = ?4 AND occurrence = ?5",
    )?
    .query_row(
        params![
            k.campaign.as_str(),
            k.recipient.key(),
            k.milestone.name(),
            k.channel.to_string(),
            k.occurrence,
        ],
        |r| {
            Ok(Claimed::found(
                parse_ts(r.get(0)?),
                parse_ts(r.get(1)?),
                parse_ts(r.get(2)?),
                at,
            ))
        },
    )
}

impl SqliteStore {
    /// Writes each key's entry — claimed at `at`, with a lease until
    /// `lease_until` or recorded as missed — where the key is free: no
    /// entry, or one neither sent nor missed whose lease ended by `at`.
    /// Timestamps are fixed-width UTC text, so they compare as the
    /// instants they are.
    fn take_free(
        &self,
        keys: &[DeliveryKey],
        at: DateTime<Utc>,
        lease_until: Option<DateTime<Utc>>,
        missed_at: Option<DateTime<Utc>>,
    ) -> PortResult<Vec<Claimed>> {
        let (at_text, until, missed) = (ts(at), lease_until.map(ts), missed_at.map(ts));
        self.with(|c| {
            let tx = c.transaction()?;
            let mut taken = Vec::with_capacity(keys.len());
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO deliveries (campaign_id, recipient, milestone, channel, occurrence, claimed_at, lease_until, missed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT DO UPDATE SET claimed_at = excluded.claimed_at,
                        lease_until = excluded.lease_until, missed_at = excluded.missed_at
                     WHERE sent_at IS NULL AND missed_at IS NULL
                       AND (lease_until IS NULL OR lease_until <= excluded.claimed_at)",
                )?;
                for k in keys {
                    let n = stmt.execute(params![
                        k.campaign.as_str(),
                        k.recipient.key(),
                        k.milestone.name(),
                        k.channel.to_string(),
                        k.occurrence,
                        at_text,
                        until,
                        missed
                    ])?;
                    taken.push(if n == 1 {
                        Claimed::Taken
                    } else {
                        found(&tx, k, at)?
                    });
                }
            }
            tx.commit()?;
            Ok(taken)
        })
    }
}

#[async_trait]
impl DeliveryLedger for SqliteStore {
    async fn claim(&self, keys: &[DeliveryKey], lease: Lease) -> PortResult<Vec<Claimed>> {
        self.take_free(keys, lease.at, Some(lease.until), None)
    }

    async fn mark_sent(&self, sent: &[(DeliveryKey, String)], at: DateTime<Utc>) -> PortResult<()> {
        let at = ts(at);
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO deliveries (campaign_id, recipient, milestone, channel, occurrence, claimed_at, sent_at, message_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)
                     ON CONFLICT DO UPDATE SET sent_at = excluded.sent_at, message_id = excluded.message_id,
                        lease_until = NULL",
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

    async fn mark_missed(
        &self,
        keys: &[DeliveryKey],
        at: DateTime<Utc>,
    ) -> PortResult<Vec<Claimed>> {
        self.take_free(keys, at, None, Some(at))
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

    async fn tallies(&self, campaign: &CampaignId) -> PortResult<Tallies> {
        let rows: Vec<(crate::domain::ledger::Channel, String, Tally)> = self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT milestone, COUNT(sent_at), COUNT(missed_at), COUNT(delivered_at),
                        COUNT(CASE WHEN bounce = 'hard' THEN 1 END), COUNT(CASE WHEN bounce = 'soft' THEN 1 END),
                        COUNT(complained_at), COUNT(opened_at), COUNT(clicked_at), channel
                 FROM deliveries WHERE campaign_id = ?1 GROUP BY channel, milestone",
            )?;
            stmt.query_map(params![campaign.as_str()], |r| {
                Ok((
                    channel_of(&r.get::<_, String>(9)?)?,
                    r.get::<_, String>(0)?,
                    Tally {
                        sent: r.get(1)?,
                        missed: r.get(2)?,
                        delivered: r.get(3)?,
                        bounced: r.get(4)?,
                        soft_bounced: r.get(5)?,
                        complained: r.get(6)?,
                        opened: r.get(7)?,
                        clicked: r.get(8)?,
                    },
                ))
            })?
            .filter(|row| !matches!(row, Ok((_, _, t)) if *t == Tally::default()))
            .collect()
        })?;
        let mut tallies = Tallies::new();
        for (channel, milestone, tally) in rows {
            tallies.entry(channel).or_default().insert(milestone, tally);
        }
        Ok(tallies)
    }

    async fn record_outcome(
        &self,
        k: &DeliveryKey,
        message_id: &str,
        outcome: DeliveryOutcome,
        at: DateTime<Utc>,
    ) -> PortResult<OutcomeRecorded> {
        let field = outcome.recorded_as();
        let (bounce, first) = match outcome {
            DeliveryOutcome::Bounced { hard: true } => (
                ", bounce = 'hard'",
                "(bounce IS NULL OR bounce <> 'hard')".to_owned(),
            ),
            DeliveryOutcome::Bounced { hard: false } => (
                ", bounce = COALESCE(bounce, 'soft')",
                format!("{field} IS NULL"),
            ),
            _ => ("", format!("{field} IS NULL")),
        };
        let key = params![
            k.campaign.as_str(),
            k.recipient.key(),
            k.milestone.name(),
            k.channel.to_string(),
            k.occurrence,
            message_id,
        ];
        let at = ts(at);
        self.with(|c| {
            let tx = c.transaction()?;
            let n = tx
                .prepare_cached(&format!(
                    "UPDATE deliveries SET {field} = COALESCE({field}, ?7){bounce}
                     WHERE campaign_id = ?1 AND recipient = ?2 AND milestone = ?3 AND channel = ?4
                       AND occurrence = ?5 AND message_id = ?6 AND {first}"
                ))?
                .execute(params![
                    k.campaign.as_str(),
                    k.recipient.key(),
                    k.milestone.name(),
                    k.channel.to_string(),
                    k.occurrence,
                    message_id,
                    at
                ])?;
            let recorded = if n == 1 {
                OutcomeRecorded::First
            } else {
                let known = tx
                    .prepare_cached(
                        "SELECT 1 FROM deliveries WHERE campaign_id = ?1 AND recipient = ?2
                         AND milestone = ?3 AND channel = ?4 AND occurrence = ?5 AND message_id = ?6",
                    )?
                    .exists(key)?;
                if known {
                    OutcomeRecorded::Again
                } else {
                    OutcomeRecorded::NoSuchMessage
                }
            };
            tx.commit()?;
            Ok(recorded)
        })
    }

    async fn deliveries_to(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Vec<Delivery>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT milestone, occurrence, claimed_at, sent_at, message_id, lease_until, channel FROM deliveries
                 WHERE campaign_id = ?1 AND recipient = ?2 ORDER BY claimed_at",
            )?;
            stmt.query_map(params![campaign.as_str(), customer.as_str()], |r| {
                Ok(Delivery {
                    key: DeliveryKey {
                        campaign: campaign.clone(),
                        recipient: Recipient::Customer(customer.clone()),
                        milestone: milestone_of(&r.get::<_, String>(0)?)?,
                        channel: channel_of(&r.get::<_, String>(6)?)?,
                        occurrence: r.get(1)?,
                    },
                    claimed_at: parse_ts(r.get(2)?).unwrap_or_default(),
                    lease_until: parse_ts(r.get(5)?),
                    sent_at: parse_ts(r.get(3)?),
                    message_id: r.get(4)?,
                })
            })?
            .collect()
        })
    }
}
