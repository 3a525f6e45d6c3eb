//! The embedded store: one SQLite file in the data directory holds
//! campaigns, customers, the delivery ledger, events, export requests, the
//! audit chain and the local scheduler's jobs — one file per part here.
//!
//! Purged data must not be recoverable from the file: `secure_delete`
//! zeroes freed content, and each purge batch ends with a WAL checkpoint
//! that truncates the write-ahead log holding old page images.

mod audit;
mod customers;
mod events;
mod exports;
mod jobs;
mod ledger;
mod outreach;

use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::adapters::records;
use crate::domain::lifecycle::{CampaignStatus, Cancellation};
use crate::domain::reputation::{DeliveryCounts, Pause};
use crate::domain::{Campaign, CampaignId};
use crate::ports::{CampaignStore, PortError, PortResult};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    launched_at TEXT,
    paused TEXT,
    cancelled TEXT,
    sent_count INTEGER NOT NULL DEFAULT 0,
    hard_bounces INTEGER NOT NULL DEFAULT 0,
    complaints INTEGER NOT NULL DEFAULT 0
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
    purge_without_notice INTEGER NOT NULL DEFAULT 0,
    suppressed_at TEXT,
    suppressed_reason TEXT,
    tier_override TEXT,
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
    lease_until TEXT,
    sent_at TEXT,
    message_id TEXT,
    missed_at TEXT,
    accepted_at TEXT,
    delivered_at TEXT,
    bounced_at TEXT,
    bounce TEXT,
    complained_at TEXT,
    opened_at TEXT,
    clicked_at TEXT,
    delayed_at TEXT,
    rejected_at TEXT,
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
    done_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER,
    last_error TEXT,
    failed_at TEXT,
    gave_up_at TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_next ON jobs (done_at, gave_up_at, next_at);
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
-- `task` is a versioned record (adapters::records), not a domain struct.
CREATE TABLE IF NOT EXISTS outreach (
    campaign_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    task TEXT NOT NULL,
    PRIMARY KEY (campaign_id, customer_id)
) WITHOUT ROWID;
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
    // 2: a job that fails is retried with back-off on its own (`next_at`),
    // or given up, instead of being retried first on every tick.
    "ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE jobs ADD COLUMN next_at INTEGER;
     ALTER TABLE jobs ADD COLUMN last_error TEXT;
     ALTER TABLE jobs ADD COLUMN failed_at TEXT;
     ALTER TABLE jobs ADD COLUMN gave_up_at TEXT;
     UPDATE jobs SET next_at = due;
     DROP INDEX IF EXISTS jobs_by_due;",
    // 3: when a campaign was first launched (a late first launch is
    // refused), and the operator's decision to purge a customer who was
    // never told.
    "ALTER TABLE campaigns ADD COLUMN launched_at TEXT;
     ALTER TABLE customers ADD COLUMN purge_without_notice INTEGER NOT NULL DEFAULT 0;",
    // 4: a claim is a lease (a claim left unsent by a crash is taken again
    // once it ends; claims written before have none and count as ended),
    // and a message past its grace is recorded as missed.
    "ALTER TABLE deliveries ADD COLUMN lease_until TEXT;
     ALTER TABLE deliveries ADD COLUMN missed_at TEXT;",
    // 5: what SES said happened to each message; suppressed addresses; a
    // campaign's pause and the counts its reputation guard reads.
    "ALTER TABLE deliveries ADD COLUMN accepted_at TEXT;
     ALTER TABLE deliveries ADD COLUMN delivered_at TEXT;
     ALTER TABLE deliveries ADD COLUMN bounced_at TEXT;
     ALTER TABLE deliveries ADD COLUMN bounce TEXT;
     ALTER TABLE deliveries ADD COLUMN complained_at TEXT;
     ALTER TABLE deliveries ADD COLUMN opened_at TEXT;
     ALTER TABLE deliveries ADD COLUMN clicked_at TEXT;
     ALTER TABLE deliveries ADD COLUMN delayed_at TEXT;
     ALTER TABLE deliveries ADD COLUMN rejected_at TEXT;
     ALTER TABLE customers ADD COLUMN suppressed_at TEXT;
     ALTER TABLE customers ADD COLUMN suppressed_reason TEXT;
     ALTER TABLE campaigns ADD COLUMN paused TEXT;
     ALTER TABLE campaigns ADD COLUMN sent_count INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE campaigns ADD COLUMN hard_bounces INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE campaigns ADD COLUMN complaints INTEGER NOT NULL DEFAULT 0;",
    // 6: an operator's cancellation (no further notices; the purge stays).
    "ALTER TABLE campaigns ADD COLUMN cancelled TEXT;",
    // 7: the operator's tier for a customer, which segmentation leaves.
    "ALTER TABLE customers ADD COLUMN tier_override TEXT;",
    // 8: the core customers' outreach tasks (a new table: `SCHEMA` makes
    // it on every open).
    "",
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

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_ts(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
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

    /// Runs `f` on the connection, off the async runtime: waiting for the
    /// connection (another call's transaction) and for the disk blocks
    /// this thread only, not the tasks that shared its worker.
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> PortResult<T> {
        crate::parallel::blocking(|| {
            // A poisoned lock means a panic mid-transaction; SQLite rolled
            // the transaction back, so the connection itself is still sound.
            let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn).map_err(port_err)
        })
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
}

