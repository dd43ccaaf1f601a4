//! Connections and the per-user connection set.
//!
//! The per-user limit is one item per user holding the set of connection
//! ids: `$connect` adds its id under the condition `size(ids) < max` in the
//! same transaction that writes the connection and its personal
//! subscription, so simultaneous handshakes cannot overshoot, and removing
//! an id twice (a late second `$disconnect`) is harmless.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};

use super::{backend, build, DynamoStore, Tx};
use crate::auth::Principal;
use crate::store::item::{
    connection_item, connection_of, get_n, get_s, key, n, s, subscription_items,
};
use crate::store::keys::{self, attr, SK, TTL};
use crate::store::{
    Admission, ConnectionRecord, ConnectionStore, NewConnection, Removed, StoreError,
};
use crate::time::now_secs;

impl DynamoStore {
    pub(super) fn put(
        &self,
        item: crate::store::item::Item,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Removes `id` from the user's connection set (a no-op if absent);
    /// the user's last connection takes the set item with it.
    async fn release_slot(&self, user: &str, id: &str) -> Result<(), StoreError> {
        let k = key(keys::user_pk(user), keys::CONNS);
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(k.clone()))
            .update_expression("DELETE #ids :id")
            // Only on a set that exists: an UpdateItem would otherwise create
            // the item (without a TTL) when a concurrent cleanup of the same
            // connection (a 410 and its `$disconnect`) already deleted it.
            .condition_expression("attribute_exists(#ids)")
            .expression_attribute_names("#ids", attr::IDS)
            .expression_attribute_values(":id", AttributeValue::Ss(vec![id.to_string()]))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let emptied = match r {
            Ok(r) => r.attributes().is_none_or(|a| !a.contains_key(attr::IDS)),
            Err(e) => match e.as_service_error() {
                // No set: nothing to release — unless the item is still there
                // without one (a retried call whose first attempt emptied
                // it), when the item still has to go.
                Some(UpdateItemError::ConditionalCheckFailedException(ccf)) => match ccf.item() {
                    Some(old) => !old.contains_key(attr::IDS),
                    None => return Ok(()),
                },
                _ => return Err(backend("UpdateItem", e)),
            },
        };
        if emptied {
            let gone = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(k))
                // Not while it holds a revocation watermark.
                .condition_expression(
                    "attribute_not_exists(#ids) AND (attribute_not_exists(#revu) OR #revu < :now)",
                )
                .expression_attribute_names("#ids", attr::IDS)
                .expression_attribute_names("#revu", attr::REVOKED_UNTIL)
                .expression_attribute_values(":now", n(now_secs()))
                .send()
                .await;
            match gone {
                Ok(_) => {}
                // A new connection took a slot meanwhile, or a revocation
                // stands: the item stays.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(backend("DeleteItem", e)),
            }
        }
        Ok(())
    }
}

