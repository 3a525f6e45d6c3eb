//! Customers and their events on the DynamoDB table.
//!
//! | item | `pk` | `sk` | indexes |
//! |---|---|---|---|
//! | customer (`tier_override`: the operator's tier, JSON, which segmentation leaves) | `CUSTS#{campaign}#{shard}` | `{customer id}` | once segmented and while not purged, `GSI2`: `LIVE#{campaign}#{zone}#{shard}`; also while not migrated, `GSI3`: `PENDING#{campaign}#{zone}#{shard}`; both sorted by customer id |
//! | event | `EVTS#{campaign}#{shard}` | `{customer id}#{at}#{n}` | |
//! | import marker | `CUSTS#{campaign}` | `IMPORTED` | `customers`: how many rows imports offered |
//!
//! A campaign's customers spread over 16 shards by a hash of their id, so
//! neither an import nor a wave writes to one hot partition. An import
//! writes the bare item (under 1 KB: one write unit, in 25-item batches),
//! all or nothing: when a batch fails, the import's items are deleted
//! again. Segmentation adds the index keys, which is what puts a customer
//! in the waves, on conditions that keep a migration or purge recorded
//! meanwhile. A wave reads the sparse `GSI3` of its zone: only customers
//! still pending, one item each, never the whole campaign. Customers
//! already claimed for the milestone may come back from it; the ledger's
//! conditional claim turns them away.
//!
//! Listings walk the shards in turn (shard, then id), each page continuing
//! where the previous one stopped — the shard of the last id says where —
//! so every item is read once however many pages there are.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, Put, PutRequest, ReturnValue, TransactWriteItem, Update,
    WriteRequest,
};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use super::dynamo::{Backoff, DynamoStore, Item, SHARDS, get_s, parse_ts, s, sdk_err, shard, ts};
use crate::adapters::records::{
    self, event_from_json, event_to_json, profile_from_json, profile_to_json,
};
use crate::domain::customer::Suppression;
use crate::domain::event::{CustomerEvent, CustomerEventKind};
use crate::domain::tier::TierDecision;
use crate::domain::{CampaignId, CustomerId, CustomerRecord, MigrationStatus, Milestone, Tier};
use crate::ports::{Chunks, CustomerStore, EventLog, PortError, PortResult, TierCount};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;

/// The version of the record an event item holds (`v` on the item).
const RECORD_VERSION: &str = "1";

/// The partition of a customer's item (tools and benchmarks address
/// items directly with it).
pub fn customer_pk(campaign: &CampaignId, id: &CustomerId) -> String {
    format!("CUSTS#{campaign}#{:02}", shard(id.as_str()))
}

/// The partition of a customer's events.
fn events_pk(campaign: &CampaignId, id: &CustomerId) -> String {
    format!("EVTS#{campaign}#{:02}", shard(id.as_str()))
}

fn bad(what: &str) -> PortError {
    PortError::permanent(anyhow::anyhow!("stored customer has a bad {what}"))
}

fn record_from(item: &Item) -> PortResult<CustomerRecord> {
    let tier = match (
        get_s(item, "tier"),
        item.get("tier_score").and_then(|v| v.as_n().ok()),
        get_s(item, "tier_reason"),
    ) {
        (Some(t), Some(score), Some(why)) => Some(TierDecision {
            tier: Tier::parse(t).ok_or_else(|| bad("tier"))?,
            score: score.parse().map_err(|_| bad("tier score"))?,
            explanation: why.to_owned(),
        }),
        _ => None,
    };
    Ok(CustomerRecord {
        id: CustomerId::parse(get_s(item, "sk").unwrap_or_default()).map_err(|_| bad("id"))?,
        zone: get_s(item, "zone")
            .unwrap_or_default()
            .parse::<Tz>()
            .map_err(|_| bad("zone"))?,
        profile: get_s(item, "profile").map(profile_from_json).transpose()?,
        tier,
        status: MigrationStatus::parse(get_s(item, "status").unwrap_or_default())
            .ok_or_else(|| bad("status"))?,
        status_at: parse_ts(get_s(item, "status_at")),
        legal_hold: item
            .get("legal_hold")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        extended_until: get_s(item, "extended_until")
            .map(|d| d.parse::<NaiveDate>())
            .transpose()
            .map_err(|_| bad("extension"))?,
        // Written only when set: an item without it was never waived.
        purge_without_notice: item
            .get("purge_without_notice")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        purged_at: parse_ts(get_s(item, "purged_at")),
        suppressed: match (
            parse_ts(get_s(item, "suppressed_at")),
            get_s(item, "suppressed_reason"),
        ) {
            (Some(at), Some(reason)) => Some(Suppression {
                at,
                reason: reason.to_owned(),
            }),
            _ => None,
        },
        tier_override: get_s(item, "tier_override")
            .map(records::tier_override_from_json)
            .transpose()?,
    })
}

