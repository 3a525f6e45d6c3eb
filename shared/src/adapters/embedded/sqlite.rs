//! The embedded store: one SQLite file in the data directory holds
//! campaigns, customers, the delivery ledger, events, export requests, the
//! audit chain and the local scheduler's jobs.
//!
//! Purged data must not be recoverable from the file: `secure_delete`
//! zeroes freed content, and each purge batch ends with a WAL checkpoint
//! that truncates the write-ahead log holding old page images.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::domain::audit::{AuditEntry, ChainedEntry, chain_hash};
use crate::domain::event::CustomerEvent;
use crate::domain::export::{ExportId, ExportRequest};
use crate::domain::ledger::{Delivery, DeliveryKey, Recipient};
use crate::domain::tier::TierDecision;
use crate::domain::{
    Campaign, CampaignId, CustomerId, CustomerRecord, MigrationStatus, Milestone, ScheduledJob,
};
use crate::ports::*;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,
    spec TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS customers (
    campaign_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    zone TEXT NOT NULL,
    profile TEXT,
    tier TEXT,
    tier_score INTEGER,
    tier_reason TEXT,
    status TEXT NOT NULL,
    status_at TEXT,
    legal_hold INTEGER NOT NULL DEFAULT 0,
    extended_until TEXT,
    purged_at TEXT,
    PRIMARY KEY (campaign_id, customer_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS customers_by_zone ON customers (campaign_id, zone, customer_id);
CREATE TABLE IF NOT EXISTS deliveries (
    campaign_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    milestone TEXT NOT NULL,
    channel TEXT NOT NULL,
    occurrence TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    sent_at TEXT,
    message_id TEXT,
    PRIMARY KEY (campaign_id, recipient, milestone, channel, occurrence)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    campaign_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_customer ON events (campaign_id, customer_id);
CREATE TABLE IF NOT EXISTS exports (
    campaign_id TEXT NOT NULL,
    id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    request TEXT NOT NULL,
    PRIMARY KEY (campaign_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS exports_by_customer ON exports (campaign_id, customer_id);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id TEXT NOT NULL,
    entry TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_campaign ON audit (campaign_id, seq);
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL,
    due INTEGER NOT NULL,
    payload TEXT NOT NULL,
    done_at TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_due ON jobs (done_at, due);
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
"#;

/// Changes to a store written by an earlier version, in order: the store's
/// `PRAGMA user_version` counts those applied. `SCHEMA` above is always the
/// newest shape (a new file gets it whole and skips these).
const MIGRATIONS: &[&str] = &[
    // 1: export requests keyed by (campaign, id), no longer by id alone,
    // under which two campaigns' requests could overwrite each other.
    "CREATE TABLE exports_v1 (
        campaign_id TEXT NOT NULL,
        id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        request TEXT NOT NULL,
        PRIMARY KEY (campaign_id, id)
     ) WITHOUT ROWID;
     INSERT INTO exports_v1 (campaign_id, id, customer_id, request)
        SELECT campaign_id, id, customer_id, request FROM exports;
     DROP TABLE exports;
     ALTER TABLE exports_v1 RENAME TO exports;",
];

/// Brings a store to the newest schema: a new file gets `SCHEMA`; one from
/// an earlier version gets the migrations it lacks, each in its own
/// transaction with the version it reaches.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let newest = MIGRATIONS.len() as i64;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tables: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'campaigns'",
        [],
        |r| r.get(0),
    )?;
    if tables == 0 {
        let tx = conn.transaction()?;
        tx.execute_batch(SCHEMA)?;
        tx.pragma_update(None, "user_version", newest)?;
        return tx.commit();
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    // New tables and indexes of the newest schema.
    conn.execute_batch(SCHEMA)
}

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn port_err(e: rusqlite::Error) -> PortError {
    let busy = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    if busy {
        PortError::retryable(e)
    } else {
        PortError::permanent(e)
    }
}

fn json_err(e: serde_json::Error) -> PortError {
    PortError::permanent(anyhow::Error::new(e).context("stored JSON does not match the schema"))
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_ts(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
}

const CUSTOMER_COLUMNS: &str = "customer_id, zone, profile, tier, tier_score, tier_reason, status, status_at, legal_hold, extended_until, purged_at";

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
    Ok((|| {
        let bad =
            |what: &str| PortError::permanent(anyhow::anyhow!("stored customer has a bad {what}"));
        Ok(CustomerRecord {
            id: CustomerId::parse(&id).map_err(|_| bad("id"))?,
            zone: zone.parse::<Tz>().map_err(|_| bad("zone"))?,
            profile: profile
                .map(|p| serde_json::from_str(&p))
                .transpose()
                .map_err(json_err)?,
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
            purged_at: parse_ts(purged),
        })
    })())
}

fn collect_customers(
    rows: Vec<Result<CustomerRecord, PortError>>,
) -> PortResult<Vec<CustomerRecord>> {
    rows.into_iter().collect()
}

impl SqliteStore {
    /// Opens (creating if needed) the store file.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// A store in memory, for unit tests.
    pub fn in_memory() -> anyhow::Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> anyhow::Result<Self> {
        // One process owns the store (the CLI or `sunset serve`): an
        // exclusive lock spares two fcntl calls per transaction, and a page
        // cache plus mmap spare most reads, which matters where system calls
        // are slow.
        conn.execute_batch(
            "PRAGMA page_size = 16384;
             PRAGMA locking_mode = EXCLUSIVE;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA secure_delete = ON;
             PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 5000;
             PRAGMA cache_size = -65536;
             PRAGMA mmap_size = 268435456;",
        )?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        anyhow::ensure!(
            version <= MIGRATIONS.len() as i64,
            "the store was written by a newer sunset (schema {version}; this one knows up to {})",
            MIGRATIONS.len()
        );
        migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> PortResult<T> {
        // A poisoned lock means a panic mid-transaction; SQLite rolled the
        // transaction back, so the connection itself is still sound.
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(port_err)
    }

    /// The link-signing key, made on first use and kept in the store.
    pub fn signing_key(&self) -> PortResult<Vec<u8>> {
        self.with(|c| {
            let existing: Option<Vec<u8>> = c
                .query_row(
                    "SELECT value FROM secrets WHERE name = 'link-key'",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(key) = existing {
                return Ok(key);
            }
            let key: [u8; 32] = rand::random();
            c.execute(
                "INSERT INTO secrets (name, value) VALUES ('link-key', ?1)",
                params![key.to_vec()],
            )?;
            Ok(key.to_vec())
        })
    }

    /// The earliest job not yet done that is due at or before `until`.
    pub fn next_due_job(&self, until: DateTime<Utc>) -> PortResult<Option<ScheduledJob>> {
        let row = self.with(|c| {
            c.query_row(
                "SELECT name, due, payload FROM jobs WHERE done_at IS NULL AND due <= ?1 ORDER BY due, name LIMIT 1",
                params![until.timestamp()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)),
            )
            .optional()
        })?;
        row.map(job_from_parts).transpose()
    }

    /// When the next job not yet done is due.
    pub fn next_job_time(&self) -> PortResult<Option<DateTime<Utc>>> {
        let due: Option<i64> = self.with(|c| {
            c.query_row("SELECT MIN(due) FROM jobs WHERE done_at IS NULL", [], |r| {
                r.get(0)
            })
        })?;
        Ok(due.and_then(|s| DateTime::from_timestamp(s, 0)))
    }

    pub fn mark_job_done(&self, name: &str, at: DateTime<Utc>) -> PortResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET done_at = ?2 WHERE name = ?1",
                params![name, ts(at)],
            )
        })?;
        Ok(())
    }
}

