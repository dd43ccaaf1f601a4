//! The records the store traits speak in.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// What `$connect` asks of the store, in one atomic step.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConnection<'a> {
    /// The connection to register.
    pub record: &'a ConnectionRecord,
    /// The personal channel to subscribe it to, if the user has one.
    pub personal: Option<&'a ChannelName>,
    /// `MAX_CONNECTIONS_PER_USER`.
    pub max_per_user: u32,
    /// Every item expires after this long.
    pub ttl: Duration,
    /// The user's connection set, which holds the revocation watermark,
    /// lives this much longer than the connection (`REVOKE_TTL_SECONDS`),
    /// so a connect never shortens a standing revocation.
    pub revoke_window: Duration,
}

/// Whether a connection was admitted under the per-user limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Stored with its user entry and personal subscription.
    Admitted,
    /// Nothing was written: the user holds the maximum. The ids registered
    /// for the user, so the caller can check whether some are gone.
    AtLimit(Vec<String>),
    /// Nothing was written: the user's tokens issued before the token's
    /// `iat` are revoked.
    Revoked,
}

/// Whether a subscription was counted against the connection's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    /// Counted, at most this many per connection.
    Limited(u32),
    /// Not counted (the automatic personal channel).
    Free,
}

/// What `subscribe` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    /// A new subscription.
    New,
    /// The connection was already subscribed; nothing changed.
    Already,
    /// The connection holds its maximum; nothing was written.
    LimitReached,
}

/// One subscriber of a channel, as fan-out needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// Connection to push to.
    pub connection_id: String,
    /// Its user (for presence).
    pub user: String,
    /// The member's public data (`info` claim), for presence.
    pub info: Option<serde_json::Value>,
}

/// One page of subscribers. A page may be empty while `next` is set.
/// Cursors are connection ids: reading continues after that connection, so a
/// caller may also resume after any item it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// Items of this page.
    pub items: Vec<T>,
    /// Pass back to read the next page; `None` at the end.
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

/// Whose publish ids a key belongs to: a user's, or the backend's (server
/// publishes), so that a client's id never dedupes a server publish.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IdemScope {
    /// A user's publishes (`sub`).
    User(String),
    /// The application backend's publishes (the publish function).
    Server,
}

/// The idempotency key of a publish: whose id, which id, for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The scope the id is unique in.
    pub scope: IdemScope,
    /// The publisher's id.
    pub id: String,
    /// Fingerprint of channel and payload: a reuse with another one is refused.
    pub fingerprint: String,
    /// How long the id is remembered.
    pub ttl: Duration,
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
    /// When set, a second publish with the same key within its TTL is a
    /// duplicate: not stored or delivered again.
    pub idempotency: Option<IdempotencyKey>,
}

/// What `append` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Appended {
    /// Stored with a new seq; deliver it.
    New(MessageFrame),
    /// The key was already used: the original publish's position.
    Duplicate {
        /// Channel of the original publish.
        channel: String,
        /// Its seq.
        seq: u64,
        /// Fingerprint of the original publish.
        fingerprint: String,
    },
}

/// How long and how much history a stream keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Each message is kept this long.
    pub ttl: Duration,
    /// At most this many messages per channel (0: keep none).
    pub max: u32,
}

/// A rate decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Admitted and counted.
    Counted,
    /// Refused; `tat` is the stored theoretical arrival time (µs) that
    /// refused it, when the store could tell.
    Refused {
        /// The TAT the frame was refused against.
        tat: Option<u64>,
    },
    /// The connection has no record (removed, expired or never opened):
    /// nothing was counted and no state was written.
    Gone,
}

impl Admit {
    /// Whether the frame was admitted.
    pub fn counted(self) -> bool {
        self == Self::Counted
    }
}

/// A GCRA rate limit (generic cell rate algorithm): one frame per
/// `interval`, and up to `burst` at once after a quiet period. Exact at every
/// instant: in any span of time `t`, at most `burst + t / interval` frames
/// are admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    /// Emission interval (1 / rate), µs.
    pub interval_us: u64,
    /// Frames a quiet client may send at once (≥ 1).
    pub burst: u32,
}

impl Gcra {
    /// From a rate per second and a burst.
    pub fn new(per_second: f64, burst: u32) -> Self {
        let interval = (1e6 / per_second.max(1e-6)).round().clamp(1.0, 1e15);
        Self {
            interval_us: interval as u64,
            burst: burst.max(1),
        }
    }

    /// How far ahead of now the theoretical arrival time may run: a frame at
    /// `now` is admitted when `tat ≤ now + tolerance`.
    pub fn tolerance_us(&self) -> u64 {
        self.interval_us.saturating_mul(u64::from(self.burst - 1))
    }

    /// Whether a frame refused against `tat` would be admitted at `now_us`.
    pub fn admits_at(&self, tat: u64, now_us: u64) -> bool {
        tat <= now_us.saturating_add(self.tolerance_us())
    }

    /// The decision for a frame at `now_us` given the stored TAT: the new TAT
    /// when admitted, `None` when refused.
    pub fn next_tat(&self, tat: Option<u64>, now_us: u64) -> Option<u64> {
        let tat = tat.unwrap_or(0).max(now_us);
        (tat <= now_us.saturating_add(self.tolerance_us()))
            .then(|| tat.saturating_add(self.interval_us))
    }
}

/// What `remove_connection` deleted, for logs and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    /// The connection record existed.
    pub connection: bool,
    /// Subscriptions removed.
    pub subscriptions: u32,
    /// Its user, when the record existed.
    pub user: Option<String>,
    /// The channels it was subscribed to (the personal one included).
    pub channels: Vec<String>,
}

/// A range of connection ids: from `from` (inclusive) to `to` (exclusive);
/// `None` is the start or the end of the id space.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    /// Lowest id in the range (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// First id after the range (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl IdRange {
    /// The whole id space.
    pub const ALL: Self = Self {
        from: None,
        to: None,
    };

    /// Whether `id` lies in the range.
    pub fn contains(&self, id: &str) -> bool {
        self.from.as_deref().is_none_or(|f| id >= f) && self.to.as_deref().is_none_or(|t| id < t)
    }
}

#[cfg(test)]
mod tests {
    use super::Gcra;

    #[test]
    fn gcra_admits_the_burst_then_the_rate() {
        let g = Gcra::new(10.0, 3); // one per 100 ms, 3 at once
        let mut tat = None;
        let mut admitted = 0;
        for _ in 0..10 {
            if let Some(t) = g.next_tat(tat, 1_000_000) {
                tat = Some(t);
                admitted += 1;
            }
        }
        assert_eq!(admitted, 3);
        // 100 ms later exactly one more.
        assert!(g.next_tat(tat, 1_100_000).is_some());
        let tat = g.next_tat(tat, 1_100_000);
        assert!(g.next_tat(tat, 1_100_000).is_none());
        // After a long pause the burst is back, not more.
        let mut tat = tat;
        let mut again = 0;
        for _ in 0..10 {
            if let Some(t) = g.next_tat(tat, 9_000_000) {
                tat = Some(t);
                again += 1;
            }
        }
        assert_eq!(again, 3);
    }
}
