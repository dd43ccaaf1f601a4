//! GCRA rate state on DynamoDB (moved here from `connections.rs` as is).

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::{backend, DynamoStore};
use crate::store::item::{get_n, key, n};
use crate::store::keys::{self, attr, TTL};
use crate::store::{Admit, Gcra, RateStore, StoreError};
use crate::time::now_secs;

#[async_trait]
impl RateStore for DynamoStore {
    /// GCRA in one conditional UpdateItem in the common case: a quiet client
    /// (`tat` in the past) sets `tat = now + interval`; a busy one within its
    /// burst adds `interval` to `tat` under `tat ≤ now + tolerance`.
    async fn admit(
        &self,
        connection_id: &str,
        limit: Gcra,
        now_us: u64,
    ) -> Result<Admit, StoreError> {
        let k = key(keys::conn_pk(connection_id), keys::RATE);
        let ttl = n(now_secs() + limit.state_ttl().as_secs());
        let quiet = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(k.clone()))
            .update_expression("SET #tat = :next, #ttl = :ttl")
            .condition_expression("attribute_not_exists(#tat) OR #tat <= :now")
            .expression_attribute_names("#tat", attr::TAT)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":next", n(now_us.saturating_add(limit.interval_us)))
            .expression_attribute_values(":now", n(now_us))
            .expression_attribute_values(":ttl", ttl.clone())
            .send()
            .await;
        match quiet {
            Ok(_) => return Ok(Admit::Counted),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(backend("UpdateItem", e)),
        }
        let busy = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(k))
            .update_expression("SET #tat = #tat + :interval, #ttl = :ttl")
            .condition_expression("#tat <= :limit")
            .expression_attribute_names("#tat", attr::TAT)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":interval", n(limit.interval_us))
            .expression_attribute_values(":limit", n(now_us.saturating_add(limit.tolerance_us())))
            .expression_attribute_values(":ttl", ttl)
            .return_values(ReturnValue::None)
            // The refusing TAT comes back with the refusal (no extra read).
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match busy {
            Ok(_) => Ok(Admit::Counted),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(ccf)) => Ok(Admit::Refused {
                    tat: ccf.item().and_then(|item| get_n(item, attr::TAT)),
                }),
                _ => Err(backend("UpdateItem", e)),
            },
        }
    }
}
