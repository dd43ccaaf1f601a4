//! DynamoDB backend: one table, key shapes in [`super::keys`], item ↔ struct
//! conversion here only. Hot paths use GetItem/Query/TransactWriteItems, never Scan.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, DeleteRequest,
    KeySchemaElement, KeyType, Put, ScalarAttributeType, Select, TimeToLiveSpecification,
    TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodb::Client;

use super::keys::{self, PK, SK, TTL};
use super::{
    new_epoch, Appended, ConnectionRecord, HistoryLimits, NewMessage, Page, Removed, Store,
    StoreError, StreamHead, Subscriber, STREAM_TTL,
};
use crate::auth::Principal;
use crate::channel::ChannelName;
use crate::protocol::MessageFrame;
use crate::time::now_secs;

type Item = HashMap<String, AttributeValue>;

/// How often an optimistic write (seq assignment) is retried under contention.
const MAX_CAS_ATTEMPTS: u32 = 20;
/// DynamoDB's BatchWriteItem limit.
const BATCH: usize = 25;

/// The production store: a DynamoDB table with TTL on `ttl`.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
fn key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}
fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}
fn get_n(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}
fn live(item: &Item, now: u64) -> bool {
    get_n(item, TTL).is_some_and(|t| t > now)
}
fn backend<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    StoreError::Backend(DisplayErrorContext(&e).to_string())
}
fn build<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Backend(format!("request build: {e}")))
}
/// The cancellation reason codes of a cancelled transaction, one per item
/// (empty string where an item had none); `None` for any other error.
fn cancellation_codes<R>(
    e: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Option<Vec<String>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
    match e.as_service_error()? {
        E::TransactionCanceledException(c) => Some(
            c.cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or_default().to_string())
                .collect(),
        ),
        _ => None,
    }
}

/// True when a transaction lost a race (a condition failed or another
/// transaction conflicted), as opposed to a real failure.
fn condition_failed<R>(
    e: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> bool {
    cancellation_codes(e).is_some_and(|codes| {
        codes
            .iter()
            .any(|c| c == "ConditionalCheckFailed" || c == "TransactionConflict")
    })
}

async fn backoff(attempt: u32) {
    use rand::Rng;
    let cap = 5u64 * (1 << attempt.min(6));
    let ms = rand::rng().random_range(1..=cap);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

impl DynamoStore {
    /// Wraps a client built once at cold start.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn put(&self, item: Item) -> Result<Put, StoreError> {
        build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .build(),
        )
    }

    /// Every item of a partition (optionally under an sk prefix), following pages.
    async fn query_all(&self, pk: String, prefix: Option<&str>) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_values(":pk", s(&pk))
                .set_exclusive_start_key(start.take());
            q = match prefix {
                Some(p) => q
                    .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
                    .expression_attribute_values(":p", s(p)),
                None => q.key_condition_expression("pk = :pk"),
            };
            let r = q.send().await.map_err(backend)?;
            out.extend(r.items.unwrap_or_default());
            match r.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(out),
            }
        }
    }

    /// Counts live items under a prefix without returning them.
    async fn count(&self, pk: String, prefix: &str) -> Result<u32, StoreError> {
        let mut total = 0u32;
        let mut start: Option<Item> = None;
        let now = now_secs();
        loop {
            let r = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
                .filter_expression("#ttl > :now")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":p", s(prefix))
                .expression_attribute_values(":now", n(now))
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(backend)?;
            total += r.count.max(0) as u32;
            match r.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(total),
            }
        }
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let r = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .set_key(Some(key(pk, sk.to_string())))
            .send()
            .await
            .map_err(backend)?;
        Ok(r.item.filter(|i| live(i, now_secs())))
    }

    /// Deletes keys in batches of 25, retrying unprocessed ones with backoff.
    async fn delete_keys(&self, keys: Vec<Item>) -> Result<(), StoreError> {
        for chunk in keys.chunks(BATCH) {
            let mut requests = chunk
                .iter()
                .map(|k| {
                    build(DeleteRequest::builder().set_key(Some(k.clone())).build())
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                })
                .collect::<Result<Vec<_>, _>>()?;
            for attempt in 0..8 {
                let r = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(backend)?;
                requests = r
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                backoff(attempt).await;
            }
            if !requests.is_empty() {
                return Err(StoreError::Contention("batch delete".into()));
            }
        }
        Ok(())
    }

    fn head_of(item: &Item) -> Result<StreamHead, StoreError> {
        match (get_n(item, "seq"), get_s(item, "epoch")) {
            (Some(seq), Some(epoch)) => Ok(StreamHead {
                seq,
                epoch: epoch.to_string(),
            }),
            _ => Err(StoreError::Corrupt("stream head".into())),
        }
    }

    fn stream_item(channel: &str, head: &StreamHead, now: u64) -> Item {
        let mut item = key(keys::chan_pk(channel), keys::STREAM.into());
        item.insert("seq".into(), n(head.seq));
        item.insert("epoch".into(), s(&head.epoch));
        item.insert(TTL.into(), n(now + STREAM_TTL.as_secs()));
        item
    }
}