fn live_pk(campaign: &CampaignId, r: &CustomerRecord) -> String {
    format!(
        "LIVE#{campaign}#{}#{:02}",
        r.zone.name(),
        shard(r.id.as_str())
    )
}

fn pending_pk(campaign: &CampaignId, r: &CustomerRecord) -> String {
    format!(
        "PENDING#{campaign}#{}#{:02}",
        r.zone.name(),
        shard(r.id.as_str())
    )
}

/// An item's key.
fn key_of(item: &Item) -> Item {
    HashMap::from([
        ("pk".to_owned(), item["pk"].clone()),
        ("sk".to_owned(), item["sk"].clone()),
    ])
}

/// The bare customer item, as an import writes it: in no index yet.
fn item_of(campaign: &CampaignId, r: &CustomerRecord) -> PortResult<Item> {
    let mut item: Item = HashMap::new();
    item.insert("pk".into(), s(customer_pk(campaign, &r.id)));
    item.insert("sk".into(), s(r.id.to_string()));
    item.insert("zone".into(), s(r.zone.name()));
    item.insert("status".into(), s(r.status.as_str()));
    item.insert("legal_hold".into(), AttributeValue::Bool(r.legal_hold));
    if r.purge_without_notice {
        item.insert("purge_without_notice".into(), AttributeValue::Bool(true));
    }
    if let Some(p) = &r.profile {
        item.insert("profile".into(), s(profile_to_json(p)?));
    }
    Ok(item)
}

/// Which of the wave indexes a segmented customer goes in; tried in this
/// order, each on the condition that still makes it true.
#[derive(Clone, Copy)]
enum Waves {
    /// Every wave: live and not migrated.
    All,
    /// The announcement only: migrated.
    AnnouncementOnly,
    /// None: purged (only the tier is kept, for the report).
    None,
}

impl Waves {
    fn first_guess(r: &CustomerRecord) -> Self {
        if r.purged_at.is_some() {
            Waves::None
        } else if r.status == MigrationStatus::Migrated {
            Waves::AnnouncementOnly
        } else {
            Waves::All
        }
    }

    fn next(self) -> Option<Self> {
        match self {
            Waves::All => Some(Waves::AnnouncementOnly),
            Waves::AnnouncementOnly => Some(Waves::None),
            Waves::None => None,
        }
    }
}

impl DynamoStore {
    /// Up to `limit` customers from the shards' partitions (`partition`
    /// names shard n's), walking shard by shard from where `after`, the
    /// last customer of the previous page, left off. Each query asks for no
    /// more than the page still needs, so nothing is read twice.
    async fn walk_shards(
        &self,
        partition: impl Fn(u8) -> String,
        index: Option<(&str, &str, &str)>,
        after: Option<&CustomerId>,
        limit: usize,
    ) -> PortResult<Vec<CustomerRecord>> {
        let (name, pk_attr, sk_attr) = index.unwrap_or(("", "pk", "sk"));
        let (mut sh, mut from) = match after {
            Some(a) => (shard(a.as_str()), Some(a.to_string())),
            None => (0, None),
        };
        let mut out = Vec::with_capacity(limit);
        while sh < SHARDS && out.len() < limit {
            let mut start_key = None;
            loop {
                let mut q = self
                    .client()
                    .query()
                    .table_name(self.table())
                    .expression_attribute_names("#p", pk_attr)
                    .expression_attribute_values(":pk", s(partition(sh)))
                    .limit((limit - out.len()).min(1000) as i32)
                    .set_exclusive_start_key(start_key);
                q = match &from {
                    Some(a) => q
                        .key_condition_expression("#p = :pk AND #s > :after")
                        .expression_attribute_names("#s", sk_attr)
                        .expression_attribute_values(":after", s(a.as_str())),
                    None => q.key_condition_expression("#p = :pk"),
                };
                if !name.is_empty() {
                    q = q.index_name(name);
                }
                let page = q.send().await.map_err(sdk_err)?;
                for item in page.items() {
                    out.push(record_from(item)?);
                }
                start_key = page.last_evaluated_key;
                if out.len() >= limit {
                    return Ok(out);
                }
                if start_key.is_none() {
                    break;
                }
            }
            sh += 1;
            from = None;
        }
        Ok(out)
    }

