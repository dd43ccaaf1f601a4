//! Streams: seq assignment, history and idempotency in one
//! TransactWriteItems guarded by the head's current seq (optimistic
//! concurrency). A lost race re-reads the head and tries again after a
//! jittered backoff, for as long as the contention budget allows: on a hot
//! channel sequencing costs latency, not errors.
//!
//! Within one process, appends to a channel queue on a per-channel slot
//! that also caches the head the last append wrote: concurrent publishers
//! in one process (the local gateway, a backend) do not race each other,
//! and a steady publisher skips the head read. Across processes (Lambda
//! instances) the condition on the head keeps seq gap-free.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};

use super::{backend, build, DynamoStore, Tx, CONTENTION_BUDGET};
use crate::channel::ChannelName;
use crate::protocol::MessageFrame;
use crate::retry::{Backoff, Budget};
use crate::store::item::{
    get_n, get_s, head_of, history_item, key, message_of, n, s, stream_item, Item,
};
use crate::store::keys::{self, attr, PK, TTL};
use crate::store::{
    new_epoch, Appended, HistoryLimits, NewMessage, StoreError, StreamHead, StreamStore, STREAM_TTL,
};
use crate::time::now_secs;

/// Index of the idempotency record in the append transaction.
const IDEM_ITEM: usize = 1;

/// A channel's append queue and the head its last append wrote.
type Slot = tokio::sync::Mutex<Option<StreamHead>>;

/// Per-channel slots, held weakly: a channel nobody appends to costs nothing.
#[derive(Clone, Debug, Default)]
pub(super) struct Slots(Arc<Mutex<HashMap<String, Weak<Slot>>>>);

impl Slots {
    fn get(&self, channel: &str) -> Arc<Slot> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = map.get(channel).and_then(Weak::upgrade) {
            return slot;
        }
        if map.len() >= 1024 {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let slot = Arc::new(Slot::default());
        map.insert(channel.to_string(), Arc::downgrade(&slot));
        slot
    }
}

impl DynamoStore {
    /// The write that moves the head from `current` (None: no live stream)
    /// to the returned head.
    fn head_write(
        &self,
        channel: &str,
        current: Option<&StreamHead>,
        now: u64,
    ) -> Result<(TransactWriteItem, StreamHead), StoreError> {
        let pk = keys::chan_pk(channel);
        Ok(match current {
            Some(old) => {
                let next = StreamHead {
                    seq: old.seq + 1,
                    epoch: old.epoch.clone(),
                };
                let update = build(
                    Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(pk, keys::STREAM)))
                        .update_expression("SET #seq = :next, #ttl = :ttl")
                        .condition_expression("#seq = :old AND #epoch = :epoch AND #ttl > :now")
                        .expression_attribute_names("#seq", attr::SEQ)
                        .expression_attribute_names("#epoch", attr::EPOCH)
                        .expression_attribute_names("#ttl", TTL)
                        .expression_attribute_values(":next", n(next.seq))
                        .expression_attribute_values(":old", n(old.seq))
                        .expression_attribute_values(":epoch", s(&old.epoch))
                        .expression_attribute_values(":ttl", n(now + STREAM_TTL.as_secs()))
                        .expression_attribute_values(":now", n(now))
                        .build(),
                )?;
                (TransactWriteItem::builder().update(update).build(), next)
            }
            None => {
                let head = StreamHead {
                    seq: 1,
                    epoch: new_epoch(),
                };
                let put = self.create_if_absent(
                    stream_item(channel, &head, now + STREAM_TTL.as_secs()),
                    now,
                )?;
                (TransactWriteItem::builder().put(put).build(), head)
            }
        })
    }

    /// A Put that succeeds only where no live item exists.
    fn create_if_absent(&self, item: Item, now: u64) -> Result<Put, StoreError> {
        build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk) OR #ttl <= :now")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":now", n(now))
                .build(),
        )
    }

    /// Every item of one append attempt at `head`.
    fn append_items(
        &self,
        msg: &NewMessage,
        current: Option<&StreamHead>,
        limits: HistoryLimits,
    ) -> Result<(Vec<TransactWriteItem>, MessageFrame), StoreError> {
        let now = now_secs();
        let channel = msg.channel.as_str();
        let (head_write, head) = self.head_write(channel, current, now)?;
        let frame = MessageFrame {
            channel: channel.to_string(),
            seq: head.seq,
            epoch: head.epoch.clone(),
            data: msg.data.clone(),
            from: msg.from.clone(),
            ts: msg.ts,
            id: msg.id.clone(),
            ephemeral: false,
        };
        let mut tx = vec![head_write];
        if let Some(k) = &msg.idempotency {
            let mut record = key(keys::idem_pk(&k.scope), keys::idem_sk(&k.id));
            record.insert(attr::CHANNEL.into(), s(channel));
            record.insert(attr::SEQ.into(), n(head.seq));
            record.insert(attr::FP.into(), s(&k.fingerprint));
            record.insert(TTL.into(), n(now + k.ttl.as_secs()));
            let put = self.create_if_absent(record, now)?;
            tx.push(TransactWriteItem::builder().put(put).build());
        }
        if limits.max > 0 {
            tx.push(self.put(history_item(&frame, now + limits.ttl.as_secs())?)?);
            if head.seq > u64::from(limits.max) {
                let trim = build(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(
                            keys::chan_pk(channel),
                            keys::msg_sk(head.seq - u64::from(limits.max)),
                        )))
                        .build(),
                )?;
                tx.push(TransactWriteItem::builder().delete(trim).build());
            }
        }
        Ok((tx, frame))
    }
}

