//! DynamoDB: one table for all of sunset's state.
//!
//! # Single-table design (this slice: campaigns, ledger, exports, audit)
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | campaign | `CAMPAIGN#{id}` | `META` | `spec` (JSON); `launched_at` once launched; `paused`, `cancelled` (JSON); `gsi1pk` = `CAMPAIGNS`, `gsi1sk` = `{id}` |
//! | ledger entry | `DLV#{campaign}#{shard of recipient}` | `{recipient}#{milestone}#{channel}#{occurrence}` | `claimed_at`, `lease_until` while unsent; once sent: `sent_at`, `message_id`; past its grace: `missed_at` |
//! | export request | `EXP#{campaign}#{customer}` | `{request id}` | `request` (JSON); `gsi1pk` = `EXPORTS#{campaign}`, `gsi1sk` = `{request id}` |
//! | audit head | `AUDIT#{campaign}` | `HEAD` | `seq`, `hash` of the newest entry |
//! | audit entry | `AUDIT#{campaign}` | `{seq, 20 digits}` | `entry` (JSON), `prev_hash`, `hash` |
//!
//! An export request is read by its full key (campaign, customer, id): a lookup made for one
//! customer can never return another's request. `GSI1` is sparse: export requests carry
//! `EXPORTS#{campaign}` and project their `request`, so all are listed by one query, without a
//! scan or a read per request. Ledger entries stay out of every index on purpose: a message costs
//! its claim and its mark-sent (one write unit each, items are well under 1 KB) and nothing
//! more; the report counts sent messages by reading the campaign's 16 ledger shards, which
//! costs what the campaign sent, once per report.
//!
//! The audit chain is extended in transactions: each writes up to 99 entries and moves the head on
//! the condition that it still points where the writer read it, so two writers can never fork the
//! chain. Ledger entries spread over 16 partitions per campaign by a hash of the recipient (a
//! wave's writes meet no hot key at any send rate SES allows), and sort by recipient, so one
//! customer's messages are one short query. Every
//! ledger transition is a conditional write: a claim takes an entry that does not exist, or one
//! neither sent nor missed whose lease has ended; a release only deletes an entry not yet sent.

use crate::adapters::records;
use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::join_all;
use crate::domain::audit::{AuditEntry, ChainedEntry, chain_hash};
use crate::domain::delivery_event::DeliveryOutcome;
use crate::domain::export::{ExportId, ExportRequest};
use crate::domain::ledger::{Channel, Claimed, Delivery, DeliveryKey, Lease, Recipient};
use crate::domain::lifecycle::{CampaignStatus, Cancellation};
use crate::domain::reputation::{DeliveryCounts, Pause};
use crate::domain::{Campaign, CampaignId, CustomerId, Milestone};
use crate::ports::{
    AuditLog, CampaignStore, DeliveryLedger, ExportStore, OutcomeRecorded, PortError, PortResult,
    Tallies, Tally,
};

/// The table's adapter; cheap to clone.
#[derive(Clone)]
pub struct DynamoStore {
    pub(super) client: Client,
    pub(super) table: String,
}