    /// Every customer item of a campaign, shard by shard.
    async fn all_customer_items(&self, campaign: &CampaignId) -> PortResult<Vec<Item>> {
        self.every_shard("CUSTS", campaign, |q| q).await
    }

    /// Counts an import's rows on the campaign's import marker and says
    /// how many earlier imports offered (0: nothing was imported yet). One
    /// write, before any customer is: an import that stops half way still
    /// makes the next one check its ids.
    async fn mark_import(&self, campaign: &CampaignId, rows: usize) -> PortResult<u64> {
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(format!("CUSTS#{campaign}")))
            .key("sk", s("IMPORTED"))
            .update_expression("ADD customers :n")
            .expression_attribute_values(":n", AttributeValue::N(rows.to_string()))
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(out
            .attributes()
            .and_then(|a| a.get("customers"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }

    /// Which of these customers are stored already, by their keys.
    async fn known_among(
        &self,
        campaign: &CampaignId,
        records: &[CustomerRecord],
    ) -> PortResult<HashSet<String>> {
        let keys = records
            .iter()
            .map(|r| (customer_pk(campaign, &r.id), r.id.to_string()))
            .collect();
        Ok(self
            .get_many(keys, "sk")
            .await?
            .into_keys()
            .map(|(_, sk)| sk)
            .collect())
    }

    /// The ids of the campaign's customers (keys only).
    async fn known_ids(&self, campaign: &CampaignId) -> PortResult<HashSet<String>> {
        let keys = self
            .every_shard("CUSTS", campaign, |q| {
                q.projection_expression("sk").consistent_read(true)
            })
            .await?;
        Ok(keys
            .iter()
            .filter_map(|i| get_s(i, "sk").map(str::to_owned))
            .collect())
    }

    /// Stores a customer's tier and puts them in the wave indexes their
    /// state allows. The state is checked by the write's own condition, so
    /// a migration or purge recorded meanwhile is never undone.
    /// Sets a customer's tier and puts them in the waves their standing
    /// allows. Segmentation's (`over: None`) leaves a customer with the
    /// operator's tier alone; the operator's replaces any.
    async fn set_tier(
        &self,
        campaign: &CampaignId,
        r: &CustomerRecord,
        d: &TierDecision,
        over: Option<&crate::domain::tier::TierOverride>,
    ) -> PortResult<()> {
        let mut waves = Some(Waves::first_guess(r));
        while let Some(w) = waves {
            let (expr, condition) = match w {
                Waves::All => (
                    "SET tier = :t, tier_score = :s, tier_reason = :r, \
                     gsi2pk = :live, gsi2sk = :id, gsi3pk = :pending, gsi3sk = :id",
                    "attribute_exists(pk) AND attribute_not_exists(purged_at) AND #st <> :migrated",
                ),
                Waves::AnnouncementOnly => (
                    "SET tier = :t, tier_score = :s, tier_reason = :r, \
                     gsi2pk = :live, gsi2sk = :id REMOVE gsi3pk, gsi3sk",
                    "attribute_exists(pk) AND attribute_not_exists(purged_at)",
                ),
                Waves::None => (
                    "SET tier = :t, tier_score = :s, tier_reason = :r",
                    "attribute_exists(pk)",
                ),
            };
            let (expr, condition) = match over {
                Some(_) => (format!("{expr}, tier_override = :o"), condition.to_owned()),
                None => (
                    expr.to_owned(),
                    format!("{condition} AND attribute_not_exists(tier_override)"),
                ),
            };
            let mut update = self
                .client()
                .update_item()
                .table_name(self.table())
                .key("pk", s(customer_pk(campaign, &r.id)))
                .key("sk", s(r.id.to_string()))
                .update_expression(expr)
                .condition_expression(condition)
                .expression_attribute_values(":t", s(d.tier.as_str()))
                .expression_attribute_values(":s", AttributeValue::N(d.score.to_string()))
                .expression_attribute_values(":r", s(d.explanation.clone()));
            if let Some(o) = over {
                update =
                    update.expression_attribute_values(":o", s(records::tier_override_to_json(o)?));
            }
            if !matches!(w, Waves::None) {
                update = update
                    .expression_attribute_values(":live", s(live_pk(campaign, r)))
                    .expression_attribute_values(":id", s(r.id.to_string()));
            }
            if matches!(w, Waves::All) {
                update = update
                    .expression_attribute_names("#st", "status")
                    .expression_attribute_values(":migrated", s(MigrationStatus::Migrated.as_str()))
                    .expression_attribute_values(":pending", s(pending_pk(campaign, r)));
            }
            match update.send().await {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    waves = w.next();
                }
                Err(e) => return Err(sdk_err(e)),
            }
        }
        // Every condition failed: the customer is gone, or (segmentation)
        // the operator set their tier meanwhile, which stands.
        let stored = self
            .customer(campaign, &r.id)
            .await?
            .is_some_and(|c| over.is_none() && c.tier_override.is_some());
        if stored {
            return Ok(());
        }
        Err(PortError::permanent(anyhow::anyhow!(
            "no customer {} in campaign {campaign}",
            r.id
        )))
    }

    /// Sends writes with BatchWriteItem, 25 at a time, retrying what
    /// DynamoDB leaves unprocessed with exponential backoff. On failure, also
    /// says how many of the requests may have been applied (every batch
    /// before the failing one, and that one).
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), (usize, PortError)> {
        for (n, chunk) in requests.chunks(25).enumerate() {
            let touched = ((n + 1) * 25).min(requests.len());
            let mut pending = chunk.to_vec();
            let mut backoff = Backoff::default();
            loop {
                let out = self
                    .client()
                    .batch_write_item()
                    .request_items(self.table(), pending)
                    .send()
                    .await
                    .map_err(|e| (touched, sdk_err(e)))?;
                pending = out
                    .unprocessed_items()
                    .and_then(|u| u.get(self.table()))
                    .cloned()
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                backoff
                    .wait(pending.len(), "writes unprocessed")
                    .await
                    .map_err(|e| (touched, e))?;
            }
        }
        Ok(())
    }