/// The revocation watermark of a user's set item, while it holds.
fn revoked(item: &crate::store::item::Item) -> Option<u64> {
    let until = get_n(item, attr::REVOKED_UNTIL)?;
    (until >= now_secs())
        .then(|| get_n(item, attr::REVOKED))
        .flatten()
}

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn open_connection(&self, new: NewConnection<'_>) -> Result<Admission, StoreError> {
        let conn = new.record;
        let user_key = key(keys::user_pk(&conn.principal.sub), keys::CONNS);
        let items = || {
            let exp = now_secs() + new.ttl.as_secs();
            let slot = build(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(user_key.clone()))
                    .update_expression("ADD #ids :id SET #ttl = :ttl")
                    // The slot, and no revocation of this token (the
                    // watermark lives on this item: no extra read).
                    .condition_expression(
                        "(attribute_not_exists(#ids) OR size(#ids) < :max) AND \
                         (attribute_not_exists(#rev) OR #rev <= :iat OR #revu < :now)",
                    )
                    .expression_attribute_names("#ids", attr::IDS)
                    .expression_attribute_names("#ttl", TTL)
                    .expression_attribute_names("#rev", attr::REVOKED)
                    .expression_attribute_names("#revu", attr::REVOKED_UNTIL)
                    .expression_attribute_values(":id", AttributeValue::Ss(vec![conn.id.clone()]))
                    // Outlives a watermark set while the connection lives.
                    .expression_attribute_values(":ttl", n(exp + new.revoke_window.as_secs()))
                    .expression_attribute_values(":max", n(u64::from(new.max_per_user)))
                    .expression_attribute_values(":iat", n(conn.principal.iat))
                    .expression_attribute_values(":now", n(now_secs()))
                    .build(),
            )?;
            let mut tx = vec![
                TransactWriteItem::builder().update(slot).build(),
                self.put(connection_item(conn, exp)?)?,
            ];
            if let Some(personal) = new.personal {
                for item in subscription_items(conn, personal.as_str(), exp) {
                    tx.push(self.put(item)?);
                }
            }
            Ok(tx)
        };
        match self.transact("connect", items).await? {
            Tx::Done => Ok(Admission::Admitted),
            Tx::ConditionsFailed(_) => {
                let r = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .consistent_read(true)
                    .set_key(Some(user_key.clone()))
                    .send()
                    .await
                    .map_err(|e| backend("GetItem", e))?;
                let item = r.item.unwrap_or_default();
                if revoked(&item).is_some_and(|before| conn.principal.iat < before) {
                    return Ok(Admission::Revoked);
                }
                let ids = item
                    .get(attr::IDS)
                    .and_then(|v| v.as_ss().ok())
                    .cloned()
                    .unwrap_or_default();
                Ok(Admission::AtLimit(ids))
            }
        }
    }

    async fn get_connection(&self, id: &str) -> Result<Option<ConnectionRecord>, StoreError> {
        self.get(keys::conn_pk(id), keys::META)
            .await?
            .map(|i| connection_of(&i))
            .transpose()
    }

    async fn update_principal(&self, id: &str, principal: &Principal) -> Result<(), StoreError> {
        let json = serde_json::to_string(principal).map_err(|e| StoreError::Corrupt {
            what: "principal".into(),
            source: Some(e.into()),
        })?;
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::conn_pk(id), keys::META)))
            .update_expression("SET #p = :p")
            .condition_expression("attribute_exists(#p) AND #ttl > :now")
            .expression_attribute_names("#p", attr::PRINCIPAL)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":p", s(json))
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
            Err(e) => Err(backend("UpdateItem", e)),
        }
    }

    async fn remove_connection(&self, id: &str) -> Result<Removed, StoreError> {
        let items = self.query_all(keys::conn_pk(id)).await?;
        let mut removed = Removed::default();
        let mut doomed = Vec::with_capacity(items.len() * 2);
        let mut user = None;
        for item in &items {
            let sk = get_s(item, SK).unwrap_or_default();
            if sk == keys::META {
                removed.connection = true;
                user = get_s(item, attr::USER).map(str::to_string);
            } else if let Some(channel) = sk.strip_prefix(keys::SUB_PREFIX) {
                removed.subscriptions += 1;
                removed.channels.push(channel.to_string());
                doomed.push(key(keys::chan_pk(channel), keys::sub_sk(id)));
            }
            doomed.push(key(keys::conn_pk(id), sk));
        }
        // Subscriptions first, the record last: a crash in between leaves a
        // record that a retry (or the TTL) still finds.
        if let Some(user) = &user {
            self.release_slot(user, id).await?;
        }
        self.delete_keys(doomed).await?;
        removed.user = user;
        Ok(removed)
    }

    async fn forget_user_connection(&self, user: &str, id: &str) -> Result<(), StoreError> {
        self.release_slot(user, id).await
    }

    async fn user_connections(&self, user: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .get(keys::user_pk(user), keys::CONNS)
            .await?
            .and_then(|i| i.get(attr::IDS).and_then(|v| v.as_ss().ok()).cloned())
            .unwrap_or_default())
    }

    async fn revoke(&self, user: &str, before: u64, until: u64) -> Result<(), StoreError> {
        // The item's TTL is raised to `until`, never lowered: it may hold
        // slots of live connections that expire later. The first call is
        // for an item that already lives long enough (a user with live
        // connections: the common case, one write); the second raises it.
        for raise_ttl in [false, true] {
            match self.set_watermark(user, before, until, raise_ttl).await {
                Ok(()) => return Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
                {
                    continue
                }
                Err(e) => return Err(backend("UpdateItem", e)),
            }
        }
        // Both refused: a later watermark already stands.
        Ok(())
    }

    async fn revoked_before(&self, user: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .get(keys::user_pk(user), keys::CONNS)
            .await?
            .and_then(|i| revoked(&i)))
    }
}

impl DynamoStore {
    /// One conditional write of the revocation watermark: without
    /// `raise_ttl` on an item whose TTL is at least `until`, with it on any
    /// other (raising the TTL to `until`).
    async fn set_watermark(
        &self,
        user: &str,
        before: u64,
        until: u64,
        raise_ttl: bool,
    ) -> Result<(), aws_sdk_dynamodb::error::SdkError<UpdateItemError>> {
        let watermark = "(attribute_not_exists(#rev) OR #rev <= :before OR #revu < :now)";
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(user), keys::CONNS)))
            .expression_attribute_names("#rev", attr::REVOKED)
            .expression_attribute_names("#revu", attr::REVOKED_UNTIL)
            .expression_attribute_values(":before", n(before))
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":now", n(now_secs()));
        update = if raise_ttl {
            update
                .update_expression("SET #rev = :before, #revu = :until, #ttl = :until")
                .condition_expression(format!(
                    "{watermark} AND (attribute_not_exists(#ttl) OR #ttl < :until)"
                ))
                .expression_attribute_names("#ttl", TTL)
        } else {
            update
                .update_expression("SET #rev = :before, #revu = :until")
                .condition_expression(format!("{watermark} AND #ttl >= :until"))
                .expression_attribute_names("#ttl", TTL)
        };
        update.send().await.map(|_| ())
    }
}
