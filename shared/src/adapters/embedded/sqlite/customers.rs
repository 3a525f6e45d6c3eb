//! Customers: their profile (deleted by the purge) and the campaign's
//! state for them (kept for the report).

use crate::adapters::records::{self, profile_from_json, profile_to_json};
use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rusqlite::{OptionalExtension, Row, params};

use super::{SqliteStore, parse_ts, ts};
use crate::domain::customer::Suppression;
use crate::domain::tier::TierDecision;
use crate::domain::{CampaignId, CustomerId, CustomerRecord, MigrationStatus, Milestone};
use crate::ports::{Chunks, CustomerStore, PortError, PortResult, TierCount};

const CUSTOMER_COLUMNS: &str = "customer_id, zone, profile, tier, tier_score, tier_reason, status, status_at, legal_hold, extended_until, purged_at, purge_without_notice, suppressed_at, suppressed_reason, tier_override";

fn customer_from_row(row: &Row<'_>) -> rusqlite::Result<Result<CustomerRecord, PortError>> {
    let id: String = row.get(0)?;
    let zone: String = row.get(1)?;
    let profile: Option<String> = row.get(2)?;
    let tier: Option<String> = row.get(3)?;
    let score: Option<u32> = row.get(4)?;
    let reason: Option<String> = row.get(5)?;
    let status: String = row.get(6)?;
    let status_at: Option<String> = row.get(7)?;
    let legal_hold: bool = row.get(8)?;
    let extended: Option<String> = row.get(9)?;
    let purged: Option<String> = row.get(10)?;
    let purge_without_notice: bool = row.get(11)?;
    let suppressed_at: Option<String> = row.get(12)?;
    let suppressed_reason: Option<String> = row.get(13)?;
    let tier_override: Option<String> = row.get(14)?;
    Ok((|| {
        let bad =
            |what: &str| PortError::permanent(anyhow::anyhow!("stored customer has a bad {what}"));
        Ok(CustomerRecord {
            id: CustomerId::parse(&id).map_err(|_| bad("id"))?,
            zone: zone.parse::<Tz>().map_err(|_| bad("zone"))?,
            profile: profile.as_deref().map(profile_from_json).transpose()?,
            tier: match (tier, score, reason) {
                (Some(t), Some(score), Some(explanation)) => Some(TierDecision {
                    tier: crate::domain::Tier::parse(&t).ok_or_else(|| bad("tier"))?,
                    score,
                    explanation,
                }),
                _ => None,
            },
            status: MigrationStatus::parse(&status).ok_or_else(|| bad("status"))?,
            status_at: parse_ts(status_at),
            legal_hold,
            extended_until: extended
                .map(|d| d.parse::<NaiveDate>())
                .transpose()
                .map_err(|_| bad("extension date"))?,
            purge_without_notice,
            purged_at: parse_ts(purged),
            suppressed: match (parse_ts(suppressed_at), suppressed_reason) {
                (Some(at), Some(reason)) => Some(Suppression { at, reason }),
                _ => None,
            },
            tier_override: tier_override
                .map(|o| records::tier_override_from_json(&o))
                .transpose()?,
        })
    })())
}

fn collect_customers(
    rows: Vec<Result<CustomerRecord, PortError>>,
) -> PortResult<Vec<CustomerRecord>> {
    rows.into_iter().collect()
}

