//! What the server sends: every frame type, built to fit the transport.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::*;

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

fn is_zero(n: &u64) -> bool {
    *n == 0
}