fn job_from_parts((name, due, payload): (String, i64, String)) -> PortResult<ScheduledJob> {
    Ok(ScheduledJob {
        name,
        due: DateTime::from_timestamp(due, 0).unwrap_or_default(),
        job: serde_json::from_str(&payload).map_err(json_err)?,
    })
}

#[async_trait]
impl CampaignStore for SqliteStore {
    async fn put_campaign(&self, campaign: &Campaign) -> PortResult<()> {
        let spec = serde_json::to_string(campaign).map_err(json_err)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO campaigns (id, spec) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET spec = excluded.spec",
                params![campaign.id.as_str(), spec],
            )
        })?;
        Ok(())
    }

    async fn campaign(&self, id: &CampaignId) -> PortResult<Option<Campaign>> {
        let spec: Option<String> = self.with(|c| {
            c.query_row(
                "SELECT spec FROM campaigns WHERE id = ?1",
                params![id.as_str()],
                |r| r.get(0),
            )
            .optional()
        })?;
        spec.map(|s| serde_json::from_str(&s).map_err(json_err))
            .transpose()
    }
}

#[async_trait]
impl CustomerStore for SqliteStore {
    async fn insert_customers(
        &self,
        campaign: &CampaignId,
        records: &[CustomerRecord],
    ) -> PortResult<Vec<CustomerId>> {
        let rows = records
            .iter()
            .map(|r| {
                Ok((
                    r,
                    r.profile
                        .as_ref()
                        .map(serde_json::to_string)
                        .transpose()
                        .map_err(json_err)?,
                ))
            })
            .collect::<PortResult<Vec<_>>>()?;
        self.with(|c| {
            let tx = c.transaction()?;
            let mut duplicates = Vec::new();
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO customers (campaign_id, customer_id, zone, profile, status) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for (r, profile) in &rows {
                    let n = insert.execute(params![
                        campaign.as_str(),
                        r.id.as_str(),
                        r.zone.name(),
                        profile,
                        r.status.as_str()
                    ])?;
                    if n == 0 {
                        duplicates.push(r.id.clone());
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
                   AND NOT EXISTS (SELECT 1 FROM deliveries d
                        WHERE d.campaign_id = c.campaign_id AND d.recipient = c.customer_id
                          AND d.milestone = ?5 AND d.channel = 'email' AND d.occurrence = '')
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
                    "UPDATE customers SET tier = ?3, tier_score = ?4, tier_reason = ?5 WHERE campaign_id = ?1 AND customer_id = ?2",
                )?;
                for (r, d) in segmented {
                    stmt.execute(params![campaign.as_str(), r.id.as_str(), d.tier.as_str(), d.score, d.explanation])?;
                }
            }
            tx.commit()
        })
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
                    "UPDATE events SET event = json_set(event, '$.kind.detail', '[purged]')
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

#[async_trait]
impl EventLog for SqliteStore {
    async fn record_events(
        &self,
        campaign: &CampaignId,
        events: &[(CustomerEvent, Option<CustomerRecord>)],
    ) -> PortResult<()> {
        let rows = events
            .iter()
            .map(|(e, state)| Ok((e, state, serde_json::to_string(e).map_err(json_err)?)))
            .collect::<PortResult<Vec<_>>>()?;
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut update = tx.prepare_cached(
                    "UPDATE customers SET status = ?3, status_at = ?4, legal_hold = ?5, extended_until = ?6
                     WHERE campaign_id = ?1 AND customer_id = ?2",
                )?;
                let mut insert =
                    tx.prepare_cached("INSERT INTO events (campaign_id, customer_id, kind, event) VALUES (?1, ?2, ?3, ?4)")?;
                for (event, state, json) in rows {
                    if let Some(r) = state {
                        update.execute(params![
                            campaign.as_str(),
                            r.id.as_str(),
                            r.status.as_str(),
                            r.status_at.map(ts),
                            r.legal_hold,
                            r.extended_until.map(|d| d.to_string())
                        ])?;
                    }
                    insert.execute(params![campaign.as_str(), event.customer.as_str(), event.kind.name(), json])?;
                }
            }
            tx.commit()
        })
    }

    async fn events_of(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Vec<CustomerEvent>> {
        let rows: Vec<String> = self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT event FROM events WHERE campaign_id = ?1 AND customer_id = ?2 ORDER BY seq",
            )?;
            stmt.query_map(params![campaign.as_str(), customer.as_str()], |r| r.get(0))?
                .collect()
        })?;
        rows.iter()
            .map(|s| serde_json::from_str(s).map_err(json_err))
            .collect()
    }

    async fn events(&self, campaign: &CampaignId) -> PortResult<Vec<CustomerEvent>> {
        let rows: Vec<String> = self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT event FROM events WHERE campaign_id = ?1 ORDER BY seq")?;
            stmt.query_map(params![campaign.as_str()], |r| r.get(0))?
                .collect()
        })?;
        rows.iter()
            .map(|s| serde_json::from_str(s).map_err(json_err))
            .collect()
    }
}

