//! One fan-out as both publishing handlers run it (a client `publish`
//! through `$default`, and the server publish API): bounded by the
//! invocation's deadline, its outcome logged and counted the same way.

use std::time::{Duration, Instant};

use crate::actions::{members, Fanout};
use crate::app::App;
use crate::channel::ChannelName;
use crate::fanout::{fan_out_scope, FanoutReport, Scope};
use crate::metrics::Metrics;
use crate::push::Pusher;

/// Delivers a frame to every subscriber of its channel (but the one it
/// skips), starting no push after `stop_at`; logs what happened (an error
/// for what the deadline left undelivered) and returns the report with its
/// duration, or `None` when the subscribers could not be read. Subscribers
/// found gone were removed; their `leave`s (`PRESENCE_EVENTS`) are
/// delivered too, and those of subscribers found gone by them, for a few
/// rounds.
pub(super) async fn deliver(
    app: &App,
    pusher: &dyn Pusher,
    f: &Fanout,
    stop_at: Option<tokio::time::Instant>,
) -> Option<(FanoutReport, Duration)> {
    let first = deliver_once(app, pusher, f, stop_at).await;
    let mut gone = first
        .as_ref()
        .map(|(r, _)| r.removed.clone())
        .unwrap_or_default();
    for _round in 0..3 {
        if gone.is_empty() {
            break;
        }
        let mut next = Vec::new();
        for (connection, removed) in gone {
            for leave in members::leaves(app, &connection, &removed).await {
                if let Some((r, _)) = deliver_once(app, pusher, &leave, stop_at).await {
                    next.extend(r.removed);
                }
            }
        }
        gone = next;
    }
    first
}

/// Delivers the `leave`s a removed connection causes.
pub(super) async fn announce_leaves(
    app: &App,
    pusher: &dyn Pusher,
    connection: &str,
    removed: &crate::store::Removed,
) {
    for leave in members::leaves(app, connection, removed).await {
        deliver(app, pusher, &leave, None).await;
    }
}

async fn deliver_once(
    app: &App,
    pusher: &dyn Pusher,
    f: &Fanout,
    stop_at: Option<tokio::time::Instant>,
) -> Option<(FanoutReport, Duration)> {
    let started = Instant::now();
    let channel = &f.channel;
    let mut opts = app.fanout_options();
    opts.stop_at = stop_at;
    opts.skip = f.skip.clone();
    if f.ephemeral {
        // The page size the fan-out itself would read (a shard's at most).
        let size = app.sharding(0, None).map_or(opts.page_size, |s| {
            opts.page_size
                .min(s.size.clamp(1, u32::MAX as usize) as u32)
        });
        opts.first_page = cached_subscribers(app, channel, size).await;
    }
    let report = fan_out_scope(
        app.store.as_ref(),
        pusher,
        channel,
        f.payload.as_bytes(),
        Scope::all(),
        opts,
        app.sharding(0, None),
    )
    .await;
    log(channel, &report);
    if report.as_ref().is_ok_and(|r| r.gone > 0) {
        app.cache.subscribers.forget(channel.as_str());
    }
    Some((report.ok()?, started.elapsed()))
}

/// An ephemeral fan-out's first page: the instance's cached list, else one
/// read (kept when it is the whole list); `None` when the read fails (the
/// fan-out then reads, and reports, itself).
async fn cached_subscribers(
    app: &App,
    channel: &ChannelName,
    page_size: u32,
) -> Option<crate::store::Page<crate::store::Subscriber>> {
    if let Some(page) = app.cache.subscribers.get(channel.as_str()) {
        return Some(page);
    }
    let page = app.store.subscribers(channel, None, page_size).await.ok()?;
    // Only a whole list can stand for the channel.
    if page.next.is_none() {
        app.cache.subscribers.put(channel.as_str(), page.clone());
    }
    Some(page)
}

/// Logs a fan-out's outcome: an error for what the deadline left undelivered.
pub(super) fn log(channel: &ChannelName, report: &Result<FanoutReport, crate::store::StoreError>) {
    match &report {
        Ok(r) if r.undelivered > 0 || r.truncated => {
            tracing::error!(%channel, delivered = r.delivered, undelivered = r.undelivered, unread_pages = r.truncated, "fan-out stopped at the invocation deadline; the rest recover from history")
        }
        Ok(r) => {
            tracing::info!(%channel, delivered = r.delivered, gone = r.gone, failed = r.failed, retries = r.retries, shards = r.shards, shards_kept = r.shards_kept, "fan-out")
        }
        Err(e) => {
            tracing::error!(%channel, error = %e, "fan-out aborted: subscribers unreadable")
        }
    }
}

/// Counts a fan-out in the invocation's metrics.
pub(super) fn record(metrics: &mut Metrics, r: &FanoutReport, took: Duration) {
    metrics
        .count("Delivered", r.delivered)
        .count("Gone", r.gone)
        .count("PushFailed", r.failed)
        .count("PushRetries", r.retries)
        .count("Undelivered", r.undelivered)
        .count("FanoutShards", r.shards)
        .millis("FanoutMs", took.as_secs_f64() * 1e3);
}
