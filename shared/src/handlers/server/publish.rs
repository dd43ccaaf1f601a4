//! The server publish API (`PublishFunction`): the application's backend
//! invokes it with IAM (`lambda:InvokeFunction`) to publish one message or a
//! batch, with the same sequencing, history and idempotency as a client
//! publish. Ids are scoped to the server, so a client's id never dedupes a
//! server publish. `user:<sub>` channels make it a "send to user" API.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::App;
use crate::channel::ChannelName;
use crate::error::{ActionError, HandlerError};
use crate::handlers::deliver::{deliver, record};
use crate::handlers::Invocation;
use crate::protocol::{ErrorCode, MAX_ID_LEN};
use crate::store::IdemScope;
use crate::stream::{append, message_event};
use crate::time::now_millis;

/// Most messages one invocation publishes.
pub const MAX_BATCH: usize = 100;
/// The `from` of a server publish (a `sub` cannot start with `@` in
/// practice; clients tell server messages apart by it).
pub const SERVER_FROM: &str = "@server";

/// One request: a message, or `{"messages": [...]}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PublishRequest {
    /// Several messages, published in order.
    Batch {
        /// The messages.
        messages: Vec<Value>,
    },
    /// One message: `{"channel", "data", "id"?}`.
    One(Value),
}

/// A message's error, with the protocol's code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishError {
    /// `bad_request`, `too_large`, `internal`, ...
    pub code: ErrorCode,
    /// What was wrong.
    pub message: String,
}

/// The outcome of one message, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PublishResult {
    /// Published (or already published under this id).
    Published {
        /// The channel of the (original) message.
        channel: String,
        /// Its seq.
        seq: u64,
        /// The id was already used for this very message.
        duplicate: bool,
    },
    /// Refused.
    Failed {
        /// Why.
        error: PublishError,
    },
}

/// The answer: one result per message, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishResponse {
    /// Results in message order.
    pub results: Vec<PublishResult>,
}

fn field<'a>(m: &'a Value, name: &str) -> Option<&'a Value> {
    m.get(name).filter(|v| !v.is_null())
}

/// Validates one message.
fn parse(m: &Value, max_bytes: usize) -> Result<(ChannelName, Value, Option<String>), ActionError> {
    if !m.is_object() {
        return Err(ActionError::BadRequest(
            "a message must be a JSON object".into(),
        ));
    }
    let channel = match field(m, "channel") {
        Some(Value::String(c)) => ChannelName::parse(c)
            .map_err(|e| ActionError::BadRequest(format!("bad channel name: {e}")))?,
        Some(_) => return Err(ActionError::BadRequest("`channel` must be a string".into())),
        None => return Err(ActionError::BadRequest("missing field `channel`".into())),
    };
    let data = m
        .get("data")
        .cloned()
        .ok_or_else(|| ActionError::BadRequest("missing field `data`".into()))?;
    let id = match field(m, "id") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_ID_LEN => {
            Some(s.clone())
        }
        Some(_) => {
            return Err(ActionError::BadRequest(
                "`id` must be a string of 1-64 characters".into(),
            ))
        }
    };
    let size = m.to_string().len();
    if size > max_bytes {
        return Err(ActionError::TooLarge(format!(
            "message is {size} bytes; the limit is {max_bytes}"
        )));
    }
    Ok((channel, data, id))
}

fn failed(e: &ActionError) -> PublishResult {
    if let ActionError::Internal(source) = e {
        tracing::error!(error = %source, "server publish failed");
    }
    PublishResult::Failed {
        error: PublishError {
            code: e.code(),
            message: e.client_message(),
        },
    }
}

/// Publishes the request's messages in order and fans each new one out.
pub async fn publish_api(
    request: PublishRequest,
    app: &App,
    invocation: &Invocation<'_>,
) -> Result<PublishResponse, HandlerError> {
    let messages = match request {
        PublishRequest::Batch { messages } => messages,
        PublishRequest::One(m) => vec![m],
    };
    if messages.len() > MAX_BATCH {
        let e = ActionError::BadRequest(format!("a batch holds at most {MAX_BATCH} messages"));
        return Ok(PublishResponse {
            results: messages.iter().map(|_| failed(&e)).collect(),
        });
    }
    let pusher = app.pusher_for(None, None);
    if pusher.is_none() {
        tracing::error!("MANAGEMENT_ENDPOINT is not set: messages are stored but nobody is pushed");
    }
    let stop_at = invocation.stop_at();
    let mut metrics = app.metrics("publish");
    if let Some(rid) = invocation.request_id {
        metrics.property("requestId", rid);
    }
    let mut results = Vec::with_capacity(messages.len());
    for m in &messages {
        let outcome = match parse(m, app.config.max_message_bytes) {
            Ok((channel, data, id)) => {
                append(
                    app,
                    channel,
                    data,
                    None,
                    SERVER_FROM.into(),
                    id,
                    IdemScope::Server,
                    now_millis(),
                )
                .await
            }
            Err(e) => Err(e),
        };
        let p = match outcome {
            Ok(p) => p,
            Err(e) => {
                metrics.count("PublishRefused", 1);
                results.push(failed(&e));
                continue;
            }
        };
        if let Some(f) = &p.fanout {
            message_event(app, None, SERVER_FROM, f);
        }
        if let (Some(f), Some(pusher)) = (&p.fanout, &pusher) {
            if let Some((r, took)) = deliver(app, pusher.as_ref(), f, stop_at).await {
                record(&mut metrics, &r, took);
            }
        }
        metrics.count("Published", u32::from(!p.duplicate));
        results.push(PublishResult::Published {
            channel: p.channel,
            seq: p.seq,
            duplicate: p.duplicate,
        });
    }
    metrics.flush();
    Ok(PublishResponse { results })
}
