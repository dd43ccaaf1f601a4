//! Subscriptions: both directions written in one transaction with the
//! connection's quota counter (`subs` on its record), so pipelined
//! subscribes cannot overshoot `MAX_SUBSCRIPTIONS_PER_CONNECTION`.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};

use super::{backend, build, DynamoStore, Tx};
use crate::channel::ChannelName;
use crate::store::item::{get_s, key, n, s, subscriber_of, subscription_items};
use crate::store::keys::{self, attr, PK, SK, TTL};
use crate::store::IdRange;
use crate::store::{
    ConnectionRecord, Page, Quota, StoreError, Subscribed, Subscriber, SubscriptionStore,
};
use crate::time::now_secs;

#[async_trait]
impl SubscriptionStore for DynamoStore {
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
        quota: Quota,
        ttl: Duration,
    ) -> Result<Subscribed, StoreError> {
        let meta = key(keys::conn_pk(&conn.id), keys::META);
        let items = || {
            let now = now_secs();
            let alive = "attribute_exists(#pk) AND #ttl > :now";
            let first = match quota {
                Quota::Limited(max) => TransactWriteItem::builder()
                    .update(build(
                        Update::builder()
                            .table_name(&self.table)
                            .set_key(Some(meta.clone()))
                            .update_expression("ADD #subs :one")
                            .condition_expression(format!(
                                "{alive} AND (attribute_not_exists(#subs) OR #subs < :max)"
                            ))
                            .expression_attribute_names("#pk", PK)
                            .expression_attribute_names("#ttl", TTL)
                            .expression_attribute_names("#subs", attr::SUBS)
                            .expression_attribute_values(":now", n(now))
                            .expression_attribute_values(":one", n(1))
                            .expression_attribute_values(":max", n(u64::from(max)))
                            .build(),
                    )?)
                    .build(),
                Quota::Free => TransactWriteItem::builder()
                    .condition_check(build(
                        ConditionCheck::builder()
                            .table_name(&self.table)
                            .set_key(Some(meta.clone()))
                            .condition_expression(alive)
                            .expression_attribute_names("#pk", PK)
                            .expression_attribute_names("#ttl", TTL)
                            .expression_attribute_values(":now", n(now))
                            .build(),
                    )?)
                    .build(),
            };
            let [mine, theirs] = subscription_items(conn, channel.as_str(), now + ttl.as_secs());
            let mine = build(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(mine))
                    .condition_expression("attribute_not_exists(#pk) OR #ttl <= :now")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_names("#ttl", TTL)
                    .expression_attribute_values(":now", n(now))
                    .build(),
            )?;
            Ok(vec![
                first,
                TransactWriteItem::builder().put(mine).build(),
                self.put(theirs)?,
            ])
        };
        match self.transact("subscribe", items).await? {
            Tx::Done => Ok(Subscribed::New),
            Tx::ConditionsFailed(failed) if failed.contains(&1) => Ok(Subscribed::Already),
            Tx::ConditionsFailed(_) => match self.get(keys::conn_pk(&conn.id), keys::META).await? {
                None => Err(StoreError::NoConnection(conn.id.clone())),
                Some(_) => Ok(Subscribed::LimitReached),
            },
        }
    }

    async fn unsubscribe(
        &self,
        connection_id: &str,
        channel: &ChannelName,
        quota: Quota,
    ) -> Result<bool, StoreError> {
        let mine = key(keys::conn_pk(connection_id), keys::sub_sk(channel.as_str()));
        let theirs = key(keys::chan_pk(channel.as_str()), keys::sub_sk(connection_id));
        let meta = key(keys::conn_pk(connection_id), keys::META);
        let items = || {
            let mut tx = vec![
                TransactWriteItem::builder()
                    .delete(build(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(mine.clone()))
                            .condition_expression("attribute_exists(#pk)")
                            .expression_attribute_names("#pk", PK)
                            .build(),
                    )?)
                    .build(),
                TransactWriteItem::builder()
                    .delete(build(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(theirs.clone()))
                            .build(),
                    )?)
                    .build(),
            ];
            if matches!(quota, Quota::Limited(_)) {
                tx.push(
                    TransactWriteItem::builder()
                        .update(build(
                            Update::builder()
                                .table_name(&self.table)
                                .set_key(Some(meta.clone()))
                                .update_expression("ADD #subs :minus")
                                .condition_expression("attribute_exists(#pk) AND #subs > :zero")
                                .expression_attribute_names("#pk", PK)
                                .expression_attribute_names("#subs", attr::SUBS)
                                .expression_attribute_values(
                                    ":minus",
                                    AttributeValue::N("-1".into()),
                                )
                                .expression_attribute_values(":zero", n(0))
                                .build(),
                        )?)
                        .build(),
                );
            }
            Ok(tx)
        };
        match self.transact("unsubscribe", items).await? {
            Tx::Done => Ok(true),
            Tx::ConditionsFailed(failed) if failed.contains(&0) => Ok(false),
            // The record is gone (or its counter is): delete the pair plainly.
            Tx::ConditionsFailed(_) => {
                self.delete_keys(vec![mine, theirs]).await?;
                Ok(true)
            }
        }
    }

    async fn subscribers_in(
        &self,
        channel: &ChannelName,
        range: &IdRange,
        after: Option<String>,
        page_size: u32,
    ) -> Result<Page<Subscriber>, StoreError> {
        let pk = keys::chan_pk(channel.as_str());
        // `sub#` items sort between `stream`/`msg#` neighbours; "sub$" is
        // the first key after every `sub#…`. BETWEEN is inclusive, so an
        // item exactly at `to` (never a real id: split points are short) is
        // skipped below.
        let lo = keys::sub_sk(range.from.as_deref().unwrap_or(""));
        let hi = match &range.to {
            Some(t) => keys::sub_sk(t),
            None => keys::SUB_END.to_string(),
        };
        let r = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .filter_expression("#ttl > :now")
            // Only what a push needs: fewer attributes to read per
            // subscriber (the filter still sees the whole item).
            .projection_expression("#conn, #user, #info")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_names("#conn", attr::CONN)
            .expression_attribute_names("#user", attr::USER)
            .expression_attribute_names("#info", attr::INFO)
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":lo", s(&lo))
            .expression_attribute_values(":hi", s(&hi))
            .expression_attribute_values(":now", n(now_secs()))
            .limit(page_size.clamp(1, 1000) as i32)
            .set_exclusive_start_key(after.map(|id| key(pk.clone(), keys::sub_sk(&id))))
            .send()
            .await
            .map_err(|e| backend("Query", e))?;
        let items = r
            .items()
            .iter()
            .filter_map(subscriber_of)
            .filter(|sub| range.contains(&sub.connection_id))
            .collect();
        let next = r
            .last_evaluated_key()
            .and_then(|k| get_s(k, SK))
            .and_then(|sk| sk.strip_prefix(keys::SUB_PREFIX))
            .map(str::to_string);
        Ok(Page { items, next })
    }
}
