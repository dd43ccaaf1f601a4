//! Wire frames (PROTOCOL.md §3): what clients send, what the server sends back,
//! and the catalogue of error codes. Every wire shape lives here only.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::channel::ChannelName;

mod scan;
pub use scan::extract_id;

/// Longest client `id` the protocol accepts.
pub const MAX_ID_LEN: usize = 64;
/// Largest and default `limit` of a `history` request.
pub const MAX_HISTORY_LIMIT: u32 = 100;
/// Largest frame the management API delivers (PostToConnection's 128 KB):
/// every reply is built to fit.
pub const MAX_REPLY_BYTES: usize = 128 * 1024;

/// The catalogued error codes a client can receive in an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, missing/invalid field, unknown action, bad channel name.
    BadRequest,
    /// Token expired; refresh with `auth`.
    Unauthorized,
    /// Capability missing.
    Forbidden,
    /// Message over `MAX_MESSAGE_BYTES`.
    TooLarge,
    /// Over the connection's rate limit; the frame was not processed.
    RateLimited,
    /// A per-connection limit such as `MAX_SUBSCRIPTIONS_PER_CONNECTION`.
    LimitExceeded,
    /// Server-side failure; details are logged, not sent.
    Internal,
    /// The application's hook gave no usable answer; try again.
    Unavailable,
}

/// A position in a channel's stream, sent by recovering clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Last `seq` the client saw.
    pub seq: u64,
    /// The stream's `epoch` when it saw it.
    pub epoch: String,
}

/// A parsed, validated client frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Heartbeat; answered with `pong`.
    Ping,
    /// Join a channel, optionally recovering from a position.
    Subscribe {
        /// Channel to join.
        channel: ChannelName,
        /// Where the client left off.
        since: Option<Position>,
    },
    /// Leave a channel.
    Unsubscribe {
        /// Channel to leave.
        channel: ChannelName,
    },
    /// Send `data` to every subscriber of `channel`.
    Publish {
        /// Target channel.
        channel: ChannelName,
        /// Any JSON value.
        data: Value,
        /// Not sequenced, stored or recovered (`EPHEMERAL_CHANNELS` only).
        ephemeral: bool,
        /// Whether the publishing connection gets its own message (default).
        echo: bool,
    },
    /// Read a channel's stored messages.
    History {
        /// Channel to read.
        channel: ChannelName,
        /// Read forward from this position instead of the latest messages.
        since: Option<Position>,
        /// At most this many messages (1–100).
        limit: u32,
    },
    /// List the users subscribed to a channel.
    Presence {
        /// Channel to inspect.
        channel: ChannelName,
        /// Continue a paged reply from its `cursor`.
        cursor: Option<String>,
    },
    /// In-band token refresh.
    Auth {
        /// The new JWT.
        token: String,
    },
    /// A call to the application's `rpc` hook.
    Rpc {
        /// 1–64 of `A-Z a-z 0-9 _ - . :`.
        method: String,
        /// Any JSON (null when absent).
        data: Value,
    },
}

impl Action {
    /// The action's wire name, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ping => "ping",
            Self::Subscribe { .. } => "subscribe",
            Self::Unsubscribe { .. } => "unsubscribe",
            Self::Publish { .. } => "publish",
            Self::History { .. } => "history",
            Self::Presence { .. } => "presence",
            Self::Auth { .. } => "auth",
            Self::Rpc { .. } => "rpc",
        }
    }
}

/// A client frame: its `id` (echoed in every reply) and its action.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientFrame {
    /// The client's correlation id, if it sent a valid one.
    pub id: Option<String>,
    /// What the client asks for.
    pub action: Action,
}

/// A frame that could not be parsed: the id to echo (if any) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    /// The frame's string `id`, echoed even when the rest is wrong.
    pub id: Option<String>,
    /// Human-readable reason, sent as the error `message`.
    pub message: String,
}