pub(super) fn sdk_err<E, R>(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> PortError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    super::classify(
        e,
        "DynamoDB",
        &[
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
            "InternalServerError",
        ],
    )
}

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn get_s<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) fn parse_ts(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Waits before a batch request is sent again for what DynamoDB left
/// undone: 50 ms doubling, eight times, then a retryable error.
#[derive(Default)]
pub(super) struct Backoff {
    tries: u32,
}

impl Backoff {
    pub(super) async fn wait(&mut self, left: usize, what: &str) -> PortResult<()> {
        if self.tries == 8 {
            return Err(PortError::retryable(anyhow::anyhow!(
                "DynamoDB left {left} {what}"
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50 << self.tries)).await;
        self.tries += 1;
        Ok(())
    }
}

/// Partitions per campaign for customers, their events and the ledger:
/// enough that neither an import nor a wave meets one partition's limit
/// (1,000 writes a second each), few enough that a report reads them all
/// in parallel.
pub(super) const SHARDS: u8 = 16;

/// The shard of a customer id or a ledger recipient; a customer's items
/// and ledger entries share it.
pub(super) fn shard(key: &str) -> u8 {
    Sha256::digest(key.as_bytes())[0] % SHARDS
}

fn ledger_pk(campaign: &CampaignId, recipient: &Recipient) -> String {
    format!("DLV#{campaign}#{:02}", shard(&recipient.key()))
}

fn ledger_sk(k: &DeliveryKey) -> String {
    format!(
        "{}#{}#{}#{}",
        k.recipient.key(),
        k.milestone,
        k.channel,
        k.occurrence
    )
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates the table as the SAM template declares it (tests and local
    /// setups; production tables come from `infra/`).
    pub async fn create_table(client: &Client, table: &str) -> PortResult<()> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("name and type are set")
        };
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("set")
        };
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("sk"))
            .attribute_definitions(attr("gsi1pk"))
            .attribute_definitions(attr("gsi1sk"))
            .attribute_definitions(attr("gsi2pk"))
            .attribute_definitions(attr("gsi2sk"))
            .attribute_definitions(attr("gsi3pk"))
            .attribute_definitions(attr("gsi3sk"))
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name("GSI1")
                    .key_schema(key("gsi1pk", KeyType::Hash))
                    .key_schema(key("gsi1sk", KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::Include)
                            .non_key_attributes("request")
                            .build(),
                    )
                    .build()
                    .expect("index name, keys and projection are set"),
            )
            .global_secondary_indexes(sparse_index("GSI2", "gsi2pk", "gsi2sk"))
            .global_secondary_indexes(sparse_index("GSI3", "gsi3pk", "gsi3sk"))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }
}