#[async_trait]
impl StreamStore for DynamoStore {
    async fn recorded(
        &self,
        scope: &crate::store::IdemScope,
        id: &str,
    ) -> Result<Option<Appended>, StoreError> {
        Ok(self
            .get(keys::idem_pk(scope), &keys::idem_sk(id))
            .await?
            .map(|item| Appended::Duplicate {
                channel: get_s(&item, attr::CHANNEL).unwrap_or_default().into(),
                seq: get_n(&item, attr::SEQ).unwrap_or_default(),
                fingerprint: get_s(&item, attr::FP).unwrap_or_default().into(),
            }))
    }

    async fn stream_head(&self, channel: &ChannelName) -> Result<StreamHead, StoreError> {
        let mut budget = Budget::new(Backoff::STORE, CONTENTION_BUDGET);
        loop {
            if let Some(head) = self.read_head(channel).await? {
                return Ok(head);
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
                .set_item(Some(stream_item(
                    channel.as_str(),
                    &head,
                    now + STREAM_TTL.as_secs(),
                )))
                .condition_expression("attribute_not_exists(#pk) OR #ttl <= :now")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":now", n(now))
                .send()
                .await;
            match r {
                Ok(_) => return Ok(head),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(backend("PutItem", e)),
            }
            if !budget.pause().await {
                return Err(StoreError::Contention(keys::chan_pk(channel.as_str())));
            }
        }
    }

    async fn read_head(&self, channel: &ChannelName) -> Result<Option<StreamHead>, StoreError> {
        self.get(keys::chan_pk(channel.as_str()), keys::STREAM)
            .await?
            .map(|i| head_of(&i))
            .transpose()
    }

    async fn append(&self, msg: NewMessage, limits: HistoryLimits) -> Result<Appended, StoreError> {
        let slot = self.streams.get(msg.channel.as_str());
        let mut cached = slot.lock().await;
        let mut budget = Budget::new(Backoff::STORE, CONTENTION_BUDGET);
        loop {
            let current = match cached.take() {
                Some(head) => Some(head),
                None => self.read_head(&msg.channel).await?,
            };
            let built = Mutex::new(None);
            let outcome = self
                .transact("append", || {
                    let (items, frame) = self.append_items(&msg, current.as_ref(), limits)?;
                    *built.lock().unwrap_or_else(|p| p.into_inner()) = Some(frame);
                    Ok(items)
                })
                .await?;
            let frame = built.into_inner().unwrap_or_else(|p| p.into_inner());
            match outcome {
                Tx::Done => {
                    let frame =
                        frame.ok_or_else(|| StoreError::corrupt("append produced no frame"))?;
                    *cached = Some(StreamHead {
                        seq: frame.seq,
                        epoch: frame.epoch.clone(),
                    });
                    return Ok(Appended::New(frame));
                }
                Tx::ConditionsFailed(failed)
                    if msg.idempotency.is_some() && failed.contains(&IDEM_ITEM) =>
                {
                    if let Some(k) = &msg.idempotency {
                        let sk = keys::idem_sk(&k.id);
                        if let Some(item) = self.get(keys::idem_pk(&k.scope), &sk).await? {
                            return Ok(Appended::Duplicate {
                                channel: get_s(&item, attr::CHANNEL).unwrap_or_default().into(),
                                seq: get_n(&item, attr::SEQ).unwrap_or_default(),
                                fingerprint: get_s(&item, attr::FP).unwrap_or_default().into(),
                            });
                        }
                    }
                    // The record expired between the two calls: try again.
                }
                // Another publisher moved the head first: re-read it.
                Tx::ConditionsFailed(_) => {}
            }
            if !budget.pause().await {
                return Err(StoreError::Contention(keys::chan_pk(msg.channel.as_str())));
            }
        }
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
        let pk = keys::chan_pk(channel.as_str());
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
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                .filter_expression("#ttl > :now AND #epoch = :epoch")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", keys::SK)
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_names("#epoch", attr::EPOCH)
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":lo", s(&low))
                .expression_attribute_values(":hi", s(&high))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":epoch", s(&head.epoch))
                .scan_index_forward(forward)
                .limit(limit.clamp(1, 1000) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| backend("Query", e))?;
            for item in r.items() {
                out.push(message_of(item)?);
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
