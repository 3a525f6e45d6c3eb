//! DynamoDB: one table for all of sunset's state.
//!
//! # Single-table design (this slice: campaigns and the delivery ledger)
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | campaign | `CAMPAIGN#{id}` | `META` | `spec` (JSON) |
//! | ledger entry | `DLV#{campaign}#{recipient}` | `{milestone}#{channel}#{occurrence}` | `claimed_at`, `sent_at`, `message_id`; while sent: `gsi1pk`, `gsi1sk` |
//!
//! `GSI1` (`gsi1pk` = `SENT#{campaign}#{milestone}`, `gsi1sk` = `{recipient}#{occurrence}`) is
//! sparse: only sent messages carry it, so the report counts sent messages per milestone with a
//! `COUNT` query instead of a scan. Ledger keys lead with the recipient, so the writes of a wave
//! spread over as many partitions as it has recipients, never one hot key per campaign. Every
//! ledger transition is a conditional write: a claim is `attribute_not_exists(pk)`, a release only
//! deletes an entry not yet sent.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, Select,
};
use chrono::{DateTime, Utc};

use crate::domain::ledger::{Channel, Delivery, DeliveryKey, Recipient};
use crate::domain::{Campaign, CampaignId, CustomerId, Milestone};
use crate::ports::{CampaignStore, DeliveryLedger, PortError, PortResult};

/// The table's adapter; cheap to clone.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// Sorts an SDK failure: throttling, time-outs and 5xx are worth a retry.
fn sdk_err<E, R>(e: SdkError<E, R>) -> PortError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let retryable = matches!(
        e,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
    ) || matches!(&e, SdkError::ServiceError(s) if {
        let code = aws_sdk_dynamodb::error::ProvideErrorMetadata::code(s.err()).unwrap_or_default();
        matches!(code, "ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded" | "InternalServerError")
    });
    let source = anyhow::Error::new(e).context("DynamoDB request failed");
    if retryable {
        PortError::retryable(source)
    } else {
        PortError::permanent(source)
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn get_s<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_ts(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn ledger_pk(campaign: &CampaignId, recipient: &Recipient) -> String {
    format!("DLV#{campaign}#{}", recipient.key())
}

fn ledger_sk(k: &DeliveryKey) -> String {
    format!("{}#{}#{}", k.milestone, k.channel, k.occurrence)
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
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name("GSI1")
                    .key_schema(key("gsi1pk", KeyType::Hash))
                    .key_schema(key("gsi1sk", KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::KeysOnly)
                            .build(),
                    )
                    .build()
                    .expect("index name, keys and projection are set"),
            )
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }
}

#[async_trait]
impl CampaignStore for DynamoStore {
    async fn put_campaign(&self, campaign: &Campaign) -> PortResult<()> {
        let spec = serde_json::to_string(campaign).map_err(PortError::permanent)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("CAMPAIGN#{}", campaign.id)))
            .item("sk", s("META"))
            .item("spec", s(spec))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn campaign(&self, id: &CampaignId) -> PortResult<Option<Campaign>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("CAMPAIGN#{id}")))
            .key("sk", s("META"))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_err)?;
        out.item
            .as_ref()
            .and_then(|item| get_s(item, "spec"))
            .map(|spec| serde_json::from_str(spec).map_err(PortError::permanent))
            .transpose()
    }
}

#[async_trait]
impl DeliveryLedger for DynamoStore {
    async fn claim(&self, keys: &[DeliveryKey], at: DateTime<Utc>) -> PortResult<Vec<bool>> {
        // Each claim needs its own condition, which BatchWriteItem cannot
        // carry: conditional puts, sent concurrently.
        let claims = keys.iter().map(|k| {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(ledger_pk(&k.campaign, &k.recipient)))
                .item("sk", s(ledger_sk(k)))
                .item("claimed_at", s(ts(at)))
                .condition_expression("attribute_not_exists(pk)")
                .send()
        });
        let claims: Vec<_> = claims.collect();
        let mut claimed = Vec::with_capacity(keys.len());
        for result in futures_join_all(claims).await {
            match result {
                Ok(_) => claimed.push(true),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    claimed.push(false)
                }
                Err(e) => return Err(sdk_err(e)),
            }
        }
        Ok(claimed)
    }

    async fn mark_sent(&self, sent: &[(DeliveryKey, String)], at: DateTime<Utc>) -> PortResult<()> {
        let updates = sent.iter().map(|(k, message_id)| {
            self.client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(ledger_pk(&k.campaign, &k.recipient)))
                .key("sk", s(ledger_sk(k)))
                .update_expression("SET sent_at = :at, message_id = :id, gsi1pk = :g, gsi1sk = :gs")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":at", s(ts(at)))
                .expression_attribute_values(":id", s(message_id.clone()))
                .expression_attribute_values(
                    ":g",
                    s(format!("SENT#{}#{}", k.campaign, k.milestone)),
                )
                .expression_attribute_values(
                    ":gs",
                    s(format!("{}#{}", k.recipient.key(), k.occurrence)),
                )
                .send()
        });
        let updates: Vec<_> = updates.collect();
        for result in futures_join_all(updates).await {
            result.map_err(sdk_err)?;
        }
        Ok(())
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

    async fn sent_counts(&self, campaign: &CampaignId) -> PortResult<BTreeMap<String, u64>> {
        // Milestones are few and known from the campaign; count each.
        let Some(c) = self.campaign(campaign).await? else {
            return Ok(BTreeMap::new());
        };
        let milestones = [
            Milestone::OutreachBrief,
            Milestone::Announcement,
            Milestone::ExportReady,
        ]
        .into_iter()
        .chain(c.reminder_offsets().into_iter().map(Milestone::Reminder));
        let mut counts = BTreeMap::new();
        for m in milestones {
            let mut pages = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("GSI1")
                .key_condition_expression("gsi1pk = :g")
                .expression_attribute_values(":g", s(format!("SENT#{campaign}#{m}")))
                .select(Select::Count)
                .into_paginator()
                .send();
            let mut n = 0u64;
            while let Some(page) = pages.next().await {
                n += page.map_err(sdk_err)?.count() as u64;
            }
            if n > 0 {
                counts.insert(m.name(), n);
            }
        }
        Ok(counts)
    }

    async fn deliveries_to(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Vec<Delivery>> {
        let recipient = Recipient::Customer(customer.clone());
        let mut items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(ledger_pk(campaign, &recipient)))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = items.next().await {
            let item = item.map_err(sdk_err)?;
            let sk = get_s(&item, "sk").unwrap_or_default();
            let mut parts = sk.splitn(3, '#');
            let (Some(m), Some(_channel), Some(occurrence)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let milestone: Milestone =
                m.parse().map_err(|e: crate::domain::ids::InvalidValue| {
                    PortError::permanent(anyhow::anyhow!(e.0))
                })?;
            out.push(Delivery {
                key: DeliveryKey {
                    campaign: campaign.clone(),
                    recipient: recipient.clone(),
                    milestone,
                    channel: Channel::Email,
                    occurrence: occurrence.to_owned(),
                },
                claimed_at: parse_ts(get_s(&item, "claimed_at")).unwrap_or_default(),
                sent_at: parse_ts(get_s(&item, "sent_at")),
                message_id: get_s(&item, "message_id").map(str::to_owned),
            });
        }
        out.sort_by_key(|d| d.claimed_at);
        Ok(out)
    }
}

/// Awaits every future with at most 32 in flight; results in input order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    use futures::StreamExt;
    futures::stream::iter(futures).buffered(32).collect().await
}
