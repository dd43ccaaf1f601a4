//! Handing a range of a big channel's subscribers to another invocation:
//! an asynchronous Lambda invoke (`InvocationType=Event`) of
//! `FANOUT_FUNCTION` with a [`FanoutTask`]. Lambda queues the event, runs
//! it, retries it twice if it fails and then sends it to the function's
//! on-failure destination; the dispatcher only has to get it queued.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::fanout::shard::IdRange;
use crate::retry::{Backoff, Budget};

/// One shard of a fan-out: the event of `FanoutFunction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanoutTask {
    /// The channel.
    pub channel: String,
    /// The frame to push, exactly as the publisher built it.
    pub payload: String,
    /// Whose subscribers: connection ids in this range.
    pub range: IdRange,
    /// Start after this connection id (the publisher read up to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// How many splits lie above this shard (the publisher's are 1).
    #[serde(default)]
    pub depth: u8,
    /// The message's seq, for logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// A connection not to push to (the publisher of an `echo: false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
}

/// Why a shard could not be handed out (the caller then pushes it itself).
#[derive(Debug, thiserror::Error)]
#[error("could not invoke {function}: {detail}")]
pub struct DispatchError {
    /// The function invoked.
    pub function: String,
    /// What Lambda (or the network) answered.
    pub detail: String,
}

/// Queues fan-out shards.
#[async_trait]
pub trait Dispatcher: Send + Sync + std::fmt::Debug {
    /// Queues one shard for another invocation.
    async fn dispatch(&self, task: &FanoutTask) -> Result<(), DispatchError>;
}

/// Asynchronous invokes through the Lambda API.
#[derive(Debug)]
pub struct LambdaDispatcher {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl LambdaDispatcher {
    /// Invokes `function` (name or ARN) with `client`.
    pub fn new(client: aws_sdk_lambda::Client, function: impl Into<String>) -> Self {
        Self {
            client,
            function: function.into(),
        }
    }

    /// A client from the cold-start SDK config (`AWS_ENDPOINT_URL_LAMBDA`
    /// and the other standard settings apply).
    pub(crate) fn from_sdk(sdk: &aws_config::SdkConfig, function: impl Into<String>) -> Self {
        Self::new(aws_sdk_lambda::Client::new(sdk), function)
    }
}

/// How long a dispatch keeps retrying throttles and 5xx before the caller
/// pushes the shard itself.
const DISPATCH_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

#[async_trait]
impl Dispatcher for LambdaDispatcher {
    async fn dispatch(&self, task: &FanoutTask) -> Result<(), DispatchError> {
        let body = serde_json::to_vec(task).map_err(|e| DispatchError {
            function: self.function.clone(),
            detail: e.to_string(),
        })?;
        let mut budget = Budget::new(Backoff::PUSH, DISPATCH_BUDGET);
        loop {
            let sent = self
                .client
                .invoke()
                .function_name(&self.function)
                .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
                .payload(aws_sdk_lambda::primitives::Blob::new(body.clone()))
                .send()
                .await;
            let (detail, retry) = match sent {
                Ok(r) if r.status_code() == 202 => return Ok(()),
                Ok(r) => (format!("status {}", r.status_code()), false),
                Err(e) => {
                    use aws_sdk_lambda::error::ProvideErrorMetadata;
                    // Throttles, 5xx and network failures pass; a refusal
                    // (no such function, no permission, too big) does not.
                    let status = e.raw_response().map(|r| r.status().as_u16());
                    let retry = status.is_none_or(|s| s == 429 || s >= 500);
                    let code = e.code().unwrap_or("network").to_string();
                    (
                        format!("{code}: {}", e.message().unwrap_or_default()),
                        retry,
                    )
                }
            };
            if !retry || !budget.pause().await {
                return Err(DispatchError {
                    function: self.function.clone(),
                    detail,
                });
            }
        }
    }
}
