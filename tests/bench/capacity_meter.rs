//! A DynamoDB capacity meter on the wire.
//!
//! The emulator's own `ConsumedCapacity` is not DynamoDB's (moto reports
//! 1.0 for a whole 25-item batch and leaves index writes out), so this
//! interceptor reads every request and response the SDK exchanges and
//! applies DynamoDB's published rules (on-demand, standard table class) to
//! a shadow copy of the table's items:
//!
//! - item size: attribute names plus values (S: UTF-8 bytes; N: about one
//!   byte per two significant digits, plus one; BOOL/NULL: 1; L/M: 3 plus
//!   their elements, one byte each on top);
//! - a write costs one unit per started KB of the larger of the item before
//!   and after; each global secondary index the item enters, leaves or
//!   changes in costs its own write (a key change is a delete and a put);
//!   a write whose condition fails still costs its units; a transaction
//!   costs twice;
//! - a read costs one unit per started 4 KB (a query: of all items it
//!   returned, by their full size, not their projection), half when
//!   eventually consistent.
//!
//! What cannot be evaluated (an expression it does not understand) stops
//! the benchmark instead of being guessed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde_json::{Map, Value};

/// A request as it went on the wire, kept until its response arrives.
#[derive(Debug, Clone)]
struct Sent {
    operation: String,
    body: Value,
}

impl Storable for Sent {
    type Storer = StoreReplace<Self>;
}

fn json(bytes: Option<&[u8]>) -> Value {
    bytes
        .filter(|b| !b.is_empty())
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .unwrap_or(Value::Null)
}

type Item = Map<String, Value>;

#[derive(Debug, Clone)]
pub struct Index {
    pub name: String,
    pub pk: String,
    pub sk: Option<String>,
    pub keys_only: bool,
}

/// What one stretch of work cost.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub requests: BTreeMap<String, u64>,
    pub write_units: f64,
    pub read_units: f64,
    /// Items returned by queries and gets.
    pub items_read: u64,
    pub failed_conditions: u64,
}

impl Tally {
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }
}

#[derive(Debug)]
struct State {
    table_keys: (String, String),
    indexes: Vec<Index>,
    items: HashMap<(String, String), Item>,
    tally: Tally,
}

/// Shared between the SDK client (as its interceptor) and the benchmark.
#[derive(Debug, Clone)]
pub struct Meter(Arc<Mutex<State>>);

impl Meter {
    pub fn new(pk: &str, sk: &str, indexes: Vec<Index>) -> Self {
        Meter(Arc::new(Mutex::new(State {
            table_keys: (pk.into(), sk.into()),
            indexes,
            items: HashMap::new(),
            tally: Tally::default(),
        })))
    }

    /// The table's indexes, once known (a meter made before the table).
    pub fn set_indexes(&self, indexes: Vec<Index>) {
        self.0.lock().unwrap().indexes = indexes;
    }

    /// The tally since the last call, which starts a new one.
    pub fn take(&self) -> Tally {
        std::mem::take(&mut self.0.lock().unwrap().tally)
    }

    /// Sizes of the shadow items whose partition key starts with `prefix`.
    pub fn sizes(&self, prefix: &str) -> Vec<usize> {
        let state = self.0.lock().unwrap();
        state
            .items
            .iter()
            .filter(|((pk, _), _)| pk.starts_with(prefix))
            .map(|(_, item)| item_size(item))
            .collect()
    }
}

fn value_size(v: &Value) -> usize {
    let Some((kind, x)) = v.as_object().and_then(|o| o.iter().next()) else {
        panic!("not an attribute value: {v}")
    };
    match kind.as_str() {
        "S" => x.as_str().unwrap_or_default().len(),
        "N" => {
            let digits = x
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('-')
                .replace('.', "");
            let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
            significant.div_ceil(2) + 1
        }
        "B" => x.as_str().unwrap_or_default().len() * 3 / 4,
        "BOOL" | "NULL" => 1,
        "SS" | "NS" | "BS" => x
            .as_array()
            .map(|a| a.iter().map(|e| e.as_str().unwrap_or_default().len()).sum())
            .unwrap_or(0),
        "L" => {
            3 + x
                .as_array()
                .map(|a| a.iter().map(|e| value_size(e) + 1).sum::<usize>())
                .unwrap_or(0)
        }
        "M" => {
            3 + x
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, e)| k.len() + value_size(e) + 1)
                        .sum::<usize>()
                })
                .unwrap_or(0)
        }
        other => panic!("attribute type {other} is not metered"),
    }
}

pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn units(size: usize, per: usize) -> f64 {
    size.div_ceil(per).max(1) as f64
}

fn s_of(item: &Item, name: &str) -> Option<String> {
    item.get(name)?.get("S")?.as_str().map(str::to_owned)
}

impl State {
    fn key_of(&self, item: &Item) -> (String, String) {
        let (pk, sk) = &self.table_keys;
        (
            s_of(item, pk).expect("item has its partition key"),
            s_of(item, sk).expect("item has its sort key"),
        )
    }

    /// The index entry of an item: its index key and its projected size.
    fn entry(&self, index: &Index, item: Option<&Item>) -> Option<(Value, usize)> {
        let item = item?;
        let pk = item.get(&index.pk)?;
        let sk = match &index.sk {
            Some(sk) => Some(item.get(sk)?.clone()),
            None => None,
        };
        let size = if index.keys_only {
            let (tpk, tsk) = &self.table_keys;
            [tpk, tsk, &index.pk]
                .into_iter()
                .chain(index.sk.as_ref())
                .filter_map(|n| item.get(n).map(|v| n.len() + value_size(v)))
                .sum()
        } else {
            item_size(item)
        };
        Some((serde_json::json!([pk, sk]), size))
    }

    fn write_cost(&self, before: Option<&Item>, after: Option<&Item>) -> f64 {
        let size = before
            .map(item_size)
            .unwrap_or(0)
            .max(after.map(item_size).unwrap_or(0));
        let mut cost = units(size, 1024);
        for index in &self.indexes {
            cost += match (self.entry(index, before), self.entry(index, after)) {
                (None, None) => 0.0,
                (Some((_, s)), None) | (None, Some((_, s))) => units(s, 1024),
                (Some((k1, s1)), Some((k2, s2))) if k1 != k2 => units(s1, 1024) + units(s2, 1024),
                (Some((_, s1)), Some((_, s2))) => {
                    let changed = if index.keys_only {
                        false
                    } else {
                        before != after
                    };
                    if changed {
                        units(s1.max(s2), 1024)
                    } else {
                        0.0
                    }
                }
            };
        }
        cost
    }

    /// Applies one write to the shadow and returns its cost; a failed
    /// write changes nothing and costs the units of the item it targeted.
    fn write(&mut self, op: &Value, kind: &str, ok: bool) -> f64 {
        let (key, after) = match kind {
            "Put" => {
                let item = op["Item"].as_object().expect("a put has an item").clone();
                (self.key_of(&item), Some(item))
            }
            "Delete" => (self.key_of(op["Key"].as_object().expect("key")), None),
            "Update" => {
                let key_item = op["Key"].as_object().expect("key").clone();
                let key = self.key_of(&key_item);
                let before = self.items.get(&key).cloned().unwrap_or(key_item);
                (key, Some(apply_update(before, op)))
            }
            "ConditionCheck" => return 1.0,
            other => panic!("write {other} is not metered"),
        };
        let before = self.items.get(&key).cloned();
        if !ok {
            self.tally.failed_conditions += 1;
            let size = before
                .as_ref()
                .map(item_size)
                .unwrap_or(0)
                .max(after.as_ref().map(item_size).unwrap_or(0));
            return units(size, 1024);
        }
        let cost = self.write_cost(before.as_ref(), after.as_ref());
        match after {
            Some(item) => self.items.insert(key, item),
            None => self.items.remove(&key),
        };
        cost
    }