    /// Deletes what an import's earlier chunks wrote, after `error` stopped
    /// it; returns the error to report (saying so if taking back failed).
    async fn take_back(&self, written: Vec<(String, String)>, error: PortError) -> PortError {
        if written.is_empty() {
            return error;
        }
        let deletes = written
            .into_iter()
            .map(|(pk, sk)| {
                let key = HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))]);
                let delete = DeleteRequest::builder().set_key(Some(key)).build();
                Ok(WriteRequest::builder()
                    .delete_request(delete.map_err(PortError::permanent)?)
                    .build())
            })
            .collect::<PortResult<Vec<_>>>();
        let undone = match deletes {
            Ok(deletes) => self.batch_write(deletes).await.map_err(|(_, e)| e),
            Err(e) => Err(e),
        };
        match undone {
            Ok(()) => error,
            Err(undo) => PortError {
                retryable: error.retryable,
                source: error.source.context(format!(
                    "the import stopped part way and taking it back failed too ({}): \
                     some of its customers may be stored; importing the same file again \
                     reports those as known and stores the rest",
                    undo.source
                )),
            },
        }
    }

    /// Writes new items all or nothing: when a batch fails, the items this
    /// call may have written are deleted again before the error returns.
    async fn put_new(&self, items: Vec<Item>) -> PortResult<()> {
        let key = key_of;
        let puts = items
            .iter()
            .map(|i| {
                let put = PutRequest::builder().set_item(Some(i.clone())).build();
                Ok(WriteRequest::builder()
                    .put_request(put.map_err(PortError::permanent)?)
                    .build())
            })
            .collect::<PortResult<Vec<_>>>()?;
        let Err((touched, error)) = self.batch_write(puts).await else {
            return Ok(());
        };
        let deletes = items[..touched]
            .iter()
            .map(|i| {
                let delete = DeleteRequest::builder().set_key(Some(key(i))).build();
                Ok(WriteRequest::builder()
                    .delete_request(delete.map_err(PortError::permanent)?)
                    .build())
            })
            .collect::<PortResult<Vec<_>>>()?;
        match self.batch_write(deletes).await {
            Ok(()) => Err(error),
            Err((_, undo)) => Err(PortError {
                retryable: error.retryable,
                source: error.source.context(format!(
                    "the import stopped part way and taking it back failed too ({}): \
                     some of its customers may be stored; importing the same file again \
                     reports those as known and stores the rest",
                    undo.source
                )),
            }),
        }
    }
}

