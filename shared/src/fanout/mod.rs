//! Delivering one payload to every subscriber of a channel: subscribers are
//! read page by page (Query), pushed with bounded concurrency, throttles and
//! transient failures retried with exponential backoff and full jitter, gone
//! connections removed. One failing subscriber never stops the others.
//!
//! A channel bigger than the shard size is not pushed by one invocation:
//! once it has read that many subscribers and more remain, the invocation
//! cuts the rest of its id range into shards ([`shard`]) and queues
//! each to `FANOUT_FUNCTION` ([`dispatch`]), then pushes only what it
//! read. A shard that cannot be queued is read and pushed here instead.

use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::VecDeque;

pub mod dispatch;
pub mod shard;
mod types;

pub(crate) use types::Fanout;
pub use types::{FanoutOptions, FanoutReport, Scope, Sharding};

use self::dispatch::FanoutTask;
use self::shard::{estimate_rest, split_rest, IdRange, MAX_DEPTH};

use crate::channel::ChannelName;
use crate::push::{push_with_retry, PushError, Pusher};
use crate::store::{ConnectionStore, Page, Removed, StoreError, Subscriber, SubscriptionStore};

enum Outcome {
    Delivered { retries: u32 },
    Gone(Option<(String, Removed)>),
    Failed { retries: u32 },
}