#[async_trait]
impl ExportStore for SqliteStore {
    async fn put_export(&self, r: &ExportRequest) -> PortResult<()> {
        let json = serde_json::to_string(r).map_err(json_err)?;
        let written = self.with(|c| {
            c.execute(
                "INSERT INTO exports (campaign_id, id, customer_id, request) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (campaign_id, id) DO UPDATE SET request = excluded.request
                 WHERE exports.customer_id = excluded.customer_id",
                params![r.campaign.as_str(), r.id.as_str(), r.customer.as_str(), json],
            )
        })?;
        if written == 0 {
            return Err(PortError::permanent(anyhow::anyhow!(
                "export request {} belongs to another customer",
                r.id
            )));
        }
        Ok(())
    }

    async fn export(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
        id: &ExportId,
    ) -> PortResult<Option<ExportRequest>> {
        let json: Option<String> = self.with(|c| {
            c.query_row(
                "SELECT request FROM exports WHERE campaign_id = ?1 AND id = ?2 AND customer_id = ?3",
                params![campaign.as_str(), id.as_str(), customer.as_str()],
                |r| r.get(0),
            )
            .optional()
        })?;
        json.map(|s| serde_json::from_str(&s).map_err(json_err))
            .transpose()
    }

    async fn exports_of(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Vec<ExportRequest>> {
        let rows: Vec<String> = self.with(|c| {
            let mut stmt = c.prepare_cached("SELECT request FROM exports WHERE campaign_id = ?1 AND customer_id = ?2 ORDER BY id")?;
            stmt.query_map(params![campaign.as_str(), customer.as_str()], |r| r.get(0))?.collect()
        })?;
        rows.iter()
            .map(|s| serde_json::from_str(s).map_err(json_err))
            .collect()
    }

    async fn all_exports(&self, campaign: &CampaignId) -> PortResult<Vec<ExportRequest>> {
        let rows: Vec<String> = self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT request FROM exports WHERE campaign_id = ?1 ORDER BY id")?;
            stmt.query_map(params![campaign.as_str()], |r| r.get(0))?
                .collect()
        })?;
        rows.iter()
            .map(|s| serde_json::from_str(s).map_err(json_err))
            .collect()
    }
}