#[async_trait]
impl CustomerStore for DynamoStore {
    async fn import_customers(
        &self,
        campaign: &CampaignId,
        expected: usize,
        chunks: &mut Chunks<'_>,
    ) -> PortResult<Vec<CustomerId>> {
        if expected == 0 {
            return Ok(Vec::new());
        }
        // Known ids first, so a repeated id is reported and the stored
        // customer kept; a campaign nothing was imported into yet (the
        // marker says) has none, and a first import reads nothing. Then
        // plain batch writes, chunk by chunk.
        let stored = self.mark_import(campaign, expected).await?;
        // A small import into a big campaign looks its own ids up (half a
        // read unit each); a big one reads the campaign's keys once (about
        // a twentieth of a unit per stored customer).
        let look_up_each = stored > 0 && (expected as u64) * 10 < stored;
        let known_all = if stored > 0 && !look_up_each {
            self.known_ids(campaign).await?
        } else {
            HashSet::new()
        };
        let mut duplicates = Vec::new();
        // What earlier chunks wrote (as bare key strings: a big import's
        // list stays small), to take back if a later one fails.
        let mut written: Vec<(String, String)> = Vec::new();
        for chunk in chunks {
            let known = if look_up_each {
                self.known_among(campaign, &chunk).await?
            } else {
                HashSet::new()
            };
            let (dups, new): (Vec<_>, Vec<_>) = chunk
                .iter()
                .partition(|r| known.contains(r.id.as_str()) || known_all.contains(r.id.as_str()));
            duplicates.extend(dups.into_iter().map(|r| r.id.clone()));
            let items = new
                .iter()
                .map(|r| item_of(campaign, r))
                .collect::<PortResult<Vec<_>>>()?;
            let keys: Vec<(String, String)> = new
                .iter()
                .map(|r| (customer_pk(campaign, &r.id), r.id.to_string()))
                .collect();
            if let Err(error) = self.put_new(items).await {
                return Err(self.take_back(written, error).await);
            }
            written.extend(keys);
        }
        Ok(duplicates)
    }

    async fn customer(
        &self,
        campaign: &CampaignId,
        id: &CustomerId,
    ) -> PortResult<Option<CustomerRecord>> {
        self.get(customer_pk(campaign, id), id.as_str())
            .await?
            .as_ref()
            .map(record_from)
            .transpose()
    }

    async fn customers_page(
        &self,
        campaign: &CampaignId,
        after: Option<&CustomerId>,
        limit: usize,
    ) -> PortResult<Vec<CustomerRecord>> {
        self.walk_shards(|sh| format!("CUSTS#{campaign}#{sh:02}"), None, after, limit)
            .await
    }

    async fn awaiting_notice(
        &self,
        campaign: &CampaignId,
        _milestone: Milestone,
        zone: Tz,
        only_pending: bool,
        after: Option<&CustomerId>,
        limit: usize,
    ) -> PortResult<Vec<CustomerRecord>> {
        let (prefix, index) = if only_pending {
            ("PENDING", ("GSI3", "gsi3pk", "gsi3sk"))
        } else {
            ("LIVE", ("GSI2", "gsi2pk", "gsi2sk"))
        };
        self.walk_shards(
            |sh| format!("{prefix}#{campaign}#{}#{sh:02}", zone.name()),
            Some(index),
            after,
            limit,
        )
        .await
    }

    async fn zones(&self, campaign: &CampaignId) -> PortResult<Vec<Tz>> {
        // Every customer is read (a launch asks once), but only the zone
        // comes back.
        let items = self
            .every_shard("CUSTS", campaign, |q| {
                q.expression_attribute_names("#z", "zone")
                    .projection_expression("#z")
            })
            .await?;
        let mut names: Vec<&str> = items.iter().filter_map(|i| get_s(i, "zone")).collect();
        names.sort();
        names.dedup();
        Ok(names.iter().filter_map(|n| n.parse().ok()).collect())
    }