async fn push_one<S: ConnectionStore + ?Sized>(
    store: &S,
    pusher: &dyn Pusher,
    sub: Subscriber,
    payload: &[u8],
    opts: &FanoutOptions,
) -> Outcome {
    let (result, retries) =
        push_with_retry(pusher, &sub.connection_id, payload, &opts.retry()).await;
    match result {
        Ok(()) => Outcome::Delivered { retries },
        Err(PushError::Gone) => match store.remove_connection(&sub.connection_id).await {
            Ok(r) => {
                tracing::info!(connection = %sub.connection_id, subscriptions = r.subscriptions, "removed gone connection");
                Outcome::Gone(Some((sub.connection_id, r)))
            }
            Err(e) => {
                tracing::warn!(connection = %sub.connection_id, error = %e, "could not remove gone connection");
                Outcome::Gone(None)
            }
        },
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
            Outcome::Gone(removed) => {
                self.gone += 1;
                self.removed.extend(removed);
            }
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
    fan_out_scope(store, pusher, channel, payload, Scope::all(), opts, None).await
}

/// [`fan_out`] over the subscribers in `scope`, handing shards out when
/// `sharding` is given and more than its size are found.
pub(crate) async fn fan_out_scope<S: SubscriptionStore + ConnectionStore + ?Sized>(
    store: &S,
    pusher: &dyn Pusher,
    channel: &ChannelName,
    payload: &[u8],
    scope: Scope,
    mut opts: FanoutOptions,
    sharding: Option<Sharding<'_>>,
) -> Result<FanoutReport, StoreError> {
    let limit = opts.concurrency.max(1);
    // A page never holds more than a shard, so reading one shard's worth
    // leaves a cursor when there are more.
    let page = match sharding {
        Some(s) => opts
            .page_size
            .min(s.size.clamp(1, u32::MAX as usize) as u32),
        None => opts.page_size,
    };
    let mut report = FanoutReport::default();
    let mut in_flight = FuturesUnordered::new();
    let mut queue: VecDeque<Subscriber> = VecDeque::new();
    // Ranges this invocation reads, in order (more join when shards cannot
    // be handed out).
    let mut own: VecDeque<Scope> = VecDeque::new();
    let read_page = |range: IdRange, after: Option<String>, read: Option<Page<Subscriber>>| async move {
        match read {
            Some(p) => Ok(p),
            None => store.subscribers_in(channel, &range, after, page).await,
        }
    };
    let mut current = scope;
    let mut fetch = Some(Box::pin(read_page(
        current.range.clone(),
        current.after.clone(),
        opts.first_page.take(),
    )));
    let mut read = 0usize;
    // Until the split is decided, read ahead up to the shard size.
    let mut deciding = sharding.is_some_and(|s| s.depth < MAX_DEPTH);
    // Read one page ahead of the pushes; while deciding, read on until a
    // shard's worth is in hand (the split, and the shards, start sooner).
    let read_on = |deciding: bool, read: usize, queued: usize| {
        queued < page.max(1) as usize || (deciding && sharding.is_some_and(|s| read < s.size))
    };
    let mut read_error = None;
    loop {
        if opts
            .stop_at
            .is_some_and(|t| tokio::time::Instant::now() >= t)
        {
            // Out of time: start nothing more, let what is in flight finish.
            report.undelivered += queue.len() as u32;
            report.truncated |= fetch.is_some() || !own.is_empty();
            queue.clear();
            own.clear();
            fetch = None;
        }
        while in_flight.len() < limit {
            match queue.pop_front() {
                Some(sub) => in_flight.push(push_one(store, pusher, sub, payload, &opts)),
                None => break,
            }
        }
        let want_page = fetch.is_some() && read_on(deciding, read, queue.len());
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
            Event::Page(Ok(got)) => {
                read += got.items.len();
                let skip = opts.skip.as_deref();
                queue.extend(
                    got.items
                        .into_iter()
                        .filter(|s| Some(s.connection_id.as_str()) != skip),
                );
                let mut cursor = got.next;
                if let (Some(s), Some(after), true) = (sharding, cursor.as_deref(), deciding) {
                    if read >= s.size {
                        deciding = false;
                        let from = current.after.clone().or(current.range.from.clone());
                        let seen = IdRange {
                            from,
                            to: current.range.to.clone(),
                        };
                        let rest = estimate_rest(&seen, read, after);
                        if rest > s.size / 2 {
                            let parts = rest.div_ceil(s.size.max(1));
                            let ranges = split_rest(&current.range, after, parts);
                            let kept = hand_out(
                                s,
                                channel,
                                payload,
                                ranges,
                                after,
                                opts.skip.as_deref(),
                                &mut report,
                            )
                            .await;
                            own.extend(kept);
                            cursor = None;
                        }
                    }
                }
                fetch = match cursor {
                    Some(c) => Some(Box::pin(read_page(current.range.clone(), Some(c), None))),
                    None => own.pop_front().map(|next| {
                        current = next;
                        Box::pin(read_page(
                            current.range.clone(),
                            current.after.clone(),
                            None,
                        ))
                    }),
                };
            }
            Event::Page(Err(e)) => {
                read_error = Some(e);
                fetch = None;
                own.clear();
                queue.clear();
            }
        }
    }
    match read_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Queues one invocation per range (the first starting after `after`);
/// returns the ranges that could not be queued, for the caller to push.
async fn hand_out(
    s: Sharding<'_>,
    channel: &ChannelName,
    payload: &[u8],
    ranges: Vec<IdRange>,
    after: &str,
    skip: Option<&str>,
    report: &mut FanoutReport,
) -> Vec<Scope> {
    let payload = String::from_utf8_lossy(payload).into_owned();
    let tasks: Vec<FanoutTask> = ranges
        .into_iter()
        .enumerate()
        .map(|(i, range)| FanoutTask {
            channel: channel.as_str().to_string(),
            payload: payload.clone(),
            after: (i == 0).then(|| after.to_string()),
            range,
            depth: s.depth + 1,
            seq: s.seq,
            skip: skip.map(str::to_string),
        })
        .collect();
    let sent = futures::future::join_all(tasks.iter().map(|t| s.dispatcher.dispatch(t))).await;
    let mut kept = Vec::new();
    for (task, result) in tasks.into_iter().zip(sent) {
        match result {
            Ok(()) => report.shards += 1,
            Err(e) => {
                tracing::warn!(%channel, error = %e, "shard not handed out; pushing it here");
                report.shards_kept += 1;
                kept.push(Scope {
                    range: task.range,
                    after: task.after,
                });
            }
        }
    }
    kept
}