#[async_trait]
impl AuditLog for SqliteStore {
    async fn append_all(&self, entries: Vec<AuditEntry>) -> PortResult<Vec<ChainedEntry>> {
        let rows = entries
            .into_iter()
            .map(|e| Ok((serde_json::to_string(&e).map_err(json_err)?, e)))
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

    async fn entries(&self, campaign: &CampaignId) -> PortResult<Vec<ChainedEntry>> {
        let rows: Vec<(i64, String, String, String)> = self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, entry, prev_hash, hash FROM audit WHERE campaign_id = ?1 ORDER BY seq",
            )?;
            stmt.query_map(params![campaign.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect()
        })?;
        rows.into_iter()
            .map(|(seq, entry, prev_hash, hash)| {
                Ok(ChainedEntry {
                    seq: seq as u64,
                    entry: serde_json::from_str(&entry).map_err(json_err)?,
                    prev_hash,
                    hash,
                })
            })
            .collect()
    }
}

#[async_trait]
impl Scheduler for SqliteStore {
    async fn upsert(&self, job: &ScheduledJob) -> PortResult<()> {
        let payload = serde_json::to_string(&job.job).map_err(json_err)?;
        self.with(|c| {
            // Planning again with the same time keeps a done job done; a
            // moved date makes it due again.
            c.prepare_cached(
                "INSERT INTO jobs (name, campaign_id, due, payload) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET
                    payload = excluded.payload,
                    done_at = CASE WHEN jobs.due = excluded.due THEN jobs.done_at ELSE NULL END,
                    due = excluded.due",
            )?
            .execute(params![
                job.name,
                job.job.campaign().as_str(),
                job.due.timestamp(),
                payload
            ])
        })?;
        Ok(())
    }