/// A sparse index that carries whole customer items, so a wave reads each
/// pending customer once, from the index alone.
fn sparse_index(name: &str, pk: &str, sk: &str) -> GlobalSecondaryIndex {
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("set")
    };
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(pk, KeyType::Hash))
        .key_schema(key(sk, KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .expect("index name, keys and projection are set")
}

#[async_trait]
impl CampaignStore for DynamoStore {
    async fn put_campaign(&self, campaign: &Campaign) -> PortResult<()> {
        let spec = records::campaign_to_json(campaign)?;
        // An update, not a put: the item's launch time stays.
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("CAMPAIGN#{}", campaign.id)))
            .key("sk", s("META"))
            // In the sparse index under `CAMPAIGNS`: the operator's list is
            // one query.
            .update_expression("SET spec = :spec, v = :v, gsi1pk = :all, gsi1sk = :id")
            .expression_attribute_values(":spec", s(spec))
            .expression_attribute_values(":v", AttributeValue::N("1".into()))
            .expression_attribute_values(":all", s(CAMPAIGNS))
            .expression_attribute_values(":id", s(campaign.id.as_str()))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn launched_at(&self, id: &CampaignId) -> PortResult<Option<DateTime<Utc>>> {
        Ok(self.status(id).await?.and_then(|s| s.launched_at))
    }

    async fn mark_launched(&self, id: &CampaignId, at: DateTime<Utc>) -> PortResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("CAMPAIGN#{id}")))
            .key("sk", s("META"))
            .update_expression("SET launched_at = if_not_exists(launched_at, :at)")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", s(ts(at)))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn campaign(&self, id: &CampaignId) -> PortResult<Option<Campaign>> {
        self.get(format!("CAMPAIGN#{id}"), "META")
            .await?
            .as_ref()
            .and_then(|item| get_s(item, "spec"))
            .map(records::campaign_from_json)
            .transpose()
    }

    async fn count_delivery(&self, id: &CampaignId, add: DeliveryCounts) -> PortResult<()> {
        let n = |v: u64| AttributeValue::N(v.to_string());
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("CAMPAIGN#{id}")))
            .key("sk", s("META"))
            .update_expression("ADD sent_count :s, hard_bounces :b, complaints :c")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":s", n(add.sent))
            .expression_attribute_values(":b", n(add.hard_bounces))
            .expression_attribute_values(":c", n(add.complaints))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn delivery_counts(&self, id: &CampaignId) -> PortResult<DeliveryCounts> {
        let item = self.get(format!("CAMPAIGN#{id}"), "META").await?;
        let n = |name: &str| -> PortResult<u64> {
            match item.as_ref().and_then(|i| i.get(name)) {
                None => Ok(0),
                Some(v) => v.as_n().ok().and_then(|n| n.parse().ok()).ok_or_else(|| {
                    PortError::permanent(anyhow::anyhow!("campaign {id} has a bad {name}"))
                }),
            }
        };
        Ok(DeliveryCounts {
            sent: n("sent_count")?,
            hard_bounces: n("hard_bounces")?,
            complaints: n("complaints")?,
        })
    }

    async fn set_paused(&self, id: &CampaignId, pause: Option<&Pause>) -> PortResult<()> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("CAMPAIGN#{id}")))
            .key("sk", s("META"))
            .condition_expression("attribute_exists(pk)");
        let update = match pause {
            Some(p) => update
                .update_expression("SET paused = :p")
                .expression_attribute_values(":p", s(records::pause_to_json(p)?)),
            None => update.update_expression("REMOVE paused"),
        };
        update.send().await.map_err(sdk_err)?;
        Ok(())
    }

    async fn paused(&self, id: &CampaignId) -> PortResult<Option<Pause>> {
        Ok(self.status(id).await?.and_then(|s| s.paused))
    }

    async fn cancel(&self, id: &CampaignId, cancellation: &Cancellation) -> PortResult<()> {
        let json = records::cancellation_to_json(cancellation)?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("CAMPAIGN#{id}")))
            .key("sk", s("META"))
            .update_expression("SET cancelled = if_not_exists(cancelled, :c)")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":c", s(json))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn status(&self, id: &CampaignId) -> PortResult<Option<CampaignStatus>> {
        let Some(item) = self.get(format!("CAMPAIGN#{id}"), "META").await? else {
            return Ok(None);
        };
        let launched_at = match get_s(&item, "launched_at") {
            None => None,
            Some(t) => Some(parse_ts(Some(t)).ok_or_else(|| {
                PortError::permanent(anyhow::anyhow!("campaign {id} has a bad launched_at"))
            })?),
        };
        Ok(Some(CampaignStatus {
            launched_at,
            paused: get_s(&item, "paused")
                .map(records::pause_from_json)
                .transpose()?,
            cancelled: get_s(&item, "cancelled")
                .map(records::cancellation_from_json)
                .transpose()?,
        }))
    }

    async fn campaign_ids(&self) -> PortResult<Vec<CampaignId>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("gsi1pk = :g")
            .expression_attribute_values(":g", s(CAMPAIGNS));
        self.query_all(query)
            .await?
            .iter()
            .map(|i| {
                let id = get_s(i, "gsi1sk").unwrap_or_default();
                CampaignId::parse(id).map_err(|e| {
                    PortError::permanent(anyhow::anyhow!("a stored campaign id: {}", e.0))
                })
            })
            .collect()
    }
}

/// The index partition every campaign is listed under.
const CAMPAIGNS: &str = "CAMPAIGNS";

#[async_trait]
impl DeliveryLedger for DynamoStore {
    async fn claim(&self, keys: &[DeliveryKey], lease: Lease) -> PortResult<Vec<Claimed>> {
        self.take_free(keys, lease.at, |put| {
            put.item("claimed_at", s(ts(lease.at)))
                .item("lease_until", s(ts(lease.until)))
        })
        .await
    }

    async fn mark_missed(
        &self,
        keys: &[DeliveryKey],
        at: DateTime<Utc>,
    ) -> PortResult<Vec<Claimed>> {
        self.take_free(keys, at, |put| {
            put.item("claimed_at", s(ts(at)))
                .item("missed_at", s(ts(at)))
        })
        .await
    }

