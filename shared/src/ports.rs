//! The ports: what the services need from the world. Embedded adapters
//! (SQLite, Maildir, directories) and AWS adapters implement the same traits,
//! and one contract suite checks both.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::audit::{AuditEntry, ChainedEntry};
use crate::domain::customer::Suppression;
use crate::domain::delivery_event::DeliveryOutcome;
use crate::domain::event::CustomerEvent;
use crate::domain::export::{ExportId, ExportRequest};
use crate::domain::ids::{Mailbox, MobileNumber};
use crate::domain::ledger::{Channel, Claimed, Delivery, DeliveryKey, Lease};
use crate::domain::lifecycle::{CampaignStatus, Cancellation};
use crate::domain::outreach::OutreachTask;
use crate::domain::reputation::{DeliveryCounts, Pause};
use crate::domain::tier::{TierDecision, TierOverride};
use crate::domain::{
    Campaign, CampaignId, CustomerId, CustomerRecord, EmailAddress, Milestone, ScheduledJob,
};

/// An adapter failure. `retryable` tells an event function whether the
/// runtime should try again (throttling, time-outs) or give up (bad data).
#[derive(Debug, thiserror::Error)]
#[error("{source:#}")]
pub struct PortError {
    pub retryable: bool,
    #[source]
    pub source: anyhow::Error,
}

impl PortError {
    pub fn permanent(source: impl Into<anyhow::Error>) -> Self {
        Self {
            retryable: false,
            source: source.into(),
        }
    }
    pub fn retryable(source: impl Into<anyhow::Error>) -> Self {
        Self {
            retryable: true,
            source: source.into(),
        }
    }
}

pub type PortResult<T> = Result<T, PortError>;

/// The time, real or simulated.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

#[async_trait]
pub trait CampaignStore: Send + Sync {
    /// Creates or replaces a campaign (its launch time stays).
    async fn put_campaign(&self, campaign: &Campaign) -> PortResult<()>;
    async fn campaign(&self, id: &CampaignId) -> PortResult<Option<Campaign>>;
    /// When the campaign was first launched; `None` before.
    async fn launched_at(&self, id: &CampaignId) -> PortResult<Option<DateTime<Utc>>>;
    /// Records the first launch; a later call keeps the first time.
    async fn mark_launched(&self, id: &CampaignId, at: DateTime<Utc>) -> PortResult<()>;
    /// Adds to the campaign's running delivery counts (atomically: many
    /// runs and events add at once).
    async fn count_delivery(&self, id: &CampaignId, add: DeliveryCounts) -> PortResult<()>;
    async fn delivery_counts(&self, id: &CampaignId) -> PortResult<DeliveryCounts>;
    /// Pauses the campaign's remaining waves (`Some`) or resumes them.
    async fn set_paused(&self, id: &CampaignId, pause: Option<&Pause>) -> PortResult<()>;
    async fn paused(&self, id: &CampaignId) -> PortResult<Option<Pause>>;
    /// Records that the campaign was cancelled; a later call keeps the
    /// first cancellation.
    async fn cancel(&self, id: &CampaignId, cancellation: &Cancellation) -> PortResult<()>;
    /// Launch, pause and cancellation in one read; `None`: no campaign.
    async fn status(&self, id: &CampaignId) -> PortResult<Option<CampaignStatus>>;
    /// Every campaign's id, in order.
    async fn campaign_ids(&self) -> PortResult<Vec<CampaignId>>;
}

/// Per-tier figures that survive the purge.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TierCount {
    pub customers: u64,
    pub migrated: u64,
    pub declined: u64,
    pub purged: u64,
    pub legal_hold: u64,
}

/// Chunks of customers an import hands the store, read from the file as
/// they are asked for.
pub type Chunks<'a> = dyn Iterator<Item = Vec<CustomerRecord>> + Send + 'a;

#[async_trait]
pub trait CustomerStore: Send + Sync {
    /// Inserts the customers `chunks` yields that are not there yet, all or
    /// nothing (one transaction embedded; DynamoDB, which has no
    /// transaction of that size, deletes what a failed import wrote), one
    /// chunk in memory at a time; `expected` is about how many it will
    /// yield. Returns the ids that already existed (left as they were).
    async fn import_customers(
        &self,
        campaign: &CampaignId,
        expected: usize,
        chunks: &mut Chunks<'_>,
    ) -> PortResult<Vec<CustomerId>>;