impl ClientFrame {
    /// Parses a text frame; every failure is a `bad_request` with a reason.
    pub fn parse(body: &str) -> Result<Self, FrameError> {
        let value: Value = serde_json::from_str(body).map_err(|e| FrameError {
            id: extract_id(body),
            message: format!("frame is not valid JSON: {e}"),
        })?;
        let Value::Object(obj) = value else {
            return Err(FrameError {
                id: None,
                message: "frame must be a JSON object".into(),
            });
        };
        let raw_id = obj.get("id").and_then(Value::as_str).map(str::to_string);
        let fail = |message: String| FrameError {
            id: raw_id.clone(),
            message,
        };
        match obj.get("id") {
            None => {}
            Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_ID_LEN => {}
            Some(_) => return Err(fail("`id` must be a string of 1-64 characters".into())),
        }
        let action = match obj.get("action") {
            Some(Value::String(a)) => a.as_str(),
            Some(_) => return Err(fail("`action` must be a string".into())),
            None => return Err(fail("missing field `action`".into())),
        };
        let channel = || -> Result<ChannelName, FrameError> {
            match obj.get("channel") {
                Some(Value::String(c)) => {
                    ChannelName::parse(c).map_err(|e| fail(format!("bad channel name: {e}")))
                }
                Some(_) => Err(fail("`channel` must be a string".into())),
                None => Err(fail("missing field `channel`".into())),
            }
        };
        let since = || -> Result<Option<Position>, FrameError> {
            match obj.get("since") {
                None | Some(Value::Null) => Ok(None),
                Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|_| {
                    fail(
                        "`since` must be an object {seq: non-negative integer, epoch: string}"
                            .into(),
                    )
                }),
            }
        };
        let action = match action {
            "ping" => Action::Ping,
            "subscribe" => Action::Subscribe {
                channel: channel()?,
                since: since()?,
            },
            "unsubscribe" => Action::Unsubscribe {
                channel: channel()?,
            },
            "publish" => {
                let flag = |name: &str, default: bool| match obj.get(name) {
                    None | Some(Value::Null) => Ok(default),
                    Some(Value::Bool(b)) => Ok(*b),
                    Some(_) => Err(fail(format!("`{name}` must be true or false"))),
                };
                Action::Publish {
                    channel: channel()?,
                    data: obj
                        .get("data")
                        .cloned()
                        .ok_or_else(|| fail("missing field `data`".into()))?,
                    ephemeral: flag("ephemeral", false)?,
                    echo: flag("echo", true)?,
                }
            }
            "history" => {
                let limit = match obj.get("limit") {
                    None | Some(Value::Null) => MAX_HISTORY_LIMIT,
                    Some(v) => match v.as_u64() {
                        Some(n @ 1..=100) => n as u32,
                        _ => return Err(fail("`limit` must be an integer from 1 to 100".into())),
                    },
                };
                Action::History {
                    channel: channel()?,
                    since: since()?,
                    limit,
                }
            }
            "presence" => Action::Presence {
                channel: channel()?,
                cursor: match obj.get("cursor") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(c)) if !c.is_empty() && c.len() <= 512 => Some(c.clone()),
                    Some(_) => {
                        return Err(fail(
                            "`cursor` must be a string from a presence reply".into(),
                        ))
                    }
                },
            },
            "auth" => match obj.get("token") {
                Some(Value::String(t)) if !t.is_empty() => Action::Auth { token: t.clone() },
                Some(_) => return Err(fail("`token` must be a non-empty string".into())),
                None => return Err(fail("missing field `token`".into())),
            },
            "rpc" => Action::Rpc {
                method: match obj.get("method") {
                    Some(Value::String(m)) if valid_method(m) => m.clone(),
                    Some(_) => {
                        return Err(fail("`method` must be 1-64 of A-Z a-z 0-9 _ - . :".into()))
                    }
                    None => return Err(fail("missing field `method`".into())),
                },
                data: obj.get("data").cloned().unwrap_or(Value::Null),
            },
            other => {
                let shown: String = other.chars().take(64).collect();
                return Err(fail(format!("unknown action `{shown}`")));
            }
        };
        Ok(Self { id: raw_id, action })
    }
}