    async fn mark_sent(&self, sent: &[(DeliveryKey, String)], at: DateTime<Utc>) -> PortResult<()> {
        let updates = sent.iter().map(|(k, message_id)| {
            self.client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(ledger_pk(&k.campaign, &k.recipient)))
                .key("sk", s(ledger_sk(k)))
                .update_expression(
                    "SET sent_at = :at, message_id = :id, claimed_at = if_not_exists(claimed_at, :at) \
                     REMOVE lease_until",
                )
                .expression_attribute_values(":at", s(ts(at)))
                .expression_attribute_values(":id", s(message_id.clone()))
                .send()
        });
        let updates: Vec<_> = updates.collect();
        for result in join_all(updates).await {
            result.map_err(sdk_err)?;
        }
        Ok(())
    }

    async fn record_outcome(
        &self,
        k: &DeliveryKey,
        message_id: &str,
        outcome: DeliveryOutcome,
        at: DateTime<Utc>,
    ) -> PortResult<OutcomeRecorded> {
        let (bounce, first) = match outcome {
            DeliveryOutcome::Bounced { hard: true } => (
                ", bounce = :hard",
                "(attribute_not_exists(bounce) OR bounce <> :hard)",
            ),
            DeliveryOutcome::Bounced { hard: false } => (
                ", bounce = if_not_exists(bounce, :soft)",
                "attribute_not_exists(#f)",
            ),
            _ => ("", "attribute_not_exists(#f)"),
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(ledger_pk(&k.campaign, &k.recipient)))
            .key("sk", s(ledger_sk(k)))
            .update_expression(format!("SET #f = if_not_exists(#f, :at){bounce}"))
            .condition_expression(format!("message_id = :id AND {first}"))
            .expression_attribute_names("#f", outcome.recorded_as())
            .expression_attribute_values(":at", s(ts(at)))
            .expression_attribute_values(":id", s(message_id))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match outcome {
            DeliveryOutcome::Bounced { hard: true } => {
                update = update.expression_attribute_values(":hard", s("hard"))
            }
            DeliveryOutcome::Bounced { hard: false } => {
                update = update.expression_attribute_values(":soft", s("soft"))
            }
            _ => {}
        }
        match update.send().await {
            Ok(_) => Ok(OutcomeRecorded::First),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(refused)) => {
                    let old = refused.item();
                    Ok(
                        if old.and_then(|i| get_s(i, "message_id")) == Some(message_id) {
                            OutcomeRecorded::Again
                        } else {
                            OutcomeRecorded::NoSuchMessage
                        },
                    )
                }
                _ => Err(sdk_err(e)),
            },
        }
    }

    async fn sent(&self, keys: &[DeliveryKey]) -> PortResult<Vec<bool>> {
        let ids: Vec<(String, String)> = keys
            .iter()
            .map(|k| (ledger_pk(&k.campaign, &k.recipient), ledger_sk(k)))
            .collect();
        let found = self.get_many(ids.clone(), "pk, sk, sent_at").await?;
        Ok(ids
            .iter()
            .map(|id| {
                found
                    .get(id)
                    .is_some_and(|item| item.contains_key("sent_at"))
            })
            .collect())
    }

    async fn release(&self, k: &DeliveryKey) -> PortResult<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(ledger_pk(&k.campaign, &k.recipient)))
            .key("sk", s(ledger_sk(k)))
            .condition_expression("attribute_not_exists(sent_at)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Already sent: it stays claimed, which is what release promises.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_err(e)),
        }
    }

    async fn tallies(&self, campaign: &CampaignId) -> PortResult<Tallies> {
        // The ledger's shards are read whole: a report costs as much as the
        // messages it counts, and sending pays nothing extra for it.
        let entries = self
            .every_shard("DLV", campaign, |q| {
                q.projection_expression(
                    "sk, sent_at, missed_at, delivered_at, bounce, complained_at, opened_at, clicked_at",
                )
            })
            .await?;
        let mut tallies = Tallies::new();
        for item in &entries {
            let has = |name: &str| u64::from(item.contains_key(name));
            let bounce = get_s(item, "bounce");
            let tally = Tally {
                sent: has("sent_at"),
                missed: has("missed_at"),
                delivered: has("delivered_at"),
                bounced: u64::from(bounce == Some("hard")),
                soft_bounced: u64::from(bounce == Some("soft")),
                complained: has("complained_at"),
                opened: has("opened_at"),
                clicked: has("clicked_at"),
            };
            if tally == Tally::default() {
                continue;
            }
            let sk = get_s(item, "sk").unwrap_or_default();
            let mut parts = sk.split('#').skip(1);
            if let (Some(milestone), Some(Ok(channel))) =
                (parts.next(), parts.next().map(str::parse::<Channel>))
            {
                tallies
                    .entry(channel)
                    .or_default()
                    .entry(milestone.to_owned())
                    .or_default()
                    .add(&tally);
            }
        }
        Ok(tallies)
    }

    async fn deliveries_to(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Vec<Delivery>> {
        let recipient = Recipient::Customer(customer.clone());
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :r)")
            .expression_attribute_values(":pk", s(ledger_pk(campaign, &recipient)))
            .expression_attribute_values(":r", s(format!("{}#", recipient.key())))
            .consistent_read(true);
        let mut out = Vec::new();
        for item in self.query_all(query).await? {
            let sk = get_s(&item, "sk").unwrap_or_default();
            let mut parts = sk.splitn(4, '#').skip(1);
            let (Some(m), Some(channel), Some(occurrence)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let unreadable =
                |e: crate::domain::ids::InvalidValue| PortError::permanent(anyhow::anyhow!(e.0));
            let milestone: Milestone = m.parse().map_err(unreadable)?;
            let channel: Channel = channel.parse().map_err(unreadable)?;
            out.push(Delivery {
                key: DeliveryKey {
                    campaign: campaign.clone(),
                    recipient: recipient.clone(),
                    milestone,
                    channel,
                    occurrence: occurrence.to_owned(),
                },
                claimed_at: parse_ts(get_s(&item, "claimed_at")).unwrap_or_default(),
                lease_until: parse_ts(get_s(&item, "lease_until")),
                sent_at: parse_ts(get_s(&item, "sent_at")),
                message_id: get_s(&item, "message_id").map(str::to_owned),
            });
        }
        out.sort_by_key(|d| d.claimed_at);
        Ok(out)
    }
}

