//! What a fan-out is given and what it reports: the frame to deliver, the
//! tuning, the scope and sharding of one invocation, the counts.

use super::dispatch::Dispatcher;
use super::shard::IdRange;
use crate::channel::ChannelName;
use crate::push::Retry;
use crate::retry::Backoff;
use crate::store::{Page, Removed, Subscriber};

/// A frame to deliver to every subscriber of a channel.
#[derive(Debug, Clone)]
pub(crate) struct Fanout {
    /// The channel.
    pub channel: ChannelName,
    /// The frame, as JSON.
    pub payload: String,
    /// A connection not to push to (a publish with `echo: false`).
    pub skip: Option<String>,
    /// An ephemeral message: best effort, so its subscriber list may come
    /// from the instance's cache (`instance_cache`).
    pub ephemeral: bool,
}

/// Fan-out tuning.
#[derive(Debug, Clone)]
pub struct FanoutOptions {
    /// Pushes in flight at once (`FANOUT_CONCURRENCY`).
    pub concurrency: usize,
    /// Subscribers read per Query page.
    pub page_size: u32,
    /// Attempts per push for 5xx and network failures (1 = no retry);
    /// throttles get four times as many.
    pub max_attempts: u32,
    /// Sleep between attempts.
    pub backoff: Backoff,
    /// No push starts after this instant (the invocation's deadline less a
    /// margin): what is left is counted and logged, not silently cut off.
    pub stop_at: Option<tokio::time::Instant>,
    /// A connection not to push to (a publish with `echo: false`: its
    /// publisher); shards handed out skip it too.
    pub skip: Option<String>,
    /// The scope's first page, already read (an ephemeral fan-out's cached
    /// subscriber list): used instead of reading it.
    pub first_page: Option<Page<Subscriber>>,
}

impl Default for FanoutOptions {
    fn default() -> Self {
        Self {
            concurrency: 64,
            page_size: 500,
            max_attempts: 6,
            backoff: Backoff::PUSH,
            stop_at: None,
            skip: None,
            first_page: None,
        }
    }
}

impl FanoutOptions {
    /// The retry policy of each push.
    pub fn retry(&self) -> Retry {
        Retry {
            max_attempts: self.max_attempts,
            backoff: self.backoff,
            stop_at: self.stop_at,
        }
    }
}

/// What happened, for metrics and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FanoutReport {
    /// Pushes that succeeded.
    pub delivered: u32,
    /// Subscribers found gone (410) and removed.
    pub gone: u32,
    /// Pushes that failed for good (after retries, or not retryable).
    pub failed: u32,
    /// Retries made (throttles and transient failures).
    pub retries: u32,
    /// Subscribers not pushed because the deadline came first (read ones;
    /// `truncated` says whether unread pages remained too).
    pub undelivered: u32,
    /// The deadline stopped the fan-out before every page was read.
    pub truncated: bool,
    /// Shards handed to other invocations.
    pub shards: u32,
    /// Shards that could not be handed out and were pushed here.
    pub shards_kept: u32,
    /// The gone subscribers removed, and what each had (its user and
    /// channels, for `leave` events).
    pub removed: Vec<(String, Removed)>,
}

/// Splitting a big channel among invocations.
#[derive(Debug, Clone, Copy)]
pub struct Sharding<'a> {
    /// Queues the shards.
    pub dispatcher: &'a dyn Dispatcher,
    /// Subscribers one invocation pushes itself (`FANOUT_SHARD_SIZE`).
    pub size: usize,
    /// Splits above this invocation (0 for the publisher).
    pub depth: u8,
    /// The message's seq, carried to the shards for their logs.
    pub seq: Option<u64>,
}

/// The part of a channel's subscribers one invocation is for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Connection ids in this range…
    pub range: IdRange,
    /// …after this one.
    pub after: Option<String>,
}

impl Scope {
    /// Every subscriber.
    pub fn all() -> Self {
        Self::default()
    }
}
