//! One fan-out as both publishing handlers run it (a client `publish`
//! through `$default`, and the server publish API): bounded by the
//! invocation's deadline, its outcome logged and counted the same way.

use std::time::{Duration, Instant};

use crate::app::App;
use crate::channel::ChannelName;
use crate::fanout::{fan_out_scope, FanoutReport, Scope};
use crate::metrics::Metrics;
use crate::push::Pusher;

/// Delivers `payload` to every subscriber of `channel`, starting no push
/// after `stop_at`; logs what happened (an error for what the deadline left
/// undelivered) and returns the report with its duration, or `None` when
/// the subscribers could not be read.
pub(super) async fn deliver(
    app: &App,
    pusher: &dyn Pusher,
    channel: &ChannelName,
    payload: &str,
    stop_at: Option<tokio::time::Instant>,
) -> Option<(FanoutReport, Duration)> {
    let started = Instant::now();
    let mut opts = app.fanout_options();
    opts.stop_at = stop_at;
    let report = fan_out_scope(
        app.store.as_ref(),
        pusher,
        channel,
        payload.as_bytes(),
        Scope::all(),
        opts,
        app.sharding(0, None),
    )
    .await;
    log(channel, &report);
    Some((report.ok()?, started.elapsed()))
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
