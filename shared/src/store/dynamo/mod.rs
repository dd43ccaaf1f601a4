//! DynamoDB backend: one table, key shapes in [`super::keys`], item ↔ struct
//! conversion in [`super::item`]. One file per concern, like the traits.
//! Hot paths use GetItem/Query/UpdateItem/TransactWriteItems, never Scan.

mod connections;
mod members;
mod rate;
mod streams;
mod subscriptions;

use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, DeleteRequest, KeySchemaElement, KeyType,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;

use super::item::{key, live, s, Item};
use super::keys::{PK, SK, TTL};
use super::StoreError;
use crate::retry::{Backoff, Budget};
use crate::time::now_secs;

/// DynamoDB's BatchWriteItem limit.
const BATCH: usize = 25;
/// How long a write that keeps losing races is retried before it fails
/// (well inside the functions' timeout).
const CONTENTION_BUDGET: Duration = Duration::from_secs(12);

/// The DynamoDB client every function uses: the SDK's standard retries
/// (throttling, 500s, with exponential backoff and jitter), five attempts
/// from 25 ms: a call then fails only after four faults in a row, while a
/// handler's deadline still bounds the time a frame waits (no frame is left
/// without a reply). Transactions carry the SDK's idempotency token, so a
/// retried transaction that had taken effect is not applied twice.
pub fn client(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> Client {
    let mut conf = aws_sdk_dynamodb::config::Builder::from(sdk).retry_config(
        aws_config::retry::RetryConfig::standard()
            .with_max_attempts(5)
            .with_initial_backoff(Duration::from_millis(25)),
    );
    if let Some(e) = endpoint {
        conf = conf.endpoint_url(e);
    }
    Client::from_conf(conf.build())
}

/// The production store: a DynamoDB table with TTL on `ttl`.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    streams: streams::Slots,
}

/// An SDK error as a store error: the service's code and message for logs,
/// the error itself as the source.
pub(crate) fn backend<E, R>(op: &'static str, e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let detail = match e.as_service_error() {
        Some(se) => format!(
            "{}: {}",
            se.code().unwrap_or("Unknown"),
            se.message().unwrap_or_default()
        ),
        None => DisplayErrorContext(&e).to_string(),
    };
    StoreError::Backend {
        op,
        detail,
        source: Box::new(e),
    }
}

pub(crate) fn build<T, E: std::error::Error + Send + Sync + 'static>(
    r: Result<T, E>,
) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Backend {
        op: "request build",
        detail: e.to_string(),
        source: Box::new(e),
    })
}

/// What a cancelled transaction means, from its per-item reason codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cancelled {
    /// These items' conditions failed (indexes into the transaction).
    Conditions(Vec<usize>),
    /// Lost a race with another transaction or was throttled: retry.
    Retry,
    /// Failed for another reason (validation, size): give up.
    Fail(String),
}

/// Classifies cancellation reason codes (pure; tested alone).
pub(crate) fn classify(codes: &[String]) -> Cancelled {
    let failed: Vec<usize> = codes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.as_str() == "ConditionalCheckFailed")
        .map(|(i, _)| i)
        .collect();
    if !failed.is_empty() {
        return Cancelled::Conditions(failed);
    }
    let retryable = [
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    ];
    match codes
        .iter()
        .find(|c| !c.is_empty() && c.as_str() != "None" && !retryable.contains(&c.as_str()))
    {
        Some(other) => Cancelled::Fail(other.clone()),
        None => Cancelled::Retry,
    }
}

/// How a transaction ended.
pub(crate) enum Tx {
    /// Written.
    Done,
    /// Not written: these items' conditions failed.
    ConditionsFailed(Vec<usize>),
}

impl DynamoStore {
    /// Wraps a client built once at cold start.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            streams: streams::Slots::default(),
        }
    }

    /// Runs a transaction, retrying conflicts and throttles with backoff for
    /// up to [`CONTENTION_BUDGET`]; failed conditions are the caller's to judge.
    async fn transact(
        &self,
        what: &str,
        items: impl Fn() -> Result<Vec<TransactWriteItem>, StoreError>,
    ) -> Result<Tx, StoreError> {
        let mut budget = Budget::new(Backoff::STORE, CONTENTION_BUDGET);
        loop {
            let r = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items()?))
                .send()
                .await;
            // Every arm that does not return lost a race or was throttled.
            match r {
                Ok(_) => return Ok(Tx::Done),
                Err(e) => match e.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                        let codes: Vec<String> = c
                            .cancellation_reasons()
                            .iter()
                            .map(|r| r.code().unwrap_or_default().to_string())
                            .collect();
                        match classify(&codes) {
                            Cancelled::Conditions(failed) => {
                                return Ok(Tx::ConditionsFailed(failed))
                            }
                            Cancelled::Retry => {}
                            Cancelled::Fail(code) => {
                                return Err(StoreError::Backend {
                                    op: "TransactWriteItems",
                                    detail: format!("{what}: cancelled ({code})"),
                                    source: Box::new(e),
                                })
                            }
                        }
                    }
                    Some(TransactWriteItemsError::TransactionInProgressException(_))
                    | Some(TransactWriteItemsError::ThrottlingException(_))
                    | Some(TransactWriteItemsError::ProvisionedThroughputExceededException(_)) => {}
                    _ => return Err(backend("TransactWriteItems", e)),
                },
            }
            if !budget.pause().await {
                return Err(StoreError::Contention(what.to_string()));
            }
        }
    }

    /// Every item of a partition, following pages.
    async fn query_all(&self, pk: String) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let r = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(&pk))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| backend("Query", e))?;
            out.extend(r.items.unwrap_or_default());
            match r.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(out),
            }
        }
    }

    /// The live item at a key.
    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let r = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .set_key(Some(key(pk, sk)))
            .send()
            .await
            .map_err(|e| backend("GetItem", e))?;
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
            let mut budget = Budget::new(Backoff::STORE, CONTENTION_BUDGET);
            loop {
                let r = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| backend("BatchWriteItem", e))?;
                requests = r
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if !budget.pause().await {
                    return Err(StoreError::Contention("batch delete".into()));
                }
            }
        }
        Ok(())
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
        Err(e) => return Err(backend("CreateTable", e)),
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
        .map_err(|e| backend("UpdateTimeToLive", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancellation_reasons_classify() {
        let codes = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            classify(&codes(&["None", "ConditionalCheckFailed", "None"])),
            Cancelled::Conditions(vec![1])
        );
        assert_eq!(
            classify(&codes(&["TransactionConflict", "None"])),
            Cancelled::Retry
        );
        assert_eq!(
            classify(&codes(&["ConditionalCheckFailed", "TransactionConflict"])),
            Cancelled::Conditions(vec![0])
        );
        assert_eq!(classify(&codes(&["ThrottlingError"])), Cancelled::Retry);
        assert_eq!(
            classify(&codes(&["None", "ValidationError"])),
            Cancelled::Fail("ValidationError".into())
        );
    }
}