    /// `import_customers` of customers already in memory.
    async fn insert_customers(
        &self,
        campaign: &CampaignId,
        records: &[CustomerRecord],
    ) -> PortResult<Vec<CustomerId>> {
        let mut once = std::iter::once(records.to_vec()).filter(|c| !c.is_empty());
        self.import_customers(campaign, records.len(), &mut once)
            .await
    }
    async fn customer(
        &self,
        campaign: &CampaignId,
        id: &CustomerId,
    ) -> PortResult<Option<CustomerRecord>>;
    /// At most `limit` customers following `after`, the last customer of the
    /// previous page. The order is the adapter's (by id embedded; by shard,
    /// then id, on DynamoDB): walking the pages lists everyone once, and a
    /// page shorter than `limit` is the last.
    async fn customers_page(
        &self,
        campaign: &CampaignId,
        after: Option<&CustomerId>,
        limit: usize,
    ) -> PortResult<Vec<CustomerRecord>>;
    /// Customers in `zone` who are segmented (have a tier) and not purged;
    /// with `only_pending`, also not migrated (the campaign's rules send
    /// the milestone to no migrated customer); paged like
    /// `customers_page`.
    /// Segmentation is what puts a customer in the waves (a late import
    /// joins them when the campaign is launched again). It may leave out
    /// customers whose `milestone` was sent or missed (the embedded store
    /// does) or list them (DynamoDB's sparse index does); it lists those
    /// merely claimed, whose lease may have run out. The ledger's claim is
    /// what decides. This is the query a reminder wave
    /// runs: its cost grows with who is left, not with the campaign.
    async fn awaiting_notice(
        &self,
        campaign: &CampaignId,
        milestone: Milestone,
        zone: Tz,
        only_pending: bool,
        after: Option<&CustomerId>,
        limit: usize,
    ) -> PortResult<Vec<CustomerRecord>>;
    /// The zones customers are in (their own, else the campaign's), by name.
    async fn zones(&self, campaign: &CampaignId) -> PortResult<Vec<Tz>>;
    /// Stores each customer's tier, which puts them in the waves their state
    /// allows (a migration or purge recorded meanwhile stands).
    async fn set_tiers(
        &self,
        campaign: &CampaignId,
        segmented: &[(CustomerRecord, TierDecision)],
    ) -> PortResult<()>;
    /// Marks a customer's address as never to be mailed again (a hard
    /// bounce or a complaint); a later call keeps the first reason.
    /// Writes a stored customer's contact: `profile`, `zone` and
    /// `suppressed` as given (`None` lifts a suppression), the waves'
    /// indexes following the zone. `false`: no such customer, or purged.
    async fn update_contact(
        &self,
        campaign: &CampaignId,
        record: &CustomerRecord,
    ) -> PortResult<bool>;
    /// Sets the operator's tier (and the decision it stands for), which
    /// `set_tiers` then leaves alone; puts the customer in the waves as
    /// segmentation would. `false`: no such customer.
    async fn override_tier(
        &self,
        campaign: &CampaignId,
        id: &CustomerId,
        over: &TierOverride,
    ) -> PortResult<bool>;
    async fn suppress(
        &self,
        campaign: &CampaignId,
        id: &CustomerId,
        suppression: &Suppression,
    ) -> PortResult<()>;
    /// Deletes these customers' personal data for good, keeping only the
    /// non-personal columns (tier, status, dates) for the report.
    async fn scrub_customers(
        &self,
        campaign: &CampaignId,
        ids: &[CustomerId],
        at: DateTime<Utc>,
    ) -> PortResult<()>;
    async fn tier_counts(&self, campaign: &CampaignId) -> PortResult<BTreeMap<String, TierCount>>;
}