/// An export request item's record, of any version this build reads.
fn export_of(item: &Item) -> PortResult<ExportRequest> {
    let text = get_s(item, "request")
        .ok_or_else(|| PortError::permanent(anyhow::anyhow!("item lacks `request`")))?;
    records::export_from_json(text)
}

impl DynamoStore {
    /// Writes each key's entry, with what `fill` adds, where the key is
    /// free (no entry, or one neither sent nor missed whose lease ended by
    /// `at`): one conditional put per key, sent concurrently, since
    /// BatchWriteItem carries no condition. Timestamps are fixed-width UTC
    /// strings, so `<=` compares instants. What stopped a put comes back
    /// with the refusal: no second read tells "sent" from "held".
    async fn take_free(
        &self,
        keys: &[DeliveryKey],
        at: DateTime<Utc>,
        fill: impl Fn(PutItemFluentBuilder) -> PutItemFluentBuilder,
    ) -> PortResult<Vec<Claimed>> {
        let puts = keys.iter().map(|k| {
            fill(self.client.put_item())
                .table_name(&self.table)
                .item("pk", s(ledger_pk(&k.campaign, &k.recipient)))
                .item("sk", s(ledger_sk(k)))
                .condition_expression(
                    "attribute_not_exists(pk) OR (attribute_not_exists(sent_at) \
                     AND attribute_not_exists(missed_at) \
                     AND (attribute_not_exists(lease_until) OR lease_until <= :at))",
                )
                .expression_attribute_values(":at", s(ts(at)))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
        });
        let puts: Vec<_> = puts.collect();
        let mut taken = Vec::with_capacity(keys.len());
        for result in join_all(puts).await {
            match result {
                Ok(_) => taken.push(Claimed::Taken),
                Err(e) => match e.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(refused)) => {
                        let old = refused.item().cloned().unwrap_or_default();
                        taken.push(Claimed::found(
                            parse_ts(get_s(&old, "sent_at")),
                            parse_ts(get_s(&old, "missed_at")),
                            parse_ts(get_s(&old, "lease_until")),
                            at,
                        ));
                    }
                    _ => return Err(sdk_err(e)),
                },
            }
        }
        Ok(taken)
    }

    /// Reserves `count` slots on the channel's send timeline, one item
    /// (`PACE#{channel}`, `TIMELINE`) holding its next free slot in
    /// milliseconds: moved forward on the condition that it still holds
    /// what this process last saw (`known`), so two processes never get the
    /// same slots; a refusal returns the item's value and the reservation
    /// is tried again from it. Returns the first slot and the new next
    /// free slot. One write per block of slots, not per message.
    #[cfg(feature = "aws-ses")]
    pub(super) async fn reserve_slots(
        &self,
        channel: Channel,
        count: u32,
        interval: std::time::Duration,
        now: std::time::SystemTime,
        mut known: Option<u64>,
    ) -> PortResult<(std::time::SystemTime, u64)> {
        use crate::domain::pace;
        for _ in 0..50 {
            let (first, next) = pace::reserve(known.map(pace::from_millis), now, count, interval);
            let next_ms = pace::to_millis(next);
            let update = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(format!("PACE#{channel}")))
                .key("sk", s("TIMELINE"))
                .update_expression("SET next_ms = :next")
                .expression_attribute_values(":next", AttributeValue::N(next_ms.to_string()))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            let update = match known {
                None => update.condition_expression("attribute_not_exists(next_ms)"),
                Some(k) => update
                    .condition_expression("next_ms = :known")
                    .expression_attribute_values(":known", AttributeValue::N(k.to_string())),
            };
            match update.send().await {
                Ok(_) => return Ok((first, next_ms)),
                Err(e) => match e.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(refused)) => {
                        known = refused
                            .item()
                            .and_then(|i| i.get("next_ms"))
                            .and_then(|v| v.as_n().ok())
                            .and_then(|n| n.parse().ok());
                    }
                    _ => return Err(sdk_err(e)),
                },
            }
        }
        Err(PortError::retryable(anyhow::anyhow!(
            "the {channel} send timeline is contended: 50 reservations refused in a row"
        )))
    }

    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    pub(super) fn table(&self) -> &str {
        &self.table
    }

    /// The items of these keys that exist, by (pk, sk), read strongly
    /// consistent with `projection` (which must name `pk` and `sk` unless it
    /// is only `sk`): BatchGetItem, 100 keys a request, unprocessed keys
    /// retried.
    pub(super) async fn get_many(
        &self,
        keys: Vec<(String, String)>,
        projection: &str,
    ) -> PortResult<HashMap<(String, String), Item>> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let batch = chunk
                .iter()
                .map(|(pk, sk)| HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))]))
                .collect();
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(batch))
                    .projection_expression(projection)
                    .consistent_read(true)
                    .build()
                    .map_err(PortError::permanent)?,
            );
            let mut backoff = Backoff::default();
            while let Some(request) = pending.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(sdk_err)?;
                for item in out
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let sk = get_s(item, "sk").unwrap_or_default().to_owned();
                    // A projection of `sk` alone: the pk is the key's own.
                    let pk = match get_s(item, "pk") {
                        Some(pk) => pk.to_owned(),
                        None => chunk
                            .iter()
                            .find(|(_, k)| *k == sk)
                            .map(|(pk, _)| pk.clone())
                            .unwrap_or_default(),
                    };
                    found.insert((pk, sk), item.clone());
                }
                pending = out
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .filter(|k| !k.keys().is_empty())
                    .cloned();
                if let Some(left) = &pending {
                    backoff.wait(left.keys().len(), "keys unread").await?;
                }
            }
        }
        Ok(found)
    }

    /// One item by its key, read strongly consistent.
    pub(super) async fn get(
        &self,
        pk: impl Into<String>,
        sk: impl Into<String>,
    ) -> PortResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(out.item)
    }

    /// A query of one partition of the table (`pk = :pk`), to refine and
    /// send.
    pub(super) fn partition(&self, pk: impl Into<String>) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
    }

    /// Every item of a campaign's shards — the partitions `{kind}#{campaign}#{nn}`
    /// — read side by side; `refine` adds a projection or consistency.
    pub(super) async fn every_shard(
        &self,
        kind: &str,
        campaign: &CampaignId,
        refine: impl Fn(QueryFluentBuilder) -> QueryFluentBuilder,
    ) -> PortResult<Vec<Item>> {
        let shards = (0..SHARDS)
            .map(|sh| self.query_all(refine(self.partition(format!("{kind}#{campaign}#{sh:02}")))));
        let mut all = Vec::new();
        for items in join_all(shards).await {
            all.extend(items?);
        }
        Ok(all)
    }

    /// Every item of a query, following the SDK's paginator.
    pub(super) async fn query_all(
        &self,
        query: QueryFluentBuilder,
    ) -> PortResult<Vec<HashMap<String, AttributeValue>>> {
        let mut items = query.into_paginator().items().send();
        let mut out = Vec::new();
        while let Some(item) = items.next().await {
            out.push(item.map_err(sdk_err)?);
        }
        Ok(out)
    }
}

