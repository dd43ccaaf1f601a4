//! The connection/channel store, split by concern like centrifuge's broker
//! and presence manager: [`ConnectionStore`], [`SubscriptionStore`],
//! [`StreamStore`] and [`RateStore`], with [`Store`] for all four. Two
//! backends (DynamoDB for production, in-memory for the local gateway and
//! unit tests) are held to the same contract suite (`tests/store_contract.rs`).
//! Reads ignore expired items (TTL deletion is lazy in DynamoDB and never
//! happens in DynamoDB Local).

mod dynamo;
mod error;
mod item;
pub mod keys;
mod memory;
mod types;

use async_trait::async_trait;

pub use dynamo::{client as dynamo_client, create_table, DynamoStore};
pub use error::StoreError;
pub use memory::MemoryStore;
pub use types::{
    Admission, Admit, Appended, ConnectionRecord, Gcra, HistoryLimits, IdRange, IdemScope,
    IdempotencyKey, NewConnection, NewMessage, Page, Quota, Removed, StreamHead, Subscribed,
    Subscriber,
};

use crate::auth::Principal;
use crate::channel::ChannelName;
use crate::protocol::MessageFrame;

/// How long a stream's head survives without publishes; after that its epoch changes.
pub(crate) const STREAM_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Connections and the per-user connection limit.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Registers a connection, its place in the user's connection set and
    /// its personal subscription atomically, unless the user already holds
    /// `max_per_user` connections (then nothing is written).
    async fn open_connection(&self, new: NewConnection<'_>) -> Result<Admission, StoreError>;
    /// The live connection record, if any.
    async fn get_connection(&self, id: &str) -> Result<Option<ConnectionRecord>, StoreError>;
    /// Replaces the principal after an in-band `auth`.
    async fn update_principal(&self, id: &str, principal: &Principal) -> Result<(), StoreError>;
    /// Deletes the connection and everything it owns, and frees its slot in
    /// the user's set. Idempotent.
    async fn remove_connection(&self, id: &str) -> Result<Removed, StoreError>;
    /// Frees a slot in the user's set whose connection record is already gone.
    async fn forget_user_connection(&self, user: &str, id: &str) -> Result<(), StoreError>;
    /// The ids in the user's connection set (live or not yet reaped).
    async fn user_connections(&self, user: &str) -> Result<Vec<String>, StoreError>;
    /// Refuses the user's tokens issued before `before` (unix seconds) until
    /// `until`. The watermark lives on the user's connection set, which the
    /// handshake's transaction updates anyway: checking it costs the
    /// handshake a condition, not a read. A later watermark is never moved back.
    async fn revoke(&self, user: &str, before: u64, until: u64) -> Result<(), StoreError>;
    /// The watermark in force for the user, if any (for in-band `auth`).
    async fn revoked_before(&self, user: &str) -> Result<Option<u64>, StoreError>;
}

/// Which of a user's connections are in a channel: presence events
/// (`PRESENCE_EVENTS` channels only). Each call is one atomic step, so a
/// user's first connection in and last connection out are each seen by
/// exactly one caller, whatever runs concurrently.
#[async_trait]
pub trait MemberStore: Send + Sync {
    /// Adds `connection`; true when the user had no connection there (`join`).
    async fn member_in(
        &self,
        channel: &ChannelName,
        user: &str,
        connection: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError>;
    /// Removes `connection`; true when it was the user's last there (`leave`).
    async fn member_out(
        &self,
        channel: &ChannelName,
        user: &str,
        connection: &str,
    ) -> Result<bool, StoreError>;
}

/// Channel subscriptions, both directions.
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// Subscribes atomically with the quota check; fails with `NoConnection`
    /// when the connection is gone, so no orphan subscription is written.
    async fn subscribe(
        &self,
        conn: &ConnectionRecord,
        channel: &ChannelName,
        quota: Quota,
        ttl: std::time::Duration,
    ) -> Result<Subscribed, StoreError>;
    /// Unsubscribes (giving back the quota slot when `quota` is limited);
    /// returns whether a subscription existed.
    async fn unsubscribe(
        &self,
        connection_id: &str,
        channel: &ChannelName,
        quota: Quota,
    ) -> Result<bool, StoreError>;
    /// A page of the channel's subscribers whose connection id lies in
    /// `range`, after connection `after` (a Query, never a Scan).
    async fn subscribers_in(
        &self,
        channel: &ChannelName,
        range: &IdRange,
        after: Option<String>,
        page_size: u32,
    ) -> Result<Page<Subscriber>, StoreError>;

    /// Whether the connection holds a live subscription to `channel`.
    async fn is_subscribed(
        &self,
        connection_id: &str,
        channel: &ChannelName,
    ) -> Result<bool, StoreError>;

    /// A page of all the channel's subscribers after connection `after`.
    async fn subscribers(
        &self,
        channel: &ChannelName,
        after: Option<String>,
        page_size: u32,
    ) -> Result<Page<Subscriber>, StoreError> {
        self.subscribers_in(channel, &IdRange::ALL, after, page_size)
            .await
    }
}

/// Channel streams: sequencing, history, idempotency.
#[async_trait]
pub trait StreamStore: Send + Sync {
    /// The stream's head, creating the stream (seq 0, new epoch) if it has none.
    async fn stream_head(&self, channel: &ChannelName) -> Result<StreamHead, StoreError>;
    /// The stream's head if the stream exists; never writes.
    async fn read_head(&self, channel: &ChannelName) -> Result<Option<StreamHead>, StoreError>;
    /// Assigns the next seq and stores the message in history atomically,
    /// together with its idempotency record (so a retried publish can never
    /// get a second seq). Contention costs latency, not an error.
    async fn append(&self, msg: NewMessage, limits: HistoryLimits) -> Result<Appended, StoreError>;
    /// The publish a live idempotency record holds for `id` in `scope`
    /// (as [`Appended::Duplicate`]), without appending anything.
    async fn recorded(&self, scope: &IdemScope, id: &str) -> Result<Option<Appended>, StoreError>;
    /// Live history of the stream at `head`, oldest first: the first `limit`
    /// messages after `after`, or the latest `limit` without it. Entries of
    /// another epoch are never returned.
    async fn history(
        &self,
        channel: &ChannelName,
        head: &StreamHead,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<MessageFrame>, StoreError>;
}

/// Per-connection rate limiting shared by every function instance.
#[async_trait]
pub trait RateStore: Send + Sync {
    /// Whether a frame at `now_us` (µs since the Unix epoch) is admitted
    /// under `limit`; an admitted frame is counted. A refusal carries the
    /// stored TAT it was refused against, so the caller can tell whether a
    /// later clock would admit it.
    async fn admit(
        &self,
        connection_id: &str,
        limit: Gcra,
        now_us: u64,
    ) -> Result<Admit, StoreError>;
}

/// Everything a function needs of the store.
pub trait Store:
    ConnectionStore + SubscriptionStore + StreamStore + RateStore + MemberStore + std::fmt::Debug
{
}

impl<T> Store for T where
    T: ConnectionStore
        + SubscriptionStore
        + StreamStore
        + RateStore
        + MemberStore
        + std::fmt::Debug
{
}

/// Makes a fresh epoch: random, short, URL-safe.
pub(crate) fn new_epoch() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}
