//! What clients send: the frames, parsed and validated into [`Action`]s.

use serde_json::Value;

use super::*;
use crate::channel::ChannelName;

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
