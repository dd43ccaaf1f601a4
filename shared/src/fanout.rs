//! Delivering one payload to every subscriber of a channel: subscribers are
//! read page by page (Query), pushed with bounded concurrency, throttles and
//! transient failures retried with exponential backoff and full jitter, gone
//! connections removed. One failing subscriber never stops the others.

use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::channel::ChannelName;
use crate::push::{PushError, Pusher};
use crate::store::{Store, StoreError, Subscriber};

/// Fan-out tuning.
#[derive(Debug, Clone, Copy)]
pub struct FanoutOptions {
    /// Pushes in flight at once (`FANOUT_CONCURRENCY`).
    pub concurrency: usize,
    /// Subscribers read per Query page.
    pub page_size: u32,
    /// Attempts per push for retryable failures (1 = no retry).
    pub max_attempts: u32,
    /// First backoff; doubles per attempt, capped at `max_backoff`.
    pub base_backoff: Duration,
    /// Backoff ceiling.
    pub max_backoff: Duration,
}

impl Default for FanoutOptions {
    fn default() -> Self {
        Self {
            concurrency: 64,
            page_size: 500,
            max_attempts: 6,
            base_backoff: Duration::from_millis(25),
            max_backoff: Duration::from_secs(1),
        }
    }
}

/// What happened, for metrics and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanoutReport {
    /// Pushes that succeeded.
    pub delivered: u32,
    /// Subscribers found gone (410) and removed.
    pub gone: u32,
    /// Pushes that failed for good (after retries, or not retryable).
    pub failed: u32,
    /// Retries made (throttles and transient failures).
    pub retries: u32,
}

enum Outcome {
    Delivered { retries: u32 },
    Gone,
    Failed { retries: u32 },
}

/// Pushes with retry; the sleep is full jitter over an exponential ceiling.
/// Returns the final result and how many retries it took.
pub async fn push_with_retry(
    pusher: &dyn Pusher,
    id: &str,
    payload: &[u8],
    opts: &FanoutOptions,
) -> (Result<(), PushError>, u32) {
    use rand::Rng;
    let mut attempt = 0u32;
    loop {
        match pusher.post(id, payload).await {
            Err(e) if e.retryable() && attempt + 1 < opts.max_attempts.max(1) => {
                let ceiling = opts
                    .base_backoff
                    .saturating_mul(1 << attempt.min(16))
                    .min(opts.max_backoff);
                let ms = rand::rng().random_range(0..=ceiling.as_millis() as u64);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                attempt += 1;
            }
            other => return (other, attempt),
        }
    }
}

async fn push_one(
    store: &dyn Store,
    pusher: &dyn Pusher,
    sub: Subscriber,
    payload: &[u8],
    opts: &FanoutOptions,
) -> Outcome {
    let (result, retries) = push_with_retry(pusher, &sub.connection_id, payload, opts).await;
    match result {
        Ok(()) => Outcome::Delivered { retries },
        Err(PushError::Gone) => {
            match store.remove_connection(&sub.connection_id).await {
                Ok(r) => {
                    tracing::info!(connection = %sub.connection_id, subscriptions = r.subscriptions, "removed gone connection")
                }
                Err(e) => {
                    tracing::warn!(connection = %sub.connection_id, error = %e, "could not remove gone connection")
                }
            }
            Outcome::Gone
        }
        Err(e) => {
            tracing::warn!(connection = %sub.connection_id, error = %e, retries, "push failed");
            Outcome::Failed { retries }
        }
    }
}

impl FanoutReport {
    fn tally(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Delivered { retries } => {
                self.delivered += 1;
                self.retries += retries;
            }
            Outcome::Gone => self.gone += 1,
            Outcome::Failed { retries } => {
                self.failed += 1;
                self.retries += retries;
            }
        }
    }
}

/// Sends `payload` to every live subscriber of `channel`. At most
/// `opts.concurrency` pushes are in flight; the next Query page is read when
/// the current one has been handed out. If a page cannot be read, the pushes
/// already started still finish before the error is returned.
pub async fn fan_out(
    store: &dyn Store,
    pusher: &dyn Pusher,
    channel: &ChannelName,
    payload: &[u8],
    opts: FanoutOptions,
) -> Result<FanoutReport, StoreError> {
    let limit = opts.concurrency.max(1);
    let mut report = FanoutReport::default();
    let mut in_flight = FuturesUnordered::new();
    let mut cursor = None;
    let read_error = loop {
        let page = match store
            .subscribers(channel, cursor.take(), opts.page_size)
            .await
        {
            Ok(p) => p,
            Err(e) => break Some(e),
        };
        for sub in page.items {
            while in_flight.len() >= limit {
                if let Some(outcome) = in_flight.next().await {
                    report.tally(outcome);
                }
            }
            in_flight.push(push_one(store, pusher, sub, payload, &opts));
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break None,
        }
    };
    while let Some(outcome) = in_flight.next().await {
        report.tally(outcome);
    }
    match read_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}