    async fn set_tiers(
        &self,
        campaign: &CampaignId,
        segmented: &[(CustomerRecord, TierDecision)],
    ) -> PortResult<()> {
        let updates: Vec<_> = segmented
            .iter()
            .map(|(r, d)| self.set_tier(campaign, r, d, None))
            .collect();
        for r in super::join_all(updates).await {
            r?;
        }
        Ok(())
    }

    async fn update_contact(
        &self,
        campaign: &CampaignId,
        record: &CustomerRecord,
    ) -> PortResult<bool> {
        let Some(item) = self
            .get(customer_pk(campaign, &record.id), record.id.as_str())
            .await?
        else {
            return Ok(false);
        };
        let profile = record
            .profile
            .as_ref()
            .ok_or_else(|| PortError::permanent(anyhow::anyhow!("a contact without a profile")))?;
        let mut set = vec!["profile = :p", "#zone = :z"];
        let mut remove = Vec::new();
        // The waves' indexes are per zone: a customer in them moves with
        // their zone.
        if item.contains_key("gsi2pk") {
            set.push("gsi2pk = :live");
        }
        if item.contains_key("gsi3pk") {
            set.push("gsi3pk = :pending");
        }
        match &record.suppressed {
            Some(_) => set.extend(["suppressed_at = :sat", "suppressed_reason = :sr"]),
            None => remove.extend(["suppressed_at", "suppressed_reason"]),
        }
        let mut expr = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(customer_pk(campaign, &record.id)))
            .key("sk", s(record.id.to_string()))
            .update_expression(expr)
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(purged_at)")
            .expression_attribute_names("#zone", "zone")
            .expression_attribute_values(":p", s(profile_to_json(profile)?))
            .expression_attribute_values(":z", s(record.zone.name()));
        if item.contains_key("gsi2pk") {
            update = update.expression_attribute_values(":live", s(live_pk(campaign, record)));
        }
        if item.contains_key("gsi3pk") {
            update =
                update.expression_attribute_values(":pending", s(pending_pk(campaign, record)));
        }
        if let Some(sup) = &record.suppressed {
            update = update
                .expression_attribute_values(":sat", s(ts(sup.at)))
                .expression_attribute_values(":sr", s(sup.reason.clone()));
        }
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_err(e)),
        }
    }

    async fn override_tier(
        &self,
        campaign: &CampaignId,
        id: &CustomerId,
        over: &crate::domain::tier::TierOverride,
    ) -> PortResult<bool> {
        let Some(r) = self.customer(campaign, id).await? else {
            return Ok(false);
        };
        let score = r.tier.as_ref().map_or(0, |t| t.score);
        match self
            .set_tier(campaign, &r, &over.decision(score), Some(over))
            .await
        {
            Ok(()) => Ok(true),
            // Deleted between the read and the write.
            Err(e) if !e.retryable && self.customer(campaign, id).await?.is_none() => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn suppress(
        &self,
        campaign: &CampaignId,
        id: &CustomerId,
        suppression: &Suppression,
    ) -> PortResult<()> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(customer_pk(campaign, id)))
            .key("sk", s(id.to_string()))
            .update_expression(
                "SET suppressed_at = if_not_exists(suppressed_at, :at), \
                 suppressed_reason = if_not_exists(suppressed_reason, :why)",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", s(ts(suppression.at)))
            .expression_attribute_values(":why", s(suppression.reason.clone()))
            .send()
            .await;
        match result {
            // A customer no longer stored (purged meanwhile) is mailed no more.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            other => other.map(|_| ()).map_err(sdk_err),
        }
    }

    async fn scrub_customers(
        &self,
        campaign: &CampaignId,
        ids: &[CustomerId],
        at: DateTime<Utc>,
    ) -> PortResult<()> {
        // Customers are independent: a purge page scrubs them side by side
        // rather than one round trip after another.
        let scrubs: Vec<_> = ids.iter().map(|id| self.scrub(campaign, id, at)).collect();
        for result in super::join_all(scrubs).await {
            result?;
        }
        Ok(())
    }

    async fn tier_counts(&self, campaign: &CampaignId) -> PortResult<BTreeMap<String, TierCount>> {
        let mut counts: BTreeMap<String, TierCount> = BTreeMap::new();
        for item in self.all_customer_items(campaign).await? {
            let r = record_from(&item)?;
            let c = counts
                .entry(
                    r.tier
                        .as_ref()
                        .map_or("unsegmented".into(), |t| t.tier.as_str().to_owned()),
                )
                .or_default();
            c.customers += 1;
            c.migrated += u64::from(r.status == MigrationStatus::Migrated);
            c.declined += u64::from(r.status == MigrationStatus::Declined);
            c.purged += u64::from(r.purged_at.is_some());
            c.legal_hold += u64::from(r.legal_hold);
        }
        Ok(counts)
    }
}

