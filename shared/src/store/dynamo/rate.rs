//! GCRA rate state on DynamoDB: one conditional UpdateItem per frame in
//! the common case. A quiet client (`tat` in the past) sets
//! `tat = now + interval`; a busy one within its burst adds `interval` to
//! `tat` under `tat ≤ now + tolerance` (a second UpdateItem).

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::{backend, DynamoStore};
use crate::store::item::{get_n, key, n};
use crate::store::keys::{self, attr, TTL};
use crate::store::{Admit, Gcra, RateStore, StoreError};
use crate::time::now_secs;

impl DynamoStore {
    fn rate_key(connection_id: &str) -> std::collections::HashMap<String, AttributeValue> {
        key(keys::conn_pk(connection_id), keys::RATE)
    }

    /// `tat = now + interval` when `tat` is absent or not after now.
    async fn admit_quiet(&self, id: &str, limit: Gcra, now_us: u64) -> Result<bool, StoreError> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::rate_key(id)))
            .update_expression("SET #tat = :next, #ttl = :ttl")
            .condition_expression("attribute_not_exists(#tat) OR #tat <= :now")
            .expression_attribute_names("#tat", attr::TAT)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":next", n(now_us.saturating_add(limit.interval_us)))
            .expression_attribute_values(":now", n(now_us))
            .expression_attribute_values(":ttl", n(now_secs() + limit.state_ttl().as_secs()))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(backend("UpdateItem", e)),
        }
    }

    /// `tat += interval` when `tat ≤ now + tolerance` (after the quiet
    /// write failed: `tat` is after now). `None` when counted, else the
    /// refusal with the refusing TAT, which comes back with it (no extra
    /// read).
    async fn admit_busy(
        &self,
        id: &str,
        limit: Gcra,
        now_us: u64,
    ) -> Result<Option<Option<u64>>, StoreError> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::rate_key(id)))
            .update_expression("SET #tat = #tat + :interval, #ttl = :ttl")
            .condition_expression("#tat <= :limit")
            .expression_attribute_names("#tat", attr::TAT)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":interval", n(limit.interval_us))
            .expression_attribute_values(":limit", n(now_us.saturating_add(limit.tolerance_us())))
            .expression_attribute_values(":ttl", n(now_secs() + limit.state_ttl().as_secs()))
            .return_values(ReturnValue::None)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match r {
            Ok(_) => Ok(None),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(ccf)) => {
                    Ok(Some(ccf.item().and_then(|item| get_n(item, attr::TAT))))
                }
                _ => Err(backend("UpdateItem", e)),
            },
        }
    }
}

#[async_trait]
impl RateStore for DynamoStore {
    async fn admit(
        &self,
        connection_id: &str,
        limit: Gcra,
        now_us: u64,
    ) -> Result<Admit, StoreError> {
        if self.admit_quiet(connection_id, limit, now_us).await? {
            return Ok(Admit::Counted);
        }
        match self.admit_busy(connection_id, limit, now_us).await? {
            Some(tat) => Ok(Admit::Refused { tat }),
            None => Ok(Admit::Counted),
        }
    }
}
