//! The connection/channel store: one narrow trait, two backends (DynamoDB for
//! production, in-memory for the local gateway and unit tests), both held to
//! the same contract suite (`tests/store_contract.rs`).

mod dynamo;
pub mod keys;
mod memory;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

pub use dynamo::{create_table, DynamoStore};
pub use memory::MemoryStore;

use crate::auth::Principal;
use crate::channel::ChannelName;
use crate::protocol::MessageFrame;

/// A connection as stored at `$connect`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionRecord {
    /// API Gateway connection id.
    pub id: String,
    /// Verified identity and capabilities (refreshed by `auth`).
    pub principal: Principal,
    /// When the connection was opened, ms since the Unix epoch.
    pub connected_at: u64,
}

/// One subscriber of a channel, as fan-out needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// Connection to push to.
    pub connection_id: String,
    /// Its user (for presence).
    pub user: String,
}

/// One page of a paged read; `next` is an opaque cursor, `None` at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// Items of this page (possibly empty even when `next` is set).
    pub items: Vec<T>,
    /// Pass back to read the next page.
    pub next: Option<String>,
}

/// A channel stream's latest position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHead {
    /// Latest assigned seq (0 when nothing was published yet).
    pub seq: u64,
    /// Changes whenever the stream's history is lost or reset.
    pub epoch: String,
}

/// A message to append to a channel's stream.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// Target channel.
    pub channel: ChannelName,
    /// Payload.
    pub data: Value,
    /// Publisher's `sub`.
    pub from: String,
    /// Publisher's frame id.
    pub id: Option<String>,
    /// Publish time, ms.
    pub ts: u64,
    /// When set and `id` is set, a publish with the same `from` + `id` within
    /// this long is a duplicate: not stored or delivered again.
    pub idempotency_ttl: Option<Duration>,
}

/// What `append` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Appended {
    /// Stored with a new seq; deliver it.
    New(MessageFrame),
    /// The same user already published this id: the original position.
    Duplicate {
        /// Channel of the original publish.
        channel: String,
        /// Its seq.
        seq: u64,
    },
}

impl Appended {
    /// The seq to acknowledge.
    pub fn seq(&self) -> u64 {
        match self {
            Self::New(m) => m.seq,
            Self::Duplicate { seq, .. } => *seq,
        }
    }

    /// The new message, if this was not a duplicate.
    pub fn into_new(self) -> Option<MessageFrame> {
        match self {
            Self::New(m) => Some(m),
            Self::Duplicate { .. } => None,
        }
    }
}

/// How long and how much history a stream keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Each message is kept this long.
    pub ttl: Duration,
    /// At most this many messages per channel (0: keep none).
    pub max: u32,
}

/// How long a stream's head survives without publishes; after that its epoch changes.
pub const STREAM_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Why a store call failed. Always maps to `internal` for the client; the
/// detail is logged.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend refused or failed the request (network, throttling after
    /// the SDK's retries, missing table).
    #[error("store backend error: {0}")]
    Backend(String),
    /// Optimistic concurrency kept losing (too many concurrent writers).
    #[error("store contention on {0}; gave up after retries")]
    Contention(String),
    /// An item in the table does not have the shape this code writes.
    #[error("corrupt item {0}")]
    Corrupt(String),
    /// The connection record is gone (disconnected or expired).
    #[error("connection {0} not found")]
    NoConnection(String),
}

/// What `remove_connection` deleted, for logs and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    /// The connection record existed.
    pub connection: bool,
    /// Subscriptions removed.
    pub subscriptions: u32,
}

/// The store every function uses. Reads ignore expired items (TTL deletion is
/// lazy in DynamoDB and never happens in DynamoDB Local).
#[async_trait]
pub trait Store: Send + Sync {
    /// Live connections the user holds now (for `MAX_CONNECTIONS_PER_USER`).
    async fn count_user_connections(&self, user: &str) -> Result<u32, StoreError>;
    /// Stores a new connection; items expire after `ttl`.
    async fn put_connection(
        &self,
        conn: &ConnectionRecord,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// The live connection record, if any.
    async fn get_connection(&self, id: &str) -> Result<Option<ConnectionRecord>, StoreError>;
    /// Replaces the principal after an in-band `auth`.
    async fn update_principal(&self, id: &str, principal: &Principal) -> Result<(), StoreError>;
    /// Deletes the connection and everything it owns. Idempotent.
    async fn remove_connection(&self, id: &str) -> Result<Removed, StoreError>;
    /// How many channels the connection is subscribed to.
    async fn count_subscriptions(&self, connection_id: &str) -> Result<u32, StoreError>;
    /// Whether the connection is subscribed to the channel.
    async fn is_subscribed(
        &self,
        connection_id: &str,
        channel: &ChannelName,
    ) -> Result<bool, StoreError>;
    /// Subscribes (idempotent); fails with `NoConnection` when the connection
    /// is gone, so no orphan subscription is written.
    async fn subscribe(
        &self,
        conn: &ConnectionRecord,
        channel: &ChannelName,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// Unsubscribes; returns whether a subscription existed.
    async fn unsubscribe(
        &self,
        connection_id: &str,
        channel: &ChannelName,
    ) -> Result<bool, StoreError>;
    /// A page of the channel's subscribers (a Query, never a Scan).
    async fn subscribers(
        &self,
        channel: &ChannelName,
        cursor: Option<String>,
        page_size: u32,
    ) -> Result<Page<Subscriber>, StoreError>;
    /// The stream's head, creating the stream (seq 0, new epoch) if it has none.
    async fn stream_head(&self, channel: &ChannelName) -> Result<StreamHead, StoreError>;
    /// Assigns the next seq and stores the message in history atomically,
    /// together with its idempotency record (so a retried publish can never
    /// get a second seq).
    async fn append(&self, msg: NewMessage, limits: HistoryLimits) -> Result<Appended, StoreError>;
    /// Counts one frame in the connection's rate window `window` and returns
    /// the window's count so far (shared by every function instance).
    async fn rate_hit(
        &self,
        connection_id: &str,
        window: u64,
        ttl: Duration,
    ) -> Result<u32, StoreError>;
    /// Live history of the stream at `head` (read by the caller with
    /// [`Store::stream_head`]), oldest first: the first `limit` messages after
    /// `after`, or the latest `limit` without it. Entries of another epoch
    /// are never returned.
    async fn history(
        &self,
        channel: &ChannelName,
        head: &StreamHead,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<MessageFrame>, StoreError>;
}

/// Makes a fresh epoch: random, short, URL-safe.
pub fn new_epoch() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}
