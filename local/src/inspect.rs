//! What a running gateway's store still holds of its connections: tests,
//! the benchmark and the soak read it to prove that nothing outlives a
//! connection. A diagnostic full-table read, never a hot path.

use std::collections::HashMap;

use wsfn::aws_sdk_dynamodb::types::AttributeValue;
use wsfn::store::keys;

use crate::Running;

impl Running {
    /// Store entries that belong to connections (0 when cleanup is
    /// complete): records, rate state, subscriptions on either side,
    /// entries in the user index — not channel streams, history and
    /// idempotency records, which outlive connections.
    pub async fn connection_items(&self) -> Result<usize, String> {
        if let Some(m) = &self.memory {
            return Ok(m.connection_entries());
        }
        Ok(self.connection_item_keys().await?.len())
    }

    /// The keys (`pk sk`) of the DynamoDB items [`Self::connection_items`]
    /// counts, to say what was left (empty for the embedded store).
    pub async fn connection_item_keys(&self) -> Result<Vec<String>, String> {
        let Some((client, table)) = &self.dynamo_table else {
            return Ok(Vec::new());
        };
        let mut keys_left = Vec::new();
        let mut start = None;
        loop {
            let r = client
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| wsfn::aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
            for item in r.items().iter().filter(|i| belongs_to_a_connection(i)) {
                let text = |name: &str| {
                    item.get(name)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default()
                };
                keys_left.push(format!("{} {}", text(keys::PK), text(keys::SK)));
            }
            match r.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(keys_left),
            }
        }
    }

    /// Every item of the table (DynamoDB only; 0 for the embedded store).
    pub async fn table_items(&self) -> Result<usize, String> {
        let Some((client, table)) = &self.dynamo_table else {
            return Ok(0);
        };
        let mut count = 0usize;
        let mut start = None;
        loop {
            let r = client
                .scan()
                .table_name(table)
                .select(wsfn::aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| wsfn::aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
            count += usize::try_from(r.count).unwrap_or(0);
            match r.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(count),
            }
        }
    }
}

/// Whether a table item is owned by a connection.
pub fn belongs_to_a_connection(item: &HashMap<String, AttributeValue>) -> bool {
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    };
    let (pk, sk) = (
        text(keys::PK).unwrap_or_default(),
        text(keys::SK).unwrap_or_default(),
    );
    pk.starts_with(keys::CONN_PREFIX)
        || sk.starts_with(keys::SUB_PREFIX)
        || (pk.starts_with(keys::USER_PREFIX) && sk == keys::CONNS)
}