fn event_sk(e: &CustomerEvent) -> String {
    let digest = Sha256::digest(serde_json::to_vec(&e.kind).unwrap_or_default());
    format!("{}#{}#{}", e.customer, ts(e.at), hex::encode(&digest[..4]))
}

impl DynamoStore {
    /// Deletes one customer's personal data: the profile (and the wave
    /// index entries), and the words of a decline reason.
    async fn scrub(
        &self,
        campaign: &CampaignId,
        id: &CustomerId,
        at: DateTime<Utc>,
    ) -> PortResult<()> {
        self.client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(customer_pk(campaign, id)))
            .key("sk", s(id.to_string()))
            .update_expression("SET purged_at = :at REMOVE profile, gsi2pk, gsi2sk, gsi3pk, gsi3sk")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", s(ts(at)))
            .send()
            .await
            .map_err(sdk_err)?;
        // A decline reason is the customer's own words.
        for (sk, e) in self.event_items_of(campaign, id).await? {
            if let CustomerEventKind::Declined(_) = e.kind {
                let scrubbed = CustomerEvent {
                    kind: CustomerEventKind::Declined("[purged]".into()),
                    ..e
                };
                self.client()
                    .put_item()
                    .table_name(self.table())
                    .item("pk", s(events_pk(campaign, id)))
                    .item("sk", s(sk))
                    .item("event", s(event_to_json(&scrubbed)?))
                    .item("v", AttributeValue::N(RECORD_VERSION.into()))
                    .send()
                    .await
                    .map_err(sdk_err)?;
            }
        }
        Ok(())
    }

    /// A customer's stored events with their sort keys, oldest first.
    async fn event_items_of(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Vec<(String, CustomerEvent)>> {
        let q = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :pk AND begins_with(sk, :c)")
            .expression_attribute_values(":pk", s(events_pk(campaign, customer)))
            .expression_attribute_values(":c", s(format!("{customer}#")))
            .consistent_read(true);
        let mut out = self
            .query_all(q)
            .await?
            .iter()
            .map(|i| {
                let event = event_from_json(get_s(i, "event").unwrap_or_default())?;
                Ok((get_s(i, "sk").unwrap_or_default().to_owned(), event))
            })
            .collect::<PortResult<Vec<_>>>()?;
        out.sort_by_key(|(_, e)| e.at);
        Ok(out)
    }
}