#[async_trait]
impl ExportStore for DynamoStore {
    async fn put_export(&self, r: &ExportRequest) -> PortResult<()> {
        let json = records::export_to_json(r)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("EXP#{}#{}", r.campaign, r.customer)))
            .item("sk", s(r.id.as_str()))
            .item("request", s(json))
            .item("v", AttributeValue::N("1".into()))
            .item("gsi1pk", s(format!("EXPORTS#{}", r.campaign)))
            .item("gsi1sk", s(r.id.as_str()))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn export(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
        id: &ExportId,
    ) -> PortResult<Option<ExportRequest>> {
        // Keyed under the customer: another customer's request id finds
        // nothing here, whatever it is.
        let Some(item) = self
            .get(&format!("EXP#{campaign}#{customer}"), id.as_str())
            .await?
        else {
            return Ok(None);
        };
        let request = export_of(&item)?;
        if request.campaign != *campaign || request.customer != *customer || request.id != *id {
            return Err(PortError::permanent(anyhow::anyhow!(
                "export request item EXP#{campaign}#{customer}/{id} holds another request"
            )));
        }
        Ok(Some(request))
    }

    async fn exports_of(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Vec<ExportRequest>> {
        let query = self
            .partition(format!("EXP#{campaign}#{customer}"))
            .consistent_read(true);
        self.query_all(query).await?.iter().map(export_of).collect()
    }

    async fn all_exports(&self, campaign: &CampaignId) -> PortResult<Vec<ExportRequest>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("gsi1pk = :g")
            .expression_attribute_values(":g", s(format!("EXPORTS#{campaign}")));
        // The index carries each request: one query, not a read per export.
        self.query_all(query).await?.iter().map(export_of).collect()
    }
}

