//! Delivering one payload to every subscriber of a channel: subscribers are
//! read page by page (Query), pushed with bounded concurrency, throttles and
//! transient failures retried with exponential backoff and full jitter, gone
//! connections removed. One failing subscriber never stops the others.

use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::VecDeque;

use crate::channel::ChannelName;
use crate::push::{PushError, Pusher};
use crate::retry::Backoff;
use crate::store::{ConnectionStore, Page, StoreError, Subscriber, SubscriptionStore};

/// Fan-out tuning.
#[derive(Debug, Clone, Copy)]
pub struct FanoutOptions {
    /// Pushes in flight at once (`FANOUT_CONCURRENCY`).
    pub concurrency: usize,
    /// Subscribers read per Query page.
    pub page_size: u32,
    /// Attempts per push for retryable failures (1 = no retry).
    pub max_attempts: u32,
    /// Sleep between attempts.
    pub backoff: Backoff,
    /// No push starts after this instant (the invocation's deadline less a
    /// margin): what is left is counted and logged, not silently cut off.
    pub stop_at: Option<tokio::time::Instant>,
}

impl Default for FanoutOptions {
    fn default() -> Self {
        Self {
            concurrency: 64,
            page_size: 500,
            max_attempts: 6,
            backoff: Backoff::PUSH,
            stop_at: None,
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
    /// Subscribers not pushed because the deadline came first (read ones;
    /// `truncated` says whether unread pages remained too).
    pub undelivered: u32,
    /// The deadline stopped the fan-out before every page was read.
    pub truncated: bool,
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
    let mut attempt = 0u32;
    loop {
        match pusher.post(id, payload).await {
            Err(e) if e.retryable() && attempt + 1 < opts.max_attempts.max(1) => {
                opts.backoff.sleep(attempt).await;
                attempt += 1;
            }
            other => return (other, attempt),
        }
    }
}

async fn push_one<S: ConnectionStore + ?Sized>(
    store: &S,
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

/// What the fan-out loop waits for next.
enum Event {
    Page(Result<Page<Subscriber>, StoreError>),
    Pushed(Outcome),
}

/// Sends `payload` to every live subscriber of `channel`. At most
/// `opts.concurrency` pushes are in flight; the next Query page is read while
/// the current one is being pushed (at most about two pages are held). If a
/// page cannot be read, the pushes already started still finish before the
/// error is returned.
pub async fn fan_out<S: SubscriptionStore + ConnectionStore + ?Sized>(
    store: &S,
    pusher: &dyn Pusher,
    channel: &ChannelName,
    payload: &[u8],
    opts: FanoutOptions,
) -> Result<FanoutReport, StoreError> {
    let limit = opts.concurrency.max(1);
    let read_ahead = opts.page_size.max(1) as usize;
    let mut report = FanoutReport::default();
    let mut in_flight = FuturesUnordered::new();
    let mut queue: VecDeque<Subscriber> = VecDeque::new();
    let mut fetch = Some(store.subscribers(channel, None, opts.page_size));
    let mut read_error = None;
    loop {
        if opts
            .stop_at
            .is_some_and(|t| tokio::time::Instant::now() >= t)
        {
            // Out of time: start nothing more, let what is in flight finish.
            report.undelivered += queue.len() as u32;
            report.truncated |= fetch.is_some();
            queue.clear();
            fetch = None;
        }
        while in_flight.len() < limit {
            match queue.pop_front() {
                Some(sub) => in_flight.push(push_one(store, pusher, sub, payload, &opts)),
                None => break,
            }
        }
        let want_page = fetch.is_some() && queue.len() < read_ahead;
        // Nothing in flight means the queue is drained too (it refills
        // `in_flight` first), so with no page to read we are done.
        if !want_page && in_flight.is_empty() {
            break;
        }
        let event = tokio::select! {
            page = async {
                match fetch.as_mut() {
                    Some(f) => f.await,
                    None => std::future::pending().await,
                }
            }, if want_page => Event::Page(page),
            Some(outcome) = in_flight.next(), if !in_flight.is_empty() => Event::Pushed(outcome),
        };
        match event {
            Event::Pushed(outcome) => report.tally(outcome),
            Event::Page(Ok(page)) => {
                queue.extend(page.items);
                fetch = page
                    .next
                    .map(|cursor| store.subscribers(channel, Some(cursor), opts.page_size));
            }
            Event::Page(Err(e)) => {
                read_error = Some(e);
                fetch = None;
                queue.clear();
            }
        }
    }
    match read_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}