#[async_trait]
impl CustomerStore for SqliteStore {
    async fn import_customers(
        &self,
        campaign: &CampaignId,
        _expected: usize,
        chunks: &mut Chunks<'_>,
    ) -> PortResult<Vec<CustomerId>> {
        // One transaction over every chunk: all or nothing, and the file is
        // read (chunk by chunk) while it is open, so memory stays flat.
        self.with(|c| {
            let tx = c.transaction()?;
            let mut duplicates = Vec::new();
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO customers (campaign_id, customer_id, zone, profile, status, purge_without_notice)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for chunk in chunks {
                    for r in &chunk {
                        let profile = r
                            .profile
                            .as_ref()
                            .map(profile_to_json)
                            .transpose()
                            .map_err(|e| {
                                rusqlite::Error::ToSqlConversionFailure(e.source.into())
                            })?;
                        let n = insert.execute(params![
                            campaign.as_str(),
                            r.id.as_str(),
                            r.zone.name(),
                            profile,
                            r.status.as_str(),
                            r.purge_without_notice
                        ])?;
                        if n == 0 {
                            duplicates.push(r.id.clone());
                        }
                    }
                }
            }
            tx.commit()?;
            Ok(duplicates)
        })
    }

    async fn customer(
        &self,
        campaign: &CampaignId,
        id: &CustomerId,
    ) -> PortResult<Option<CustomerRecord>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE campaign_id = ?1 AND customer_id = ?2"),
                params![campaign.as_str(), id.as_str()],
                customer_from_row,
            )
            .optional()
        })?
        .transpose()
    }

    async fn customers_page(
        &self,
        campaign: &CampaignId,
        after: Option<&CustomerId>,
        limit: usize,
    ) -> PortResult<Vec<CustomerRecord>> {
        let rows = self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE campaign_id = ?1 AND customer_id > ?2 ORDER BY customer_id LIMIT ?3"
            ))?;
            stmt.query_map(
                params![campaign.as_str(), after.map_or("", |a| a.as_str()), limit as i64],
                customer_from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        collect_customers(rows)
    }

    async fn awaiting_notice(
        &self,
        campaign: &CampaignId,
        milestone: Milestone,
        zone: Tz,
        only_pending: bool,
        after: Option<&CustomerId>,
        limit: usize,
    ) -> PortResult<Vec<CustomerRecord>> {
        let rows = self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {CUSTOMER_COLUMNS} FROM customers c
                 WHERE c.campaign_id = ?1 AND c.zone = ?2 AND c.customer_id > ?3
                   AND c.purged_at IS NULL AND c.tier IS NOT NULL
                   AND (?4 = 0 OR c.status <> 'migrated')
                   AND (NOT EXISTS (SELECT 1 FROM deliveries d
                        WHERE d.campaign_id = c.campaign_id AND d.recipient = c.customer_id
                          AND d.milestone = ?5 AND d.channel = 'email' AND d.occurrence = ''
                          AND (d.sent_at IS NOT NULL OR d.missed_at IS NOT NULL))
                     -- A customer with a phone may still be due the text.
                     OR (json_extract(c.profile, '$.phone') IS NOT NULL
                         AND NOT EXISTS (SELECT 1 FROM deliveries d
                        WHERE d.campaign_id = c.campaign_id AND d.recipient = c.customer_id
                          AND d.milestone = ?5 AND d.channel = 'sms' AND d.occurrence = ''
                          AND (d.sent_at IS NOT NULL OR d.missed_at IS NOT NULL))))
                 ORDER BY c.customer_id LIMIT ?6"
            ))?;
            stmt.query_map(
                params![
                    campaign.as_str(),
                    zone.name(),
                    after.map_or("", |a| a.as_str()),
                    only_pending,
                    milestone.name(),
                    limit as i64
                ],
                customer_from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        collect_customers(rows)
    }

    async fn zones(&self, campaign: &CampaignId) -> PortResult<Vec<Tz>> {
        let names: Vec<String> = self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT DISTINCT zone FROM customers WHERE campaign_id = ?1 ORDER BY zone",
            )?;
            stmt.query_map(params![campaign.as_str()], |r| r.get(0))?
                .collect()
        })?;
        Ok(names.iter().filter_map(|n| n.parse().ok()).collect())
    }

    async fn set_tiers(
        &self,
        campaign: &CampaignId,
        segmented: &[(CustomerRecord, TierDecision)],
    ) -> PortResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE customers SET tier = ?3, tier_score = ?4, tier_reason = ?5
                     WHERE campaign_id = ?1 AND customer_id = ?2 AND tier_override IS NULL",
                )?;
                for (r, d) in segmented {
                    stmt.execute(params![
                        campaign.as_str(),
                        r.id.as_str(),
                        d.tier.as_str(),
                        d.score,
                        d.explanation
                    ])?;
                }
            }
            tx.commit()
        })
    }

    async fn update_contact(
        &self,
        campaign: &CampaignId,
        record: &CustomerRecord,
    ) -> PortResult<bool> {
        let profile = record.profile.as_ref().map(profile_to_json).transpose()?;
        let (at, why) = match &record.suppressed {
            Some(s) => (Some(ts(s.at)), Some(s.reason.clone())),
            None => (None, None),
        };
        let changed = self.with(|c| {
            c.execute(
                "UPDATE customers SET profile = ?3, zone = ?4, suppressed_at = ?5,
                    suppressed_reason = ?6
                 WHERE campaign_id = ?1 AND customer_id = ?2 AND purged_at IS NULL",
                params![
                    campaign.as_str(),
                    record.id.as_str(),
                    profile,
                    record.zone.name(),
                    at,
                    why
                ],
            )
        })?;
        Ok(changed == 1)
    }

    async fn override_tier(
        &self,
        campaign: &CampaignId,
        id: &CustomerId,
        over: &crate::domain::tier::TierOverride,
    ) -> PortResult<bool> {
        let json = records::tier_override_to_json(over)?;
        let changed = self.with(|c| {
            c.execute(
                "UPDATE customers SET tier = ?3, tier_score = COALESCE(tier_score, 0),
                    tier_reason = ?4, tier_override = ?5
                 WHERE campaign_id = ?1 AND customer_id = ?2",
                params![
                    campaign.as_str(),
                    id.as_str(),
                    over.tier.as_str(),
                    over.decision(0).explanation,
                    json
                ],
            )
        })?;
        Ok(changed == 1)
    }

    async fn suppress(
        &self,
        campaign: &CampaignId,
        id: &CustomerId,
        suppression: &Suppression,
    ) -> PortResult<()> {
        self.with(|c| {
            c.prepare_cached(
                "UPDATE customers SET suppressed_at = COALESCE(suppressed_at, ?3),
                    suppressed_reason = COALESCE(suppressed_reason, ?4)
                 WHERE campaign_id = ?1 AND customer_id = ?2",
            )?
            .execute(params![
                campaign.as_str(),
                id.as_str(),
                ts(suppression.at),
                suppression.reason
            ])
        })?;
        Ok(())
    }

    async fn scrub_customers(
        &self,
        campaign: &CampaignId,
        ids: &[CustomerId],
        at: DateTime<Utc>,
    ) -> PortResult<()> {
        let at = ts(at);
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut profile = tx.prepare_cached(
                    "UPDATE customers SET profile = NULL, purged_at = ?3 WHERE campaign_id = ?1 AND customer_id = ?2",
                )?;
                // A decline reason is the customer's own words.
                let mut reasons = tx.prepare_cached(
                    // Version 1 keeps the detail at the top; rows written
                    // before versions, under `kind`.
                    "UPDATE events SET event = json_set(event,
                        CASE WHEN json_extract(event, '$.v') IS NULL THEN '$.kind.detail' ELSE '$.detail' END,
                        '[purged]')
                     WHERE campaign_id = ?1 AND customer_id = ?2 AND kind = 'declined'",
                )?;
                for id in ids {
                    profile.execute(params![campaign.as_str(), id.as_str(), at])?;
                    reasons.execute(params![campaign.as_str(), id.as_str()])?;
                }
            }
            tx.commit()?;
            // Old page images of the scrubbed rows live in the WAL until it
            // is checkpointed and truncated.
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        })
    }

    async fn tier_counts(&self, campaign: &CampaignId) -> PortResult<BTreeMap<String, TierCount>> {
        let rows: Vec<(Option<String>, u64, u64, u64, u64, u64)> = self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT tier, COUNT(*),
                        SUM(status = 'migrated'), SUM(status = 'declined'),
                        SUM(purged_at IS NOT NULL), SUM(legal_hold)
                 FROM customers WHERE campaign_id = ?1 GROUP BY tier",
            )?;
            stmt.query_map(params![campaign.as_str()], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect()
        })?;
        Ok(rows
            .into_iter()
            .map(
                |(tier, customers, migrated, declined, purged, legal_hold)| {
                    (
                        tier.unwrap_or_else(|| "unsegmented".into()),
                        TierCount {
                            customers,
                            migrated,
                            declined,
                            purged,
                            legal_hold,
                        },
                    )
                },
            )
            .collect())
    }
}