impl DynamoStore {
    /// The writes for the events of `chunk` at `left`: each event, then
    /// its state change if any; and for each write, its event's index.
    fn event_writes(
        &self,
        campaign: &CampaignId,
        chunk: &[(CustomerEvent, Option<CustomerRecord>)],
        left: &[usize],
    ) -> PortResult<(Vec<TransactWriteItem>, Vec<usize>)> {
        let mut writes = Vec::with_capacity(left.len() * 2);
        let mut of_event = Vec::with_capacity(left.len() * 2);
        for &n in left {
            let (event, state) = &chunk[n];
            let sk = format!("{}#{n}", event_sk(event));
            writes.push(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(self.table())
                            .item("pk", s(events_pk(campaign, &event.customer)))
                            .item("sk", s(sk))
                            .item("event", s(event_to_json(event)?))
                            .item("v", AttributeValue::N(RECORD_VERSION.into()))
                            .build()
                            .map_err(PortError::permanent)?,
                    )
                    .build(),
            );
            of_event.push(n);
            if let Some(r) = state {
                writes.push(self.state_write(campaign, event, r)?);
                of_event.push(n);
            }
        }
        Ok((writes, of_event))
    }

    /// The customer's new state; a migration only if they are not
    /// migrated yet.
    fn state_write(
        &self,
        campaign: &CampaignId,
        event: &CustomerEvent,
        r: &CustomerRecord,
    ) -> PortResult<TransactWriteItem> {
        let mut set = vec!["#st = :st", "legal_hold = :hold"];
        let mut remove = vec![];
        let mut update = Update::builder()
            .table_name(self.table())
            .key("pk", s(customer_pk(campaign, &r.id)))
            .key("sk", s(r.id.to_string()))
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":st", s(r.status.as_str()))
            .expression_attribute_values(":hold", AttributeValue::Bool(r.legal_hold));
        update = if event.kind == CustomerEventKind::Migrated {
            update.condition_expression("attribute_exists(pk) AND #st <> :st")
        } else {
            update.condition_expression("attribute_exists(pk)")
        };
        if let Some(at) = r.status_at {
            set.push("status_at = :at");
            update = update.expression_attribute_values(":at", s(ts(at)));
        }
        if let Some(d) = r.extended_until {
            set.push("extended_until = :ext");
            update = update.expression_attribute_values(":ext", s(d.to_string()));
        }
        if r.purge_without_notice {
            set.push("purge_without_notice = :pwn");
            update = update.expression_attribute_values(":pwn", AttributeValue::Bool(true));
        }
        // Leaving the pending index when migrated.
        if r.status == MigrationStatus::Migrated {
            remove.extend(["gsi3pk", "gsi3sk"]);
        }
        let mut expr = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        Ok(TransactWriteItem::builder()
            .update(
                update
                    .update_expression(expr)
                    .build()
                    .map_err(PortError::permanent)?,
            )
            .build())
    }
}

/// The events (indexes into `chunk`) whose migration another call wrote
/// first, when that is all that cancelled the transaction; any other
/// failure is the port's error.
fn migrations_written_first<R: std::fmt::Debug + Send + Sync + 'static>(
    e: aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>,
    of_event: &[usize],
    chunk: &[(CustomerEvent, Option<CustomerRecord>)],
) -> PortResult<Vec<usize>> {
    let reasons = match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => c.cancellation_reasons(),
        _ => return Err(sdk_err(e)),
    };
    let mut refused = Vec::new();
    for (w, reason) in reasons.iter().enumerate() {
        match reason.code() {
            None | Some("None") => {}
            Some("ConditionalCheckFailed")
                if of_event
                    .get(w)
                    .is_some_and(|&n| chunk[n].0.kind == CustomerEventKind::Migrated) =>
            {
                refused.push(of_event[w]);
            }
            Some(_) => return Err(sdk_err(e)),
        }
    }
    if refused.is_empty() {
        return Err(sdk_err(e));
    }
    Ok(refused)
}

#[async_trait]
impl EventLog for DynamoStore {
    async fn record_events(
        &self,
        campaign: &CampaignId,
        events: &[(CustomerEvent, Option<CustomerRecord>)],
    ) -> PortResult<Vec<usize>> {
        let mut already = Vec::new();
        // Each event and its state change are written together; at most 50
        // events (100 writes) per transaction.
        for (c, chunk) in events.chunks(50).enumerate() {
            let mut left: Vec<usize> = (0..chunk.len()).collect();
            // A migration another call wrote first cancels the whole
            // transaction: it is left out and the rest written again.
            // Each round leaves at least one out, so this ends.
            loop {
                let (writes, of_event) = self.event_writes(campaign, chunk, &left)?;
                if writes.is_empty() {
                    break;
                }
                let refused = match self
                    .client()
                    .transact_write_items()
                    .set_transact_items(Some(writes))
                    .send()
                    .await
                {
                    Ok(_) => break,
                    Err(e) => migrations_written_first(e, &of_event, chunk)?,
                };
                already.extend(refused.iter().map(|i| c * 50 + i));
                left.retain(|i| !refused.contains(i));
            }
        }
        Ok(already)
    }

    async fn events(&self, campaign: &CampaignId) -> PortResult<Vec<CustomerEvent>> {
        let mut all = self
            .every_shard("EVTS", campaign, |q| q)
            .await?
            .iter()
            .map(|item| event_from_json(get_s(item, "event").unwrap_or_default()))
            .collect::<PortResult<Vec<_>>>()?;
        all.sort_by_key(|e| e.at);
        Ok(all)
    }

    async fn events_of(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Vec<CustomerEvent>> {
        Ok(self
            .event_items_of(campaign, customer)
            .await?
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    }
}