/// Lost races for the audit head one append tries again before giving up.
const AUDIT_RACES: u32 = 12;

const AUDIT_CHUNK: usize = 99;

#[async_trait]
impl AuditLog for DynamoStore {
    async fn append_all(&self, entries: Vec<AuditEntry>) -> PortResult<Vec<ChainedEntry>> {
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
        let mut chained = Vec::with_capacity(entries.len());
        let mut by_campaign: Vec<(CampaignId, Vec<AuditEntry>)> = Vec::new();
        for e in entries {
            match by_campaign.last_mut() {
                Some((c, list)) if *c == e.campaign => list.push(e),
                _ => by_campaign.push((e.campaign.clone(), vec![e])),
            }
        }
        for (campaign, list) in by_campaign {
            let pk = format!("AUDIT#{campaign}");
            for chunk in list.chunks(AUDIT_CHUNK) {
                let mut attempt = 0u32;
                let new = loop {
                    let head = self.get(pk.clone(), "HEAD").await?;
                    let (mut seq, mut prev) = match &head {
                        Some(h) => (
                            h.get("seq")
                                .and_then(|v| v.as_n().ok())
                                .and_then(|n| n.parse::<u64>().ok())
                                .unwrap_or(0),
                            get_s(h, "hash").unwrap_or_default().to_owned(),
                        ),
                        None => (0, String::new()),
                    };
                    let head_was = prev.clone();
                    let mut writes = Vec::with_capacity(chunk.len() + 1);
                    let mut new = Vec::with_capacity(chunk.len());
                    for entry in chunk {
                        seq += 1;
                        let hash = chain_hash(&prev, entry);
                        let json = records::audit_to_json(entry)?;
                        writes.push(
                            TransactWriteItem::builder()
                                .put(
                                    Put::builder()
                                        .table_name(&self.table)
                                        .item("pk", s(pk.clone()))
                                        .item("sk", s(format!("{seq:020}")))
                                        .item("entry", s(json))
                                        .item("prev_hash", s(prev.clone()))
                                        .item("hash", s(hash.clone()))
                                        .condition_expression("attribute_not_exists(pk)")
                                        .build()
                                        .map_err(PortError::permanent)?,
                                )
                                .build(),
                        );
                        new.push(ChainedEntry {
                            seq,
                            entry: entry.clone(),
                            prev_hash: prev.clone(),
                            hash: hash.clone(),
                        });
                        prev = hash;
                    }
                    let head_condition = if head_was.is_empty() {
                        "attribute_not_exists(#h)"
                    } else {
                        "#h = :was"
                    };
                    let mut update = Update::builder()
                        .table_name(&self.table)
                        .key("pk", s(pk.clone()))
                        .key("sk", s("HEAD"))
                        .update_expression("SET #h = :hash, seq = :seq")
                        .condition_expression(head_condition)
                        .expression_attribute_names("#h", "hash")
                        .expression_attribute_values(":hash", s(prev.clone()))
                        .expression_attribute_values(":seq", AttributeValue::N(seq.to_string()));
                    if !head_was.is_empty() {
                        update = update.expression_attribute_values(":was", s(head_was));
                    }
                    writes.push(
                        TransactWriteItem::builder()
                            .update(update.build().map_err(PortError::permanent)?)
                            .build(),
                    );
                    // A lost race (another writer moved the head) is tried
                    // again here from the new head, after a random pause so
                    // racing writers spread out; only a writer that keeps
                    // losing gives up (retryable: the job runs again).
                    match self
                        .client
                        .transact_write_items()
                        .set_transact_items(Some(writes))
                        .send()
                        .await
                    {
                        Ok(_) => break new,
                        Err(e)
                            if attempt < AUDIT_RACES
                                && e.as_service_error()
                                    .is_some_and(|e| e.is_transaction_canceled_exception()) =>
                        {
                            attempt += 1;
                            let pause = rand::random_range(5..(20u64 << attempt.min(5)));
                            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                        }
                        Err(e) => {
                            let cancelled = e
                                .as_service_error()
                                .is_some_and(|e| e.is_transaction_canceled_exception());
                            let err = sdk_err(e);
                            return Err(if cancelled {
                                PortError::retryable(err.source)
                            } else {
                                err
                            });
                        }
                    }
                };
                chained.extend(new);
            }
        }
        Ok(chained)
    }