#[async_trait]
pub trait DeliveryLedger: Send + Sync {
    /// Claims each key that is free: never claimed, or claimed but neither
    /// sent nor missed and with a lease that ended by `lease.at`; for each
    /// key, whether this call took it or what it found instead. Each key
    /// is one conditional write, so of runs racing for a key exactly one
    /// wins.
    async fn claim(&self, keys: &[DeliveryKey], lease: Lease) -> PortResult<Vec<Claimed>>;
    /// Records messages as sent, with the provider's message ids, whoever
    /// holds the claim now (the message went out: that is the truth to
    /// keep).
    async fn mark_sent(&self, sent: &[(DeliveryKey, String)], at: DateTime<Utc>) -> PortResult<()>;
    /// Gives up a claim whose send failed, so a retry sends it.
    async fn release(&self, key: &DeliveryKey) -> PortResult<()>;
    /// Records each free key (as `claim` would take it) as missed: its
    /// message will not go out, and no later run takes it; for each key,
    /// whether this call recorded it or what it found instead.
    async fn mark_missed(
        &self,
        keys: &[DeliveryKey],
        at: DateTime<Utc>,
    ) -> PortResult<Vec<Claimed>>;
    /// Records what the provider said happened to a sent message, on the
    /// entry of `key` if it was sent with `message_id`. Each outcome keeps
    /// its first time (events come at least once); a hard bounce overrides
    /// a soft one.
    async fn record_outcome(
        &self,
        key: &DeliveryKey,
        message_id: &str,
        outcome: DeliveryOutcome,
        at: DateTime<Utc>,
    ) -> PortResult<OutcomeRecorded>;
    /// Whether each key's message was sent (not only claimed).
    async fn sent(&self, keys: &[DeliveryKey]) -> PortResult<Vec<bool>>;
    /// Messages sent and missed, per channel and milestone name.
    async fn tallies(&self, campaign: &CampaignId) -> PortResult<Tallies>;
    async fn deliveries_to(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Vec<Delivery>>;
}

/// What recording a delivery outcome found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeRecorded {
    /// Recorded now, for the first time.
    First,
    /// Recorded before: a repeated event.
    Again,
    /// No message with that key and id was sent (another deployment's, or
    /// forged): nothing recorded.
    NoSuchMessage,
}

/// One milestone's messages, as the ledger counts them: what went out,
/// and what the provider's events said of it.
/// A campaign's ledger figures: per channel, per milestone name.
pub type Tallies = BTreeMap<Channel, BTreeMap<String, Tally>>;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    pub sent: u64,
    /// Past their grace: recorded, never sent.
    pub missed: u64,
    pub delivered: u64,
    /// Hard bounces (the address does not exist).
    pub bounced: u64,
    pub soft_bounced: u64,
    pub complained: u64,
    pub opened: u64,
    pub clicked: u64,
}

impl Tally {
    pub fn add(&mut self, other: &Tally) {
        self.sent += other.sent;
        self.missed += other.missed;
        self.delivered += other.delivered;
        self.bounced += other.bounced;
        self.soft_bounced += other.soft_bounced;
        self.complained += other.complained;
        self.opened += other.opened;
        self.clicked += other.clicked;
    }
}

/// Ticket, decline, hold and extension events, kept for the report.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Records events, each with the customer's new state (status, legal
    /// hold, extension) when it changed, in one atomic write. A customer
    /// migrates once: an event that would migrate one already migrated
    /// when it is written (another call did it first) is not recorded, nor
    /// its state; the answer is the indexes of those.
    async fn record_events(
        &self,
        campaign: &CampaignId,
        events: &[(CustomerEvent, Option<CustomerRecord>)],
    ) -> PortResult<Vec<usize>>;
    async fn events(&self, campaign: &CampaignId) -> PortResult<Vec<CustomerEvent>>;
    async fn events_of(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Vec<CustomerEvent>>;
}

/// The core customers' outreach tasks, one per customer of a campaign.
#[async_trait]
pub trait OutreachStore: Send + Sync {
    /// Stores the tasks that do not exist yet (a task already there, its
    /// state and notes, is kept); returns how many were new.
    async fn open_tasks(&self, tasks: &[OutreachTask]) -> PortResult<u64>;
    async fn task(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Option<OutreachTask>>;
    /// Every task of the campaign, by customer id.
    async fn tasks(&self, campaign: &CampaignId) -> PortResult<Vec<OutreachTask>>;
    /// Writes `task` (its `revision` one more than the stored one) if the
    /// stored task is still at `task.revision - 1`; `false` when another
    /// write came first (read again and retry).
    async fn update_task(&self, task: &OutreachTask) -> PortResult<bool>;
}

#[async_trait]
pub trait ExportStore: Send + Sync {
    /// Stores a new request or the new state of one. A request is kept
    /// under its campaign and customer: no write for one customer replaces
    /// another's request (the embedded store refuses the write; DynamoDB
    /// keys it under the customer).
    async fn put_export(&self, request: &ExportRequest) -> PortResult<()>;
    /// The request `id` of this customer; `None` when there is none, or
    /// when `id` belongs to another customer.
    async fn export(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
        id: &ExportId,
    ) -> PortResult<Option<ExportRequest>>;
    async fn exports_of(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Vec<ExportRequest>>;
    async fn all_exports(&self, campaign: &CampaignId) -> PortResult<Vec<ExportRequest>>;
}

#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends entries, in order, to their campaign's hash chain, in one
    /// write.
    async fn append_all(&self, entries: Vec<AuditEntry>) -> PortResult<Vec<ChainedEntry>>;