fn connection_of(item: &Item) -> Result<ConnectionRecord, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("connection {:?}", get_s(item, PK)));
    let id = get_s(item, "id").ok_or_else(corrupt)?;
    let principal: Principal = serde_json::from_str(get_s(item, "principal").ok_or_else(corrupt)?)
        .map_err(|_| corrupt())?;
    Ok(ConnectionRecord {
        id: id.to_string(),
        principal,
        connected_at: get_n(item, "connected_at").ok_or_else(corrupt)?,
    })
}

fn principal_json(p: &Principal) -> Result<String, StoreError> {
    serde_json::to_string(p).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl Store for DynamoStore {
    async fn count_user_connections(&self, user: &str) -> Result<u32, StoreError> {
        self.count(keys::user_pk(user), "conn#").await
    }

    async fn put_connection(
        &self,
        conn: &ConnectionRecord,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let exp = now_secs() + ttl.as_secs();
        let mut meta = key(keys::conn_pk(&conn.id), keys::META.into());
        meta.insert("id".into(), s(&conn.id));
        meta.insert("user".into(), s(&conn.principal.sub));
        meta.insert("principal".into(), s(principal_json(&conn.principal)?));
        meta.insert("connected_at".into(), n(conn.connected_at));
        meta.insert(TTL.into(), n(exp));
        let mut index = key(
            keys::user_pk(&conn.principal.sub),
            keys::user_conn_sk(&conn.id),
        );
        index.insert(TTL.into(), n(exp));
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(self.put(meta)?).build())
            .transact_items(TransactWriteItem::builder().put(self.put(index)?).build())
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get_connection(&self, id: &str) -> Result<Option<ConnectionRecord>, StoreError> {
        self.get(keys::conn_pk(id), keys::META)
            .await?
            .map(|i| connection_of(&i))
            .transpose()
    }

    async fn update_principal(&self, id: &str, principal: &Principal) -> Result<(), StoreError> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::conn_pk(id), keys::META.into())))
            .update_expression("SET principal = :p")
            .condition_expression("attribute_exists(pk) AND #ttl > :now")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":p", s(principal_json(principal)?))
            .expression_attribute_values(":now", n(now_secs()))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::NoConnection(id.into()))
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn remove_connection(&self, id: &str) -> Result<Removed, StoreError> {
        let items = self.query_all(keys::conn_pk(id), None).await?;
        let mut removed = Removed::default();
        let mut doomed = Vec::with_capacity(items.len() * 2 + 1);
        for item in &items {
            let sk = get_s(item, SK).unwrap_or_default();
            if sk == keys::META {
                removed.connection = true;
                if let Some(user) = get_s(item, "user") {
                    doomed.push(key(keys::user_pk(user), keys::user_conn_sk(id)));
                }
            } else if let Some(channel) = sk.strip_prefix(keys::SUB_PREFIX) {
                removed.subscriptions += 1;
                doomed.push(key(keys::chan_pk(channel), keys::sub_sk(id)));
            }
            doomed.push(key(keys::conn_pk(id), sk.to_string()));
        }
        self.delete_keys(doomed).await?;
        Ok(removed)
    }

    async fn count_subscriptions(&self, connection_id: &str) -> Result<u32, StoreError> {
        self.count(keys::conn_pk(connection_id), keys::SUB_PREFIX)
            .await
    }

    async fn is_subscribed(
        &self,
        connection_id: &str,
        channel: &ChannelName,
    ) -> Result<bool, StoreError> {
        Ok(self
            .get(
                keys::conn_pk(connection_id),
                &keys::sub_sk(channel.as_str()),
            )
            .await?
            .is_some())
    }

    async fn subscribe(
        &self,
        conn: &ConnectionRecord,
        channel: &ChannelName,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = now_secs();
        let exp = now + ttl.as_secs();
        let mut mine = key(keys::conn_pk(&conn.id), keys::sub_sk(channel.as_str()));
        mine.insert("channel".into(), s(channel.as_str()));
        mine.insert(TTL.into(), n(exp));
        let mut theirs = key(keys::chan_pk(channel.as_str()), keys::sub_sk(&conn.id));
        theirs.insert("conn".into(), s(&conn.id));
        theirs.insert("user".into(), s(&conn.principal.sub));
        theirs.insert(TTL.into(), n(exp));
        let alive = build(
            ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::conn_pk(&conn.id), keys::META.into())))
                .condition_expression("attribute_exists(pk) AND #ttl > :now")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":now", n(now))
                .build(),
        )?;
        let r = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(alive).build())
            .transact_items(TransactWriteItem::builder().put(self.put(mine)?).build())
            .transact_items(TransactWriteItem::builder().put(self.put(theirs)?).build())
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(StoreError::NoConnection(conn.id.clone())),
            Err(e) => Err(backend(e)),
        }
    }

    async fn unsubscribe(
        &self,
        connection_id: &str,
        channel: &ChannelName,
    ) -> Result<bool, StoreError> {
        let existed = self.is_subscribed(connection_id, channel).await?;
        self.delete_keys(vec![
            key(keys::conn_pk(connection_id), keys::sub_sk(channel.as_str())),
            key(keys::chan_pk(channel.as_str()), keys::sub_sk(connection_id)),
        ])
        .await?;
        Ok(existed)
    }

    async fn subscribers(
        &self,
        channel: &ChannelName,
        cursor: Option<String>,
        page_size: u32,
    ) -> Result<Page<Subscriber>, StoreError> {
        let pk = keys::chan_pk(channel.as_str());
        let r = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .filter_expression("#ttl > :now")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":p", s(keys::SUB_PREFIX))
            .expression_attribute_values(":now", n(now_secs()))
            .limit(page_size.clamp(1, 1000) as i32)
            .set_exclusive_start_key(cursor.map(|sk| key(pk.clone(), sk)))
            .send()
            .await
            .map_err(backend)?;
        let items = r
            .items()
            .iter()
            .filter_map(|i| {
                Some(Subscriber {
                    connection_id: get_s(i, "conn")?.to_string(),
                    user: get_s(i, "user")?.to_string(),
                })
            })
            .collect();
        let next = r
            .last_evaluated_key()
            .and_then(|k| get_s(k, SK))
            .map(str::to_string);
        Ok(Page { items, next })
    }

    async fn stream_head(&self, channel: &ChannelName) -> Result<StreamHead, StoreError> {
        let pk = keys::chan_pk(channel.as_str());
        for _ in 0..3 {
            if let Some(item) = self.get(pk.clone(), keys::STREAM).await? {
                return Self::head_of(&item);
            }
            let now = now_secs();
            let head = StreamHead {
                seq: 0,
                epoch: new_epoch(),
            };
            let r = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(Self::stream_item(channel.as_str(), &head, now)))
                .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":now", n(now))
                .send()
                .await;
            match r {
                Ok(_) => return Ok(head),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(backend(e)),
            }
        }
        Err(StoreError::Contention(pk))
    }

    async fn append(&self, msg: NewMessage, limits: HistoryLimits) -> Result<Appended, StoreError> {
        let channel = msg.channel.to_string();
        let pk = keys::chan_pk(&channel);
        let idem_key = match (&msg.id, msg.idempotency_ttl) {
            (Some(id), Some(ttl)) => Some((key(keys::user_pk(&msg.from), keys::idem_sk(id)), ttl)),
            _ => None,
        };
        for attempt in 0..MAX_CAS_ATTEMPTS {
            let now = now_secs();
            let current = self.get(pk.clone(), keys::STREAM).await?;
            let (head_write, head) = match &current {
                Some(item) => {
                    let old = Self::head_of(item)?;
                    let next = StreamHead {
                        seq: old.seq + 1,
                        epoch: old.epoch.clone(),
                    };
                    let update = build(
                        Update::builder()
                            .table_name(&self.table)
                            .set_key(Some(key(pk.clone(), keys::STREAM.into())))
                            .update_expression("SET seq = :next, #ttl = :ttl")
                            .condition_expression("seq = :old AND epoch = :epoch")
                            .expression_attribute_names("#ttl", TTL)
                            .expression_attribute_values(":next", n(next.seq))
                            .expression_attribute_values(":old", n(old.seq))
                            .expression_attribute_values(":epoch", s(&old.epoch))
                            .expression_attribute_values(":ttl", n(now + STREAM_TTL.as_secs()))
                            .build(),
                    )?;
                    (TransactWriteItem::builder().update(update).build(), next)
                }
                None => {
                    let head = StreamHead {
                        seq: 1,
                        epoch: new_epoch(),
                    };
                    let put = build(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(Self::stream_item(&channel, &head, now)))
                            .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
                            .expression_attribute_names("#ttl", TTL)
                            .expression_attribute_values(":now", n(now))
                            .build(),
                    )?;
                    (TransactWriteItem::builder().put(put).build(), head)
                }
            };
            let frame = MessageFrame {
                channel: channel.clone(),
                seq: head.seq,
                epoch: head.epoch.clone(),
                data: msg.data.clone(),
                from: msg.from.clone(),
                ts: msg.ts,
                id: msg.id.clone(),
            };
            let mut tx = self
                .client
                .transact_write_items()
                .transact_items(head_write);
            // Item 1: the idempotency record, written only if no live one exists.
            if let Some((k, ttl)) = &idem_key {
                let mut record = k.clone();
                record.insert("channel".into(), s(&channel));
                record.insert("seq".into(), n(head.seq));
                record.insert(TTL.into(), n(now + ttl.as_secs()));
                let put = build(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(record))
                        .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
                        .expression_attribute_names("#ttl", TTL)
                        .expression_attribute_values(":now", n(now))
                        .build(),
                )?;
                tx = tx.transact_items(TransactWriteItem::builder().put(put).build());
            }
            if limits.max > 0 {
                let mut entry = key(pk.clone(), keys::msg_sk(head.seq));
                entry.insert(
                    "msg".into(),
                    s(serde_json::to_string(&frame)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?),
                );
                entry.insert("epoch".into(), s(&head.epoch));
                entry.insert(TTL.into(), n(now + limits.ttl.as_secs()));
                tx = tx.transact_items(TransactWriteItem::builder().put(self.put(entry)?).build());
                if head.seq > u64::from(limits.max) {
                    let trim = build(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(key(
                                pk.clone(),
                                keys::msg_sk(head.seq - u64::from(limits.max)),
                            )))
                            .build(),
                    )?;
                    tx = tx.transact_items(TransactWriteItem::builder().delete(trim).build());
                }
            }
            match tx.send().await {
                Ok(_) => return Ok(Appended::New(frame)),
                Err(e) => {
                    let codes = cancellation_codes(&e);
                    let duplicate = idem_key.is_some()
                        && codes
                            .as_ref()
                            .and_then(|c| c.get(1))
                            .is_some_and(|c| c == "ConditionalCheckFailed");
                    if duplicate {
                        if let Some((k, _)) = &idem_key {
                            let sk = get_s(k, SK).unwrap_or_default().to_string();
                            if let Some(item) = self.get(keys::user_pk(&msg.from), &sk).await? {
                                return Ok(Appended::Duplicate {
                                    channel: get_s(&item, "channel")
                                        .unwrap_or_default()
                                        .to_string(),
                                    seq: get_n(&item, "seq").unwrap_or_default(),
                                });
                            }
                        }
                        // The record expired between the two calls: try again.
                        backoff(attempt).await;
                    } else if condition_failed(&e) {
                        backoff(attempt).await;
                    } else {
                        return Err(backend(e));
                    }
                }
            }
        }
        Err(StoreError::Contention(pk))
    }

    async fn rate_hit(
        &self,
        connection_id: &str,
        window: u64,
        ttl: Duration,
    ) -> Result<u32, StoreError> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::conn_pk(connection_id),
                keys::rate_sk(window),
            )))
            .update_expression("ADD hits :one SET #ttl = :ttl")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(now_secs() + ttl.as_secs()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(backend)?;
        Ok(r.attributes()
            .and_then(|a| get_n(a, "hits"))
            .unwrap_or(1)
            .try_into()
            .unwrap_or(u32::MAX))
    }

    async fn history(
        &self,
        channel: &ChannelName,
        head: &StreamHead,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<MessageFrame>, StoreError> {
        if limit == 0 || head.seq == 0 {
            return Ok(Vec::new());
        }
        self.history_entries(&keys::chan_pk(channel.as_str()), &head.epoch, after, limit)
            .await
    }
}

