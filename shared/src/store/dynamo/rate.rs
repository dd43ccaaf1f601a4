//! GCRA rate state on DynamoDB: one conditional UpdateItem per frame in
//! the common case. Two writes can admit a frame: the quiet one (`tat` in
//! the past: `tat = now + interval`) and the busy one (`tat` within the
//! burst: `tat += interval`). Each is conditional, so whichever is tried
//! first the decision is exact; the order only changes the number of
//! calls. A client at rest is tried quiet first; one this process last
//! found busy (pipelined frames) busy first, which also answers a refusal
//! in that one call. The hint is per process and lasts a second.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::{backend, DynamoStore};
use crate::store::item::{get_n, key, n};
use crate::store::keys::{self, attr, TTL};
use crate::store::{Admit, Gcra, RateStore, StoreError};
use crate::time::now_secs;

/// Connections this process last found busy, and when.
#[derive(Debug, Default)]
pub(super) struct BusyHints(Mutex<HashMap<String, Instant>>);

impl BusyHints {
    const FOR: Duration = Duration::from_secs(1);
    const MAX: usize = 4096;

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn busy(&self, id: &str) -> bool {
        self.lock()
            .get(id)
            .is_some_and(|at| at.elapsed() < Self::FOR)
    }

    fn set(&self, id: &str, busy: bool) {
        let mut hints = self.lock();
        if !busy {
            hints.remove(id);
            return;
        }
        if hints.len() >= Self::MAX {
            hints.retain(|_, at| at.elapsed() < Self::FOR);
            if hints.len() >= Self::MAX {
                hints.clear();
            }
        }
        hints.insert(id.to_string(), Instant::now());
    }
}

/// What the busy-first write found.
enum Busy {
    Counted,
    Refused(Option<u64>),
    /// `tat` is in the past or absent: the quiet write applies.
    Quiet,
}

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

    /// `tat += interval` when `from ≤ tat ≤ now + tolerance`; the refusing
    /// TAT comes back with a refusal (no extra read).
    async fn admit_busy(
        &self,
        id: &str,
        limit: Gcra,
        now_us: u64,
        from: Option<u64>,
    ) -> Result<Busy, StoreError> {
        let upto = now_us.saturating_add(limit.tolerance_us());
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::rate_key(id)))
            .update_expression("SET #tat = #tat + :interval, #ttl = :ttl")
            .expression_attribute_names("#tat", attr::TAT)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":interval", n(limit.interval_us))
            .expression_attribute_values(":limit", n(upto))
            .expression_attribute_values(":ttl", n(now_secs() + limit.state_ttl().as_secs()))
            .return_values(ReturnValue::None)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        update = match from {
            Some(from) => update
                .condition_expression("#tat BETWEEN :from AND :limit")
                .expression_attribute_values(":from", n(from)),
            None => update.condition_expression("#tat <= :limit"),
        };
        match update.send().await {
            Ok(_) => Ok(Busy::Counted),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(ccf)) => {
                    let tat = ccf.item().and_then(|item| get_n(item, attr::TAT));
                    match (from, tat) {
                        // No state, or below the window: not busy after all.
                        (Some(_), None) => Ok(Busy::Quiet),
                        (Some(from), Some(t)) if t < from => Ok(Busy::Quiet),
                        _ => Ok(Busy::Refused(tat)),
                    }
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
        if self.busy.busy(connection_id) {
            match self
                .admit_busy(connection_id, limit, now_us, Some(now_us))
                .await?
            {
                Busy::Counted => return Ok(Admit::Counted),
                Busy::Refused(tat) => return Ok(Admit::Refused { tat }),
                Busy::Quiet => self.busy.set(connection_id, false),
            }
        }
        if self.admit_quiet(connection_id, limit, now_us).await? {
            return Ok(Admit::Counted);
        }
        self.busy.set(connection_id, true);
        match self.admit_busy(connection_id, limit, now_us, None).await? {
            Busy::Counted => Ok(Admit::Counted),
            Busy::Refused(tat) => Ok(Admit::Refused { tat }),
            Busy::Quiet => Ok(Admit::Refused { tat: None }),
        }
    }
}