    async fn entries_after(
        &self,
        campaign: &CampaignId,
        after: u64,
        limit: usize,
    ) -> PortResult<Vec<ChainedEntry>> {
        // Entries sort by their 20-digit sequence number; the head (`HEAD`)
        // sorts after every digit and is left out by the range.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(format!("AUDIT#{campaign}")))
            .expression_attribute_values(":from", s(format!("{:020}", after.saturating_add(1))))
            .expression_attribute_values(":to", s("9".repeat(20)))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_err)?;
        out.items()
            .iter()
            .map(|i| {
                let bad = |what: &str| {
                    PortError::permanent(anyhow::anyhow!(
                        "audit entry of {campaign} lacks `{what}`"
                    ))
                };
                Ok(ChainedEntry {
                    seq: get_s(i, "sk")
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| bad("sk"))?,
                    entry: records::audit_from_json(get_s(i, "entry").ok_or_else(|| {
                        PortError::permanent(anyhow::anyhow!("audit item lacks `entry`"))
                    })?)?,
                    prev_hash: get_s(i, "prev_hash")
                        .ok_or_else(|| bad("prev_hash"))?
                        .to_owned(),
                    hash: get_s(i, "hash").ok_or_else(|| bad("hash"))?.to_owned(),
                })
            })
            .collect()
    }

    async fn count(&self, campaign: &CampaignId) -> PortResult<u64> {
        // The head holds the newest entry's sequence number; entries are
        // numbered from 1 without gaps.
        let head = self.get(format!("AUDIT#{campaign}"), "HEAD").await?;
        Ok(head
            .as_ref()
            .and_then(|h| h.get("seq"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }
}