    fn observe(&mut self, op: &str, req: &Value, status: u16, resp: &Value) {
        *self.tally.requests.entry(op.to_owned()).or_default() += 1;
        let ok = status == 200;
        let condition_failed = resp["__type"]
            .as_str()
            .is_some_and(|t| t.ends_with("ConditionalCheckFailedException"));
        if !ok && !condition_failed && op != "TransactWriteItems" {
            return; // throttled or refused before doing anything
        }
        match op {
            "PutItem" => self.tally.write_units += self.write(req, "Put", ok),
            "DeleteItem" => self.tally.write_units += self.write(req, "Delete", ok),
            "UpdateItem" => self.tally.write_units += self.write(req, "Update", ok),
            "BatchWriteItem" => {
                for (_, requests) in req["RequestItems"].as_object().expect("items") {
                    for r in requests.as_array().expect("requests") {
                        let cost = if let Some(p) = r.get("PutRequest") {
                            self.write(p, "Put", true)
                        } else {
                            self.write(&r["DeleteRequest"], "Delete", true)
                        };
                        self.tally.write_units += cost;
                    }
                }
                let unprocessed = resp["UnprocessedItems"].as_object();
                assert!(
                    unprocessed.is_none_or(|u| u.is_empty()),
                    "the meter does not follow unprocessed items"
                );
            }
            "TransactWriteItems" => {
                for t in req["TransactItems"].as_array().expect("items") {
                    let (kind, body) = t.as_object().and_then(|o| o.iter().next()).expect("one");
                    self.tally.write_units += 2.0 * self.write(body, kind, ok);
                }
            }
            "GetItem" => {
                let factor = if req["ConsistentRead"].as_bool() == Some(true) {
                    1.0
                } else {
                    0.5
                };
                let key = self.key_of(req["Key"].as_object().expect("key"));
                let size = self.items.get(&key).map(item_size).unwrap_or(0);
                self.tally.read_units += factor * units(size, 4096);
                self.tally.items_read += u64::from(resp.get("Item").is_some());
            }
            "BatchGetItem" => {
                for (_, request) in req["RequestItems"].as_object().expect("items") {
                    let factor = if request["ConsistentRead"].as_bool() == Some(true) {
                        1.0
                    } else {
                        0.5
                    };
                    for key in request["Keys"].as_array().expect("keys") {
                        let key = self.key_of(key.as_object().expect("key"));
                        let size = self.items.get(&key).map(item_size).unwrap_or(0);
                        self.tally.read_units += factor * units(size, 4096);
                    }
                }
                self.tally.items_read += resp["Responses"].as_object().map_or(0, |t| {
                    t.values()
                        .map(|v| v.as_array().map_or(0, Vec::len))
                        .sum::<usize>()
                }) as u64;
            }
            "Query" => {
                let factor = if req["ConsistentRead"].as_bool() == Some(true) {
                    1.0
                } else {
                    0.5
                };
                let index = req["IndexName"].as_str().map(|n| {
                    self.indexes
                        .iter()
                        .find(|i| i.name == n)
                        .expect("known index")
                        .clone()
                });
                let mut size = 0;
                let items = resp["Items"].as_array().cloned().unwrap_or_default();
                for item in &items {
                    let item = item.as_object().expect("item");
                    let mut full = item.clone();
                    if !full.contains_key(&self.table_keys.0) {
                        // A projection left the partition key out: it is
                        // the one the query asked for.
                        full.insert(
                            self.table_keys.0.clone(),
                            req["ExpressionAttributeValues"][":pk"].clone(),
                        );
                    }
                    let stored = self.items.get(&self.key_of(&full)).cloned().unwrap_or(full);
                    size += match &index {
                        Some(i) => self.entry(i, Some(&stored)).map_or(0, |(_, s)| s),
                        None => item_size(&stored),
                    };
                }
                self.tally.read_units += factor * units(size, 4096);
                self.tally.items_read += items.len() as u64;
            }
            _ => {}
        }
    }
}

