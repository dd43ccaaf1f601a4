//! An interceptor on the real DynamoDB client that records what each action
//! made DynamoDB do: calls by operation, the read and write request units
//! they consumed (it asks each call for `ReturnConsumedCapacity`), and the
//! IAM actions they needed (a transaction needs the action of each item).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use serde_json::json;
use wsfn::aws_sdk_dynamodb as ddb;
use wsfn::store::{create_table, DynamoStore};

use super::Backend;

/// What one action made DynamoDB do: calls by operation, and the read and
/// write request units they consumed (on-demand billing).
#[derive(Debug, Default)]
struct Tally {
    calls: BTreeMap<String, u32>,
    /// IAM actions (`dynamodb:PutItem`, ...), never reset by `take_units`.
    actions: BTreeSet<String>,
    rru: f64,
    wru: f64,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Calls(Arc<Mutex<Tally>>);

/// The operation of the call in flight, kept in its own config bag.
#[derive(Debug, Clone)]
struct Op(String);

impl aws_smithy_types::config_bag::Storable for Op {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl ddb::config::Intercept for Calls {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    /// Asks every call for its consumed capacity (`ReturnConsumedCapacity`).
    fn modify_before_signing(
        &self,
        ctx: &mut ddb::config::interceptors::BeforeTransmitInterceptorContextMut<'_>,
        _rc: &ddb::config::RuntimeComponents,
        cfg: &mut ddb::config::ConfigBag,
    ) -> Result<(), ddb::error::BoxError> {
        let req = ctx.request_mut();
        let target = req.headers().get("x-amz-target").unwrap_or_default();
        let op = target.rsplit('.').next().unwrap_or(target).to_string();
        let Some(mut body) = req
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        else {
            return Ok(());
        };
        {
            let mut t = self.0.lock().unwrap();
            *t.calls.entry(op.clone()).or_default() += 1;
            if op == "TransactWriteItems" {
                for item in body["TransactItems"].as_array().into_iter().flatten() {
                    for (kind, action) in [
                        ("Put", "PutItem"),
                        ("Update", "UpdateItem"),
                        ("Delete", "DeleteItem"),
                        ("ConditionCheck", "ConditionCheckItem"),
                    ] {
                        if item.get(kind).is_some() {
                            t.actions.insert(format!("dynamodb:{action}"));
                        }
                    }
                }
            } else {
                t.actions.insert(format!("dynamodb:{op}"));
            }
        }
        cfg.interceptor_state().store_put(Op(op));
        body["ReturnConsumedCapacity"] = json!("TOTAL");
        let bytes = serde_json::to_vec(&body)?;
        req.headers_mut()
            .insert("content-length", bytes.len().to_string());
        *req.body_mut() = aws_smithy_types::body::SdkBody::from(bytes);
        Ok(())
    }

    /// Adds the units the answer reports. DynamoDB Local bills a
    /// transaction's items at the standard rate; DynamoDB bills two units per
    /// item, so a transaction's units count twice.
    fn read_after_deserialization(
        &self,
        ctx: &ddb::config::interceptors::AfterDeserializationInterceptorContextRef<'_>,
        _rc: &ddb::config::RuntimeComponents,
        cfg: &mut ddb::config::ConfigBag,
    ) -> Result<(), ddb::error::BoxError> {
        let op = cfg.load::<Op>().map(|o| o.0.clone()).unwrap_or_default();
        let Some(body) = ctx
            .response()
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        else {
            return Ok(());
        };
        let units: f64 = match &body["ConsumedCapacity"] {
            serde_json::Value::Array(list) => list
                .iter()
                .filter_map(|c| c["CapacityUnits"].as_f64())
                .sum(),
            one => one["CapacityUnits"].as_f64().unwrap_or(0.0),
        };
        let mut t = self.0.lock().unwrap();
        match op.as_str() {
            "GetItem" | "Query" | "BatchGetItem" | "Scan" => t.rru += units,
            "TransactGetItems" => t.rru += 2.0 * units,
            "TransactWriteItems" => t.wru += 2.0 * units,
            _ => t.wru += units,
        }
        Ok(())
    }
}

impl Calls {
    /// The calls since the last take, as the README table shows them, and
    /// their read and write units.
    pub(crate) fn take_units(&self) -> (String, f64, f64) {
        let mut guard = self.0.lock().unwrap();
        let t = Tally {
            actions: guard.actions.clone(),
            ..Tally::default()
        };
        let t = std::mem::replace(&mut *guard, t);
        let calls = t
            .calls
            .iter()
            .map(|(k, v)| format!("{v}× {k}"))
            .collect::<Vec<_>>()
            .join(", ");
        (calls, t.rru, t.wru)
    }

    pub(crate) fn take(&self) -> String {
        self.take_units().0
    }

    /// The IAM actions used since the last call (and forgets them).
    pub(crate) fn take_actions(&self) -> BTreeSet<String> {
        std::mem::take(&mut self.0.lock().unwrap().actions)
    }
}

/// A DynamoDB Local backend on a fresh table whose every call is counted.
pub(crate) async fn counted_backend(prefix: &str) -> (Calls, Backend) {
    let calls = Calls::default();
    let conf = super::dynamo_client()
        .await
        .config()
        .to_builder()
        .interceptor(calls.clone())
        .build();
    let client = ddb::Client::from_conf(conf);
    let table = super::unique(prefix);
    create_table(&client, &table).await.unwrap();
    let store = Arc::new(DynamoStore::new(client, table.clone()));
    (calls, Backend::Dynamo(store, table))
}