    async fn append(&self, entry: AuditEntry) -> PortResult<ChainedEntry> {
        let mut chained = self.append_all(vec![entry]).await?;
        chained
            .pop()
            .ok_or_else(|| PortError::permanent(anyhow::anyhow!("the audit log appended nothing")))
    }

    /// Up to `limit` of the campaign's entries after sequence number
    /// `after`, in order (a page may be shorter than `limit` before the
    /// end; an empty one is the end): the chain read a page at a time.
    async fn entries_after(
        &self,
        campaign: &CampaignId,
        after: u64,
        limit: usize,
    ) -> PortResult<Vec<ChainedEntry>>;

    /// How many entries the campaign's chain holds.
    async fn count(&self, campaign: &CampaignId) -> PortResult<u64>;

    /// The whole chain (tests and small campaigns; big ones page).
    async fn entries(&self, campaign: &CampaignId) -> PortResult<Vec<ChainedEntry>> {
        let mut all = Vec::new();
        loop {
            let after = all.last().map_or(0, |e: &ChainedEntry| e.seq);
            let page = self.entries_after(campaign, after, 1000).await?;
            if page.is_empty() {
                return Ok(all);
            }
            all.extend(page);
        }
    }
}

/// A scheduled job that failed: being retried with back-off, or given up.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobFailure {
    pub job: String,
    pub campaign: CampaignId,
    /// Failed runs so far.
    pub attempts: u32,
    pub last_error: String,
    pub last_failed_at: DateTime<Utc>,
    /// When it runs again; `None` once it has been given up (a permanent
    /// error, a panic, or too many attempts): planning the campaign again
    /// revives it.
    pub next_attempt: Option<DateTime<Utc>>,
}

/// Puts jobs on the calendar. Upserting a job of the same name moves it.
#[async_trait]
pub trait Scheduler: Send + Sync {
    async fn upsert(&self, job: &ScheduledJob) -> PortResult<()>;
    /// Takes a job off the calendar (a continuation that is no longer
    /// needed); a name with no job is no error.
    async fn cancel(&self, campaign: &CampaignId, name: &str) -> PortResult<()>;
    async fn scheduled(&self, campaign: &CampaignId) -> PortResult<Vec<ScheduledJob>>;
    /// The campaign's jobs that failed and are retried or given up, for the
    /// report. A platform that retries and dead-letters by itself
    /// (EventBridge Scheduler: retry policy, DLQ and its alarm) has none to
    /// list here.
    async fn failures(&self, campaign: &CampaignId) -> PortResult<Vec<JobFailure>> {
        let _ = campaign;
        Ok(Vec::new())
    }
}

/// An e-mail ready to send. Every header value here comes from a parsed
/// domain type, so none holds CR or LF.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingEmail {
    pub from: Mailbox,
    pub reply_to: Option<EmailAddress>,
    pub to: EmailAddress,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub date: DateTime<Utc>,
    /// Its ledger entry: sent along as message tags, so the provider's
    /// delivery events find it again.
    pub key: DeliveryKey,
    /// Stable id derived from the ledger key, without personal data.
    pub message_id: String,
    pub attachments: Vec<crate::render::Attachment>,
}

/// A text message ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingSms {
    pub to: MobileNumber,
    pub text: String,
    /// The name the message shows as from, where the country allows one
    /// (`[sms] sender_id`).
    pub sender_id: Option<String>,
    /// The number it is sent from, where the country needs one.
    pub origination_number: Option<MobileNumber>,
    pub key: DeliveryKey,
    pub message_id: String,
}

