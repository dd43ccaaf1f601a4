//! What the client hands to its user (docs/protocol.md, §3).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A `message` frame: one publish on a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Channel name.
    pub channel: String,
    /// Position in the channel's stream (from 1, no gaps); 0 when ephemeral.
    #[serde(default)]
    pub seq: u64,
    /// The stream's epoch; empty when ephemeral.
    #[serde(default)]
    pub epoch: String,
    /// The payload.
    pub data: Value,
    /// The publisher's `sub`, or `@server`.
    pub from: String,
    /// Publish time, ms since the Unix epoch.
    #[serde(default)]
    pub ts: u64,
    /// The publisher's publish id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Not sequenced or stored: delivered at once, unordered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ephemeral: bool,
}

/// The server's acknowledgement of a publish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// Channel.
    pub channel: String,
    /// The message's seq (0 for an ephemeral publish).
    #[serde(default)]
    pub seq: u64,
    /// The server already had this publish (a retry after a lost ack).
    #[serde(default)]
    pub duplicate: bool,
    /// An ephemeral publish: delivered, not stored.
    #[serde(default)]
    pub ephemeral: bool,
}

/// How to publish ([`crate::Client::publish_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishOptions {
    /// Not sequenced, stored or retried (`EPHEMERAL_CHANNELS` only): sent
    /// once, now; fails when not connected.
    pub ephemeral: bool,
    /// false: this connection is not sent its own message.
    pub echo: bool,
}

impl Default for PublishOptions {
    fn default() -> Self {
        Self {
            ephemeral: false,
            echo: true,
        }
    }
}

/// A position in a stream, for `history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Since {
    /// Last seq held.
    pub seq: u64,
    /// Its epoch.
    pub epoch: String,
}

/// One `history` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    /// Channel.
    pub channel: String,
    /// The stream's epoch (`""`: no stream).
    pub epoch: String,
    /// Oldest first.
    pub messages: Vec<Message>,
    /// The page is whole (see docs/protocol.md, History paging).
    pub complete: bool,
}

/// A presence entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// User id.
    pub user: String,
    /// Their connections subscribed to the channel.
    pub connections: u64,
    /// Their public data (the token's `info` claim), when they have some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Value>,
}

/// Connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not connected (and not trying yet).
    Disconnected,
    /// Handshake in progress.
    Connecting,
    /// Open and answering pings.
    Connected,
    /// Closed by the application; no more reconnects.
    Closed,
}

/// A seq range history no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lost {
    /// First lost seq.
    pub from: u64,
    /// Last lost seq.
    pub to: u64,
}

/// Things the application may want to know about.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The connection state changed.
    State(State),
    /// After a reconnect, a channel caught up: `recovered` when nothing was
    /// lost; otherwise `lost` says what, or `epoch_changed` that the stream restarted.
    Recovered {
        /// Channel.
        channel: String,
        /// Every missed message was delivered.
        recovered: bool,
        /// Ranges that were lost.
        lost: Vec<Lost>,
        /// The stream restarted (new epoch).
        epoch_changed: bool,
    },
    /// An error that no call returned (a refused handshake, a token source failure).
    Error(String),
    /// A user's first connection subscribed to a `PRESENCE_EVENTS` channel.
    Join {
        /// Channel.
        channel: String,
        /// The user.
        user: String,
        /// Their public data, when they have some.
        info: Option<Value>,
    },
    /// A user's last connection left a `PRESENCE_EVENTS` channel.
    Leave {
        /// Channel.
        channel: String,
        /// The user.
        user: String,
    },
    /// The backend closed this connection (`disconnect` frame). With
    /// `reconnect: false` it is final: the client is closed.
    Disconnected {
        /// 4000–4999, the application's.
        code: u16,
        /// Why.
        reason: String,
        /// Whether the client reconnects (with a fresh token).
        reconnect: bool,
    },
    /// The backend subscribed this connection to a channel (server API):
    /// `Client::subscribe` it to receive its messages (it resolves at once,
    /// no frame is sent). It lasts this connection's life: after a
    /// reconnect the backend subscribes again if it wants to, unless the
    /// application subscribed it itself.
    ServerSubscribed {
        /// Channel.
        channel: String,
    },
    /// The backend unsubscribed this connection from a channel; it is not
    /// resubscribed after reconnects.
    ServerUnsubscribed {
        /// Channel.
        channel: String,
    },
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The server answered `error` (`code` as in the protocol).
    #[error("{code}: {message}")]
    Server {
        /// Protocol error code (`forbidden`, `bad_request`, ...).
        code: String,
        /// Human-readable message.
        message: String,
    },
    /// No reply in time (a publish: not acknowledged within the publish timeout).
    #[error("timed out: {0}")]
    Timeout(String),
    /// Not connected (requests other than publish and subscribe are not queued).
    #[error("not connected")]
    Disconnected,
    /// The client was closed.
    #[error("client closed")]
    Closed,
    /// A reply the client could not read.
    #[error("bad reply: {0}")]
    BadReply(String),
}