/// An `rpc` method name: 1–64 of `A-Z a-z 0-9 _ - . :`.
fn valid_method(m: &str) -> bool {
    (1..=64).contains(&m.len())
        && m.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A message as delivered to subscribers and stored in history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageFrame {
    /// Channel it was published to.
    pub channel: String,
    /// Its position in the channel's stream (absent when ephemeral).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seq: u64,
    /// The stream's epoch (absent when ephemeral).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub epoch: String,
    /// The published payload.
    pub data: Value,
    /// Publisher's `sub`.
    pub from: String,
    /// Publish time, ms since the Unix epoch.
    pub ts: u64,
    /// Publisher's frame id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// An ephemeral message: no `seq`, no `epoch` (both left out), not in
    /// history.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ephemeral: bool,
}

/// One user in a `presence` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The user's `sub`.
    pub user: String,
    /// How many of the user's connections are subscribed.
    pub connections: u32,
    /// The member's public data (`info` claim), when it has some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Value>,
}

/// Every frame the server sends (`type`-tagged JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Reply to `rpc`: the hook's `data`.
    Rpc {
        /// The request's `id`, echoed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// What the application answered.
        data: Value,
    },
    /// Reply to `ping`.
    Pong {
        /// The request's `id`, echoed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// Server time, ms since the Unix epoch.
        ts: u64,
        /// The caller's connection id.
        connection: String,
    },
    /// Reply to `subscribe`.
    Subscribed {
        /// The request's `id`, echoed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The channel.
        channel: String,
        /// A position in the channel's stream.
        seq: u64,
        /// The stream's epoch.
        epoch: String,
        /// With `since`: whether every missed message was replayed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recovered: Option<bool>,
    },
    /// Reply to `unsubscribe`.
    Unsubscribed {
        /// The request's `id`, echoed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The channel.
        channel: String,
    },
    /// Reply to `publish`.
    Ack {
        /// The request's `id`, echoed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The channel.
        channel: String,
        /// A position in the channel's stream (absent when ephemeral).
        #[serde(default, skip_serializing_if = "is_zero")]
        seq: u64,
        /// The publish repeated an earlier `id`: not delivered again
        /// (absent when ephemeral).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duplicate: Option<bool>,
        /// An ephemeral publish: delivered, not stored.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        ephemeral: bool,
    },
    /// A published message, pushed to subscribers.
    Message(MessageFrame),
    /// A user's first connection subscribed (`PRESENCE_EVENTS` channels).
    Join {
        /// The channel.
        channel: String,
        /// The user.
        user: String,
        /// The member's public data, when it has some.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        info: Option<Value>,
    },
    /// A user's last connection left (`PRESENCE_EVENTS` channels).
    Leave {
        /// The channel.
        channel: String,
        /// The user.
        user: String,
    },
    /// The backend closes this connection (the server API's `disconnect`
    /// and `revoke`); the close follows.
    Disconnect {
        /// 4000–4999, the application's.
        code: u16,
        /// Why, for the user.
        reason: String,
        /// Whether the client may reconnect (false: final).
        reconnect: bool,
    },
    /// Reply to `history`; `messages` are `message` frames, oldest first.
    /// `complete: false` means the page was cut (by `limit` or by the reply
    /// size limit) or does not start where asked: continue from the last seq.
    History {
        /// The request's `id`, echoed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The channel.
        channel: String,
        /// The stream's epoch.
        epoch: String,
        /// `message` frames, oldest first.
        messages: Vec<ServerFrame>,
        /// Whether this reply is whole (see the variant).
        complete: bool,
    },
    /// Reply to `presence`; when `complete` is false, ask again with `cursor`
    /// (a user may then appear on two pages: add their counts).
    Presence {
        /// The request's `id`, echoed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The channel.
        channel: String,
        /// Users with their connection counts.
        members: Vec<Member>,
        /// Whether this reply is whole (see the variant).
        complete: bool,
        /// Pass back to continue a paged reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<String>,
    },
    /// Reply to `auth`.
    Authed {
        /// The request's `id`, echoed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The new token expiry, seconds since the Unix epoch.
        exp: u64,
    },
    /// The server asks the client to reconnect.
    Reconnect {
        /// Why.
        reason: String,
        /// Reconnect after this long.
        after_ms: u64,
    },
    /// A request failed.
    Error {
        /// The request's `id`, echoed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The catalogued error code.
        code: ErrorCode,
        /// Human-readable detail.
        message: String,
    },
}

impl ServerFrame {
    /// The JSON text sent on the socket.
    pub fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail (no maps with non-string keys).
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"type":"error","code":"internal","message":"serialization failed"}"#.into()
        })
    }
}

#[cfg(test)]
mod tests;