/// Why a message did not go out.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The recipient asked to receive no more (a text answered STOP): it
    /// is not sent, now or later.
    #[error("the recipient opted out of these messages")]
    OptedOut,
    /// The provider refused it for the rate: slow down, try again.
    #[error("the provider throttled the message: {0:#}")]
    Throttled(#[source] anyhow::Error),
    /// The provider's sending quota for its period is used up: try after.
    #[error("the provider's sending quota is used up: {0:#}")]
    QuotaExhausted(#[source] anyhow::Error),
    #[error(transparent)]
    Failed(#[from] PortError),
}

/// Whether the mail provider will send from an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderCheck {
    /// It will: the identity that allows it (the address, or its domain).
    Verified(String),
    /// Not yet: the identity it looked for and what it says of it.
    Unverified { identity: String, status: String },
    /// There is nothing to verify (the local outbox keeps every message).
    NotNeeded(String),
    /// The provider does not say (a plain SMTP relay): why.
    Unknown(String),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one e-mail; returns the provider's message id.
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError>;
    /// Whether the provider will send from `from` (SES: a verified
    /// identity), for the preflight.
    async fn sender(&self, from: &EmailAddress) -> PortResult<SenderCheck> {
        let _ = from;
        Ok(SenderCheck::Unknown(
            "this mail provider does not say which senders it accepts".into(),
        ))
    }
    /// Puts an address on the provider's own suppression list (SES's
    /// account-level list), so nothing from this account reaches it again;
    /// a provider without one (the outbox) has nothing to do.
    async fn suppress(&self, address: &EmailAddress, outcome: DeliveryOutcome) -> PortResult<()> {
        let _ = (address, outcome);
        Ok(())
    }
}

/// Sends text messages.
#[async_trait]
pub trait Texter: Send + Sync {
    /// Sends one text unless its number opted out (`SendError::OptedOut`);
    /// returns the provider's message id.
    async fn send(&self, sms: &OutgoingSms) -> Result<String, SendError>;
}

/// A provider's sending limits on a channel, as it reports them now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendLimits {
    /// Messages a second the account may send; `None`: no limit (the
    /// embedded outbox without a configured rate).
    pub per_second: Option<f64>,
    /// Messages it may still send in the current 24 hours; `None`: no
    /// quota.
    pub remaining_today: Option<u64>,
}

/// The send rate every sender shares: one timeline of send slots per
/// channel, which every run of every function reserves from.
#[async_trait]
pub trait SendRate: Send + Sync {
    async fn limits(&self, channel: Channel) -> PortResult<SendLimits>;
    /// Reserves `count` consecutive slots `interval` apart on the channel's
    /// timeline, the first no earlier than `now`; returns the first.
    async fn reserve(
        &self,
        channel: Channel,
        count: u32,
        interval: std::time::Duration,
        now: std::time::SystemTime,
    ) -> PortResult<std::time::SystemTime>;
}

/// Bytes by key: export bundles.
#[async_trait]
pub trait BlobStore: Send + Sync {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> PortResult<()>;
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>>;
    /// A URL the customer's browser can fetch the blob from directly for
    /// `valid_for`, where the store offers one (S3 presigned GET); `None`
    /// means serve the bytes from `get`.
    async fn download_url(
        &self,
        key: &str,
        valid_for: std::time::Duration,
    ) -> PortResult<Option<String>> {
        let _ = (key, valid_for);
        Ok(None)
    }
    async fn list(&self, prefix: &str) -> PortResult<Vec<String>>;
    /// Deletes every blob under each prefix, irreversibly; returns how
    /// many per prefix. Batched: one call per page of purged customers.
    async fn delete_prefixes(&self, prefixes: &[String]) -> PortResult<Vec<u64>>;
    /// Whether anything is stored under each prefix, read back from the
    /// store (the purge's verification).
    async fn any_under(&self, prefixes: &[String]) -> PortResult<Vec<bool>>;
}

/// One file of a customer's data in the retiring product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFile {
    /// Relative path, `/`-separated.
    pub path: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erased {
    pub files: u64,
    pub bytes: u64,
}

/// The retiring product's own data, per customer.
#[async_trait]
pub trait ProductData: Send + Sync {
    async fn files(&self, customer: &CustomerId) -> PortResult<Vec<ProductFile>>;
    /// Deletes these customers' data irreversibly; what was erased, per
    /// customer. Batched: one call per page of purged customers.
    async fn erase(&self, customers: &[CustomerId]) -> PortResult<Vec<Erased>>;
    /// Whether any data is left for each customer, read back from the
    /// product's storage (the purge's verification).
    async fn any_left(&self, customers: &[CustomerId]) -> PortResult<Vec<bool>>;
}

/// Every port, wired once per process and shared by the HTTP router, the
/// Lambda handlers and the embedded runner.
#[derive(Clone)]
pub struct Deps {
    pub campaigns: Arc<dyn CampaignStore>,
    pub customers: Arc<dyn CustomerStore>,
    pub ledger: Arc<dyn DeliveryLedger>,
    pub events: Arc<dyn EventLog>,
    pub exports: Arc<dyn ExportStore>,
    pub outreach: Arc<dyn OutreachStore>,
    pub audit: Arc<dyn AuditLog>,
    pub scheduler: Arc<dyn Scheduler>,
    pub mailer: Arc<dyn Mailer>,
    pub texter: Arc<dyn Texter>,
    /// Every send waits its turn here (`services::pacing`).
    pub pacer: Arc<crate::services::pacing::Pacer>,
    pub blobs: Arc<dyn BlobStore>,
    pub product_data: Arc<dyn ProductData>,
    pub clock: Arc<dyn Clock>,
    pub signer: crate::domain::link::LinkSigner,
}
