//! `FanoutFunction`: pushes one shard of a big channel's subscribers (a
//! range of connection ids, see [`crate::fanout::shard`]) that a publishing
//! invocation handed out asynchronously. Same push, retry and 410 policy as
//! the publisher; a shard that is still too big is split again. An error
//! (the subscribers could not be read) fails the invocation, so Lambda
//! retries it; delivery is at-least-once and clients dedupe by seq.

use serde::{Deserialize, Serialize};

use super::deliver::{log, record};
use super::Invocation;
use crate::app::App;
use crate::channel::ChannelName;
use crate::error::HandlerError;
use crate::fanout::dispatch::FanoutTask;
use crate::fanout::{fan_out_scope, Scope};

/// What one shard did (the function's answer; the logs and metrics say
/// the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardReport {
    /// Pushes that succeeded.
    pub delivered: u32,
    /// Gone connections removed.
    pub gone: u32,
    /// Pushes that failed for good.
    pub failed: u32,
    /// Subscribers the deadline left unpushed.
    pub undelivered: u32,
    /// Shards handed further out.
    pub shards: u32,
}

/// Pushes the task's range of subscribers.
pub async fn fanout(
    task: FanoutTask,
    app: &App,
    invocation: &Invocation<'_>,
) -> Result<ShardReport, HandlerError> {
    let started = std::time::Instant::now();
    let channel = ChannelName::parse(&task.channel)
        .map_err(|e| HandlerError::BadEvent(format!("channel `{}`: {e}", task.channel)))?;
    let pusher = app
        .pusher_for(None, None)
        .ok_or_else(|| HandlerError::BadEvent("MANAGEMENT_ENDPOINT is not set".into()))?;
    let mut opts = app.fanout_options();
    opts.stop_at = invocation.stop_at();
    opts.skip = task.skip.clone();
    let scope = Scope {
        range: task.range.clone(),
        after: task.after.clone(),
    };
    tracing::info!(%channel, seq = task.seq, depth = task.depth, from = ?task.range.from, to = ?task.range.to, "fanout shard");
    let report = fan_out_scope(
        app.store.as_ref(),
        pusher.as_ref(),
        &channel,
        task.payload.as_bytes(),
        scope,
        opts,
        app.sharding(task.depth, task.seq),
    )
    .await;
    log(&channel, &report);
    let r = report?;
    let mut metrics = app.metrics("fanout");
    if let Some(rid) = invocation.request_id {
        metrics.property("requestId", rid);
    }
    record(&mut metrics, &r, started.elapsed());
    metrics.flush();
    Ok(ShardReport {
        delivered: r.delivered,
        gone: r.gone,
        failed: r.failed,
        undelivered: r.undelivered,
        shards: r.shards,
    })
}
