//! GCRA rate state on DynamoDB: the `tat` attribute of the connection's
//! record item. Every write is conditional on the record, so a frame racing
//! the connection's cleanup cannot recreate state the cleanup deleted (a
//! separate upserted rate item could, and outlived its connection); the
//! state expires and goes with the record.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::{backend, DynamoStore};
use crate::store::item::{get_n, key, n};
use crate::store::keys::{self, attr};
use crate::store::{Admit, Gcra, RateStore, StoreError};

#[async_trait]
impl RateStore for DynamoStore {
    /// GCRA in one conditional UpdateItem in the common case: a quiet client
    /// (`tat` absent or in the past) sets `tat = now + interval`; a busy one
    /// within its burst adds `interval` to `tat` under `tat ≤ now + tolerance`.
    async fn admit(
        &self,
        connection_id: &str,
        limit: Gcra,
        now_us: u64,
    ) -> Result<Admit, StoreError> {
        let k = key(keys::conn_pk(connection_id), keys::META);
        let quiet = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(k.clone()))
            .update_expression("SET #tat = :next")
            .condition_expression(
                "attribute_exists(#id) AND (attribute_not_exists(#tat) OR #tat <= :now)",
            )
            .expression_attribute_names("#id", attr::ID)
            .expression_attribute_names("#tat", attr::TAT)
            .expression_attribute_values(":next", n(now_us.saturating_add(limit.interval_us)))
            .expression_attribute_values(":now", n(now_us))
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
            .update_expression("SET #tat = #tat + :interval")
            .condition_expression("#tat <= :limit")
            .expression_attribute_names("#tat", attr::TAT)
            .expression_attribute_values(":interval", n(limit.interval_us))
            .expression_attribute_values(":limit", n(now_us.saturating_add(limit.tolerance_us())))
            .return_values(ReturnValue::None)
            // The refusing TAT comes back with the refusal (no extra read);
            // no item at all: the connection is gone.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match busy {
            Ok(_) => Ok(Admit::Counted),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(ccf)) => {
                    Ok(match ccf.item() {
                        None => Admit::Gone,
                        Some(item) => Admit::Refused {
                            tat: get_n(item, attr::TAT),
                        },
                    })
                }
                _ => Err(backend("UpdateItem", e)),
            },
        }
    }
}
