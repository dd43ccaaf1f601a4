//! Channel membership by user (presence events), DynamoDB: one item per
//! channel and user (`chan#{channel}` / `mem#{user}`) holding the user's
//! connection ids in the channel as a string set. Each call is one
//! UpdateItem whose returned old values tell whether it made the user's
//! first connection in (an empty set before) or took the last one out
//! (exactly this connection before), so concurrent calls see each
//! transition once.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{backend, DynamoStore};
use crate::channel::ChannelName;
use crate::store::item::{get_n, key, n};
use crate::store::keys::{self, attr, TTL};
use crate::store::{MemberStore, StoreError};
use crate::time::now_secs;

fn ids(item: &std::collections::HashMap<String, AttributeValue>) -> Vec<String> {
    item.get(attr::IDS)
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default()
}

#[async_trait]
impl MemberStore for DynamoStore {
    async fn member_in(
        &self,
        channel: &ChannelName,
        user: &str,
        connection: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = now_secs();
        let k = key(keys::chan_pk(channel.as_str()), keys::member_sk(user));
        let one = AttributeValue::Ss(vec![connection.to_string()]);
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(k.clone()))
            .update_expression("ADD #ids :one SET #ttl = :ttl")
            .expression_attribute_names("#ids", attr::IDS)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":one", one)
            .expression_attribute_values(":ttl", n(now + ttl.as_secs()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| backend("UpdateItem", e))?;
        let old = r.attributes.unwrap_or_default();
        let live = get_n(&old, TTL).is_some_and(|t| t > now);
        if live || ids(&old).is_empty() {
            return Ok(ids(&old).is_empty());
        }
        // Rare: an expired item (DynamoDB deletes it lazily) still held ids
        // of connections that vanished without cleanup. They are no one:
        // take exactly them out (a concurrent call's id stays) — this call
        // made the user's first connection in.
        let stale: Vec<String> = ids(&old).into_iter().filter(|c| c != connection).collect();
        if !stale.is_empty() {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(k))
                .update_expression("DELETE #ids :stale")
                .expression_attribute_names("#ids", attr::IDS)
                .expression_attribute_values(":stale", AttributeValue::Ss(stale))
                .send()
                .await
                .map_err(|e| backend("UpdateItem", e))?;
        }
        Ok(true)
    }

    async fn member_out(
        &self,
        channel: &ChannelName,
        user: &str,
        connection: &str,
    ) -> Result<bool, StoreError> {
        let now = now_secs();
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::chan_pk(channel.as_str()),
                keys::member_sk(user),
            )))
            .update_expression("DELETE #ids :one")
            .condition_expression("attribute_exists(#ids)")
            .expression_attribute_names("#ids", attr::IDS)
            .expression_attribute_values(":one", AttributeValue::Ss(vec![connection.to_string()]))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let old = match r {
            Ok(r) => r.attributes.unwrap_or_default(),
            // Nobody of the user is in the channel.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                return Ok(false)
            }
            Err(e) => return Err(backend("UpdateItem", e)),
        };
        let live = get_n(&old, TTL).is_some_and(|t| t > now);
        Ok(live && ids(&old) == [connection])
    }
}