/// `SET a = :v, #b = if_not_exists(#b, :w)`, `REMOVE a, #b`, `ADD n :v`:
/// everything the adapters write.
fn apply_update(mut item: Item, op: &Value) -> Item {
    let expr = op["UpdateExpression"].as_str().expect("update expression");
    let names = op["ExpressionAttributeNames"].as_object();
    let values = op["ExpressionAttributeValues"].as_object();
    let name = |n: &str| -> String {
        let n = n.trim();
        if n.starts_with('#') {
            names
                .and_then(|m| m.get(n))
                .and_then(Value::as_str)
                .expect("name")
                .to_owned()
        } else {
            n.to_owned()
        }
    };
    let value = |v: &str| -> Value {
        let v = v.trim();
        assert!(v.starts_with(':'), "operand `{v}` is not metered");
        values.and_then(|m| m.get(v)).cloned().expect("value")
    };
    let mut clauses: Vec<(&str, String)> = Vec::new();
    let words: Vec<&str> = expr.split_whitespace().collect();
    let mut current: Option<(&str, Vec<&str>)> = None;
    for w in words {
        if matches!(w, "SET" | "REMOVE" | "ADD" | "DELETE") {
            if let Some((k, body)) = current.take() {
                clauses.push((k, body.join(" ")));
            }
            current = Some((w, Vec::new()));
        } else {
            current.as_mut().expect("a clause keyword first").1.push(w);
        }
    }
    if let Some((k, body)) = current {
        clauses.push((k, body.join(" ")));
    }
    // Commas inside `if_not_exists(a, :v)` do not separate assignments.
    let parts = |body: &str| -> Vec<String> {
        let (mut out, mut depth, mut cur) = (Vec::new(), 0, String::new());
        for ch in body.chars() {
            match ch {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(std::mem::take(&mut cur));
                    continue;
                }
                _ => {}
            }
            cur.push(ch);
        }
        out.push(cur);
        out
    };
    for (kind, body) in clauses {
        for part in parts(&body) {
            let part = part.as_str();
            match kind {
                "SET" => {
                    let (path, operand) = part.split_once('=').expect("assignment");
                    let operand = operand.trim();
                    let new = match operand
                        .strip_prefix("if_not_exists(")
                        .and_then(|r| r.strip_suffix(')'))
                    {
                        Some(args) => {
                            let (existing, fallback) = args.split_once(',').expect("two operands");
                            item.get(&name(existing))
                                .cloned()
                                .unwrap_or_else(|| value(fallback))
                        }
                        None => value(operand),
                    };
                    item.insert(name(path), new);
                }
                "REMOVE" => {
                    item.remove(&name(part));
                }
                "ADD" => {
                    let mut it = part.split_whitespace();
                    let (path, operand) = (it.next().expect("path"), it.next().expect("operand"));
                    let add: f64 = value(operand)["N"].as_str().unwrap().parse().unwrap();
                    let path = name(path);
                    let now: f64 = item
                        .get(&path)
                        .and_then(|v| v["N"].as_str())
                        .map_or(0.0, |n| n.parse().unwrap());
                    item.insert(path, serde_json::json!({ "N": (now + add).to_string() }));
                }
                other => panic!("update clause {other} is not metered"),
            }
        }
    }
    item
}

impl Intercept for Meter {
    fn name(&self) -> &'static str {
        "CapacityMeter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        // Only DynamoDB's requests (the meter may sit on every client).
        let Some(target) = request
            .headers()
            .get("x-amz-target")
            .filter(|t| t.starts_with("DynamoDB_"))
        else {
            return Ok(());
        };
        let operation = target.rsplit('.').next().unwrap_or("unknown").to_owned();
        let body = json(request.body().bytes());
        cfg.interceptor_state().store_put(Sent { operation, body });
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (Some(sent), Some(response)) = (cfg.load::<Sent>(), context.response()) else {
            return Ok(());
        };
        let resp = json(response.body().bytes());
        let status = response.status().as_u16();
        self.0
            .lock()
            .unwrap()
            .observe(&sent.operation, &sent.body, status, &resp);
        Ok(())
    }
}

/// The table's global secondary indexes, as the meter prices writes to
/// them.
pub async fn indexes(client: &aws_sdk_dynamodb::Client, table: &str) -> anyhow::Result<Vec<Index>> {
    let described = client.describe_table().table_name(table).send().await?;
    let table = described
        .table
        .ok_or_else(|| anyhow::anyhow!("no table description"))?;
    Ok(table
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            let key = |kind: &str| {
                g.key_schema()
                    .iter()
                    .find(|k| k.key_type().as_str() == kind)
                    .map(|k| k.attribute_name().to_owned())
            };
            Index {
                name: g.index_name().unwrap_or_default().to_owned(),
                pk: key("HASH").expect("an index has a partition key"),
                sk: key("RANGE"),
                keys_only: g.projection().and_then(|p| p.projection_type())
                    == Some(&aws_sdk_dynamodb::types::ProjectionType::KeysOnly),
            }
        })
        .collect())
}