impl DynamoStore {
    /// Pages through history entries of `epoch` in one direction until
    /// `limit` live ones are found (expired ones may linger in the table).
    async fn history_entries(
        &self,
        pk: &str,
        epoch: &str,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<MessageFrame>, StoreError> {
        let now = now_secs();
        let forward = after.is_some();
        let low = keys::msg_sk(after.map_or(0, |a| a.saturating_add(1)));
        let high = keys::msg_sk(u64::MAX);
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let r = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                .filter_expression("#ttl > :now AND epoch = :epoch")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":lo", s(&low))
                .expression_attribute_values(":hi", s(&high))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":epoch", s(epoch))
                .scan_index_forward(forward)
                .limit(limit.clamp(1, 1000) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(backend)?;
            for item in r.items() {
                let raw = get_s(item, "msg")
                    .ok_or_else(|| StoreError::Corrupt("history entry".into()))?;
                let m: MessageFrame =
                    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                out.push(m);
                if out.len() >= limit as usize {
                    break;
                }
            }
            match r.last_evaluated_key {
                Some(k) if out.len() < limit as usize => start = Some(k),
                _ => break,
            }
        }
        if !forward {
            out.reverse();
        }
        Ok(out)
    }
}

/// Creates the wsfn table (pk/sk strings, on-demand, TTL on `ttl`) if it does
/// not exist. Used by tests and by the local gateway with DynamoDB Local.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let attr = |name: &str| {
        build(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build(),
        )
    };
    let schema = |name: &str, kind: KeyType| {
        build(
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build(),
        )
    };
    let r = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(PK)?)
        .attribute_definitions(attr(SK)?)
        .key_schema(schema(PK, KeyType::Hash)?)
        .key_schema(schema(SK, KeyType::Range)?)
        .send()
        .await;
    match r {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_in_use_exception()) =>
        {
            return Ok(())
        }
        Err(e) => return Err(backend(e)),
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(build(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL)
                .enabled(true)
                .build(),
        )?)
        .send()
        .await
        .map_err(backend)?;
    Ok(())
}