    async fn scheduled(&self, campaign: &CampaignId) -> PortResult<Vec<ScheduledJob>> {
        let rows: Vec<(String, i64, String)> = self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT name, due, payload FROM jobs WHERE campaign_id = ?1 ORDER BY due, name",
            )?;
            stmt.query_map(params![campaign.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect()
        })?;
        rows.into_iter().map(job_from_parts).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store as the first release wrote it (schema 0): export requests
    /// keyed by id alone.
    const SCHEMA_0_EXPORTS: &str = "
        CREATE TABLE campaigns (id TEXT PRIMARY KEY, spec TEXT NOT NULL);
        CREATE TABLE exports (
            id TEXT PRIMARY KEY,
            campaign_id TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            request TEXT NOT NULL
        );
        CREATE INDEX exports_by_customer ON exports (campaign_id, customer_id);";

    #[tokio::test]
    async fn a_store_of_the_first_release_is_migrated_and_keeps_its_exports() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sunset.db");
        let campaign = CampaignId::parse("c").unwrap();
        let customer = CustomerId::parse("a1").unwrap();
        let old = ExportRequest::new(
            ExportId::parse("x20270301T143000000Z").unwrap(),
            campaign.clone(),
            customer.clone(),
            "2027-03-01T14:30:00Z".parse().unwrap(),
        );
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(SCHEMA_0_EXPORTS).unwrap();
            c.execute(
                "INSERT INTO exports (id, campaign_id, customer_id, request) VALUES (?1, ?2, ?3, ?4)",
                params![old.id.as_str(), "c", "a1", serde_json::to_string(&old).unwrap()],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            store.export(&campaign, &customer, &old.id).await.unwrap(),
            Some(old.clone())
        );
        // The same id in another campaign is another request now.
        let other = CampaignId::parse("d").unwrap();
        let mut theirs = old.clone();
        theirs.campaign = other.clone();
        store.put_export(&theirs).await.unwrap();
        assert_eq!(store.all_exports(&campaign).await.unwrap(), vec![old]);
        assert_eq!(store.all_exports(&other).await.unwrap(), vec![theirs]);
        let version: i64 = store
            .with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        drop(store);
        // Opening again applies nothing twice.
        SqliteStore::open(&path).unwrap();
    }

    #[tokio::test]
    async fn a_request_never_changes_hands() {
        let store = SqliteStore::in_memory().unwrap();
        let campaign = CampaignId::parse("c").unwrap();
        let id = ExportId::generate();
        let at = "2027-03-01T14:30:00Z".parse().unwrap();
        let mine = ExportRequest::new(
            id.clone(),
            campaign.clone(),
            CustomerId::parse("a1").unwrap(),
            at,
        );
        store.put_export(&mine).await.unwrap();
        let theirs = ExportRequest::new(
            id.clone(),
            campaign.clone(),
            CustomerId::parse("b1").unwrap(),
            at,
        );
        assert!(store.put_export(&theirs).await.is_err());
        assert_eq!(
            store
                .export(&campaign, &theirs.customer, &id)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store.export(&campaign, &mine.customer, &id).await.unwrap(),
            Some(mine)
        );
    }
}