#[async_trait]
impl CampaignStore for SqliteStore {
    async fn put_campaign(&self, campaign: &Campaign) -> PortResult<()> {
        let spec = crate::adapters::records::campaign_to_json(campaign)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO campaigns (id, spec) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET spec = excluded.spec",
                params![campaign.id.as_str(), spec],
            )
        })?;
        Ok(())
    }

    async fn launched_at(&self, id: &CampaignId) -> PortResult<Option<DateTime<Utc>>> {
        let at: Option<Option<String>> = self.with(|c| {
            c.query_row(
                "SELECT launched_at FROM campaigns WHERE id = ?1",
                params![id.as_str()],
                |r| r.get(0),
            )
            .optional()
        })?;
        Ok(parse_ts(at.flatten()))
    }

    async fn mark_launched(&self, id: &CampaignId, at: DateTime<Utc>) -> PortResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE campaigns SET launched_at = COALESCE(launched_at, ?2) WHERE id = ?1",
                params![id.as_str(), ts(at)],
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
        spec.as_deref()
            .map(crate::adapters::records::campaign_from_json)
            .transpose()
    }

    async fn count_delivery(&self, id: &CampaignId, add: DeliveryCounts) -> PortResult<()> {
        self.with(|c| {
            c.prepare_cached(
                "UPDATE campaigns SET sent_count = sent_count + ?2, hard_bounces = hard_bounces + ?3,
                    complaints = complaints + ?4 WHERE id = ?1",
            )?
            .execute(params![
                id.as_str(),
                add.sent,
                add.hard_bounces,
                add.complaints
            ])
        })?;
        Ok(())
    }

    async fn delivery_counts(&self, id: &CampaignId) -> PortResult<DeliveryCounts> {
        let counts = self.with(|c| {
            c.query_row(
                "SELECT sent_count, hard_bounces, complaints FROM campaigns WHERE id = ?1",
                params![id.as_str()],
                |r| {
                    Ok(DeliveryCounts {
                        sent: r.get(0)?,
                        hard_bounces: r.get(1)?,
                        complaints: r.get(2)?,
                    })
                },
            )
            .optional()
        })?;
        Ok(counts.unwrap_or_default())
    }

    async fn set_paused(&self, id: &CampaignId, pause: Option<&Pause>) -> PortResult<()> {
        let json = pause.map(records::pause_to_json).transpose()?;
        self.with(|c| {
            c.execute(
                "UPDATE campaigns SET paused = ?2 WHERE id = ?1",
                params![id.as_str(), json],
            )
        })?;
        Ok(())
    }

    async fn paused(&self, id: &CampaignId) -> PortResult<Option<Pause>> {
        let json: Option<Option<String>> = self.with(|c| {
            c.query_row(
                "SELECT paused FROM campaigns WHERE id = ?1",
                params![id.as_str()],
                |r| r.get(0),
            )
            .optional()
        })?;
        json.flatten()
            .map(|j| records::pause_from_json(&j))
            .transpose()
    }

    async fn cancel(&self, id: &CampaignId, cancellation: &Cancellation) -> PortResult<()> {
        let json = records::cancellation_to_json(cancellation)?;
        self.with(|c| {
            c.execute(
                "UPDATE campaigns SET cancelled = COALESCE(cancelled, ?2) WHERE id = ?1",
                params![id.as_str(), json],
            )
        })?;
        Ok(())
    }

    async fn status(&self, id: &CampaignId) -> PortResult<Option<CampaignStatus>> {
        let row: Option<(Option<String>, Option<String>, Option<String>)> = self.with(|c| {
            c.query_row(
                "SELECT launched_at, paused, cancelled FROM campaigns WHERE id = ?1",
                params![id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
        })?;
        let Some((launched_at, paused, cancelled)) = row else {
            return Ok(None);
        };
        Ok(Some(CampaignStatus {
            launched_at: parse_ts(launched_at),
            paused: paused.map(|j| records::pause_from_json(&j)).transpose()?,
            cancelled: cancelled
                .map(|j| records::cancellation_from_json(&j))
                .transpose()?,
        }))
    }

    async fn campaign_ids(&self) -> PortResult<Vec<CampaignId>> {
        let ids: Vec<String> = self.with(|c| {
            c.prepare_cached("SELECT id FROM campaigns ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect()
        })?;
        ids.into_iter()
            .map(|id| {
                CampaignId::parse(&id).map_err(|e| {
                    PortError::permanent(anyhow::anyhow!("a stored campaign id: {}", e.0))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CustomerId;
    use crate::domain::export::{ExportId, ExportRequest};
    use crate::ports::ExportStore;

    /// The store as the first release wrote it (schema 0, no
    /// `user_version`): export requests keyed by id alone, jobs without
    /// retries.
    const SCHEMA_0: &str = r#"
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
    id TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    request TEXT NOT NULL
);
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
            c.execute_batch(SCHEMA_0).unwrap();
            c.execute(
                "INSERT INTO exports (id, campaign_id, customer_id, request) VALUES (?1, ?2, ?3, ?4)",
                params![old.id.as_str(), "c", "a1", serde_json::to_string(&old).unwrap()],
            )
            .unwrap();
            c.execute(
                "INSERT INTO jobs (name, campaign_id, due, payload) VALUES ('c.purge', 'c', 1830000000, ?1)",
                params![r#"{"job":"purge","campaign":"c"}"#],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            store.export(&campaign, &customer, &old.id).await.unwrap(),
            Some(old.clone())
        );
        // A job planned by the first release runs when it is due.
        let due = DateTime::from_timestamp(1_830_000_000, 0).unwrap();
        assert_eq!(
            store
                .next_due_job(due - chrono::Duration::seconds(1))
                .unwrap(),
            None
        );
        assert_eq!(store.next_due_job(due).unwrap().unwrap().name, "c.purge");
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

    /// Rows as the release before record versions wrote them: the
    /// domain's JSON, no `v`. Each reads; what is written beside them is
    /// version 1; the audit chain still verifies.
    #[tokio::test]
    async fn pauses_cancellations_overrides_audit_entries_and_jobs_from_before_versions_read() {
        use crate::domain::audit::{AuditEntry, verify_chain};
        use crate::domain::{Customer, CustomerRecord, EmailAddress, Tier};
        use crate::ports::{AuditLog, CustomerStore, Scheduler};
        let store = SqliteStore::in_memory().unwrap();
        let campaign = Campaign::from_toml(crate::app::demo::CAMPAIGN).unwrap();
        let id = campaign.id.clone();
        store.put_campaign(&campaign).await.unwrap();
        let who = CustomerId::parse("C000001").unwrap();
        let customer = Customer::new(
            who.clone(),
            crate::domain::ids::DisplayName::parse("Garcia Trading").unwrap(),
            EmailAddress::parse("owen@example.com").unwrap(),
        );
        store
            .insert_customers(&id, &[CustomerRecord::new(customer, chrono_tz::UTC)])
            .await
            .unwrap();
        let entry = AuditEntry {
            at: "2027-11-01T09:00:00Z".parse().unwrap(),
            campaign: id.clone(),
            customer: Some(who.clone()),
            action: "purged".into(),
            detail: serde_json::json!({"files": 4}),
        };
        store.append(entry.clone()).await.unwrap();
        store
            .with(|c| {
                c.execute(
                    "UPDATE campaigns SET paused = ?2, cancelled = ?3 WHERE id = ?1",
                    params![
                        id.as_str(),
                        r#"{"at":"2027-03-01T08:00:00Z","reason":"hard bounces"}"#,
                        r#"{"at":"2027-03-02T08:00:00Z","by":"Ana","reason":"kept"}"#
                    ],
                )?;
                c.execute(
                    "UPDATE customers SET tier = 'core', tier_score = 0, tier_reason = 'x',
                        tier_override = ?2 WHERE customer_id = ?1",
                    params![
                        who.as_str(),
                        r#"{"tier":"core","by":"Li","reason":"renewed","at":"2027-01-05T10:00:00Z"}"#
                    ],
                )?;
                c.execute(
                    "UPDATE audit SET entry = ?1",
                    params![serde_json::to_string(&entry).unwrap()],
                )?;
                c.execute(
                    "INSERT INTO jobs (name, campaign_id, due, next_at, payload)
                     VALUES ('old.notice', ?1, 1830000000, 1830000000, ?2)",
                    params![
                        id.as_str(),
                        format!(
                            r#"{{"job":"notice","campaign":"{id}","milestone":"reminder-30","timezone":"Asia/Shanghai"}}"#
                        )
                    ],
                )
            })
            .unwrap();
        let status = store.status(&id).await.unwrap().unwrap();
        assert_eq!(status.paused.unwrap().reason, "hard bounces");
        assert_eq!(status.cancelled.unwrap().by, "Ana");
        let read = store.customer(&id, &who).await.unwrap().unwrap();
        assert_eq!(read.tier_override.unwrap().tier, Tier::Core);
        let chain = store.entries_after(&id, 0, 10).await.unwrap();
        assert_eq!(chain[0].entry, entry);
        verify_chain(&chain).unwrap();
        let jobs = store.scheduled(&id).await.unwrap();
        assert!(
            jobs.iter()
                .any(|j| j.name == "old.notice"
                    && matches!(j.job, crate::domain::Job::Notice { .. })),
            "{jobs:?}"
        );
        // Written now: version 1, read back the same.
        store
            .set_paused(
                &id,
                Some(&Pause {
                    at: "2027-03-03T08:00:00Z".parse().unwrap(),
                    reason: "operator".into(),
                }),
            )
            .await
            .unwrap();
        store.append(entry.clone()).await.unwrap();
        let (paused, last): (String, String) = store
            .with(|c| {
                c.query_row(
                    "SELECT paused, (SELECT entry FROM audit ORDER BY seq DESC LIMIT 1)
                     FROM campaigns WHERE id = ?1",
                    params![id.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .unwrap();
        assert!(paused.starts_with(r#"{"v":1,"#), "{paused}");
        assert!(last.starts_with(r#"{"v":1,"#), "{last}");
        verify_chain(&store.entries_after(&id, 0, 10).await.unwrap()).unwrap();
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

    /// With the connection taken (a purge's transaction, here a plain
    /// thread's) and as many tasks waiting for it as the runtime has
    /// workers, another task still runs: `sunset serve` answers what does
    /// not need the database meanwhile. Before the store's calls left the
    /// runtime, both workers sat in the lock and nothing else ran.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_for_the_database_leaves_the_runtime_to_others() {
        use crate::ports::CampaignStore;
        use std::sync::{Arc, mpsc};
        let store = Arc::new(SqliteStore::in_memory().unwrap());
        let (release, released) = mpsc::channel::<()>();
        let (taken, is_taken) = mpsc::channel::<()>();
        let holder = {
            let store = store.clone();
            std::thread::spawn(move || {
                store.with(|_| {
                    taken.send(()).unwrap();
                    released.recv().unwrap();
                    Ok(())
                })
            })
        };
        is_taken.recv().unwrap();
        let (started, has_started) = mpsc::channel::<()>();
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let (store, started) = (store.clone(), started.clone());
                tokio::spawn(async move {
                    // From here to the lock, nothing yields: this worker
                    // is the store's until it has the connection.
                    started.send(()).unwrap();
                    store.campaign_ids().await
                })
            })
            .collect();
        has_started.recv().unwrap();
        has_started.recv().unwrap();
        let (ran, has_run) = mpsc::channel::<()>();
        tokio::spawn(async move { ran.send(()).unwrap() });
        // Generous: it runs at once, or never while the lock is held.
        let other = has_run.recv_timeout(std::time::Duration::from_secs(20));
        release.send(()).unwrap();
        holder.join().unwrap().unwrap();
        for w in waiting {
            w.await.unwrap().unwrap();
        }
        assert!(other.is_ok(), "no other task ran while the store waited");
    }
}
