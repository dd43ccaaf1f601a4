//! Big channels: one server publish to N *virtual* subscribers (store items
//! without sockets; wsfn-local's management API answers their POSTs after
//! the injected latency, under the account throttle if set, and counts
//! them per id), so 100,000 and 1,000,000 subscribers fit on one machine.
//! Measures wall time to the last push, every invocation's duration (the
//! publisher and each FanoutFunction shard), exactly-once delivery, and the
//! cost inputs: invocations, GB-s, subscriber pages read.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{json, Value};
use wsfn::auth::Principal;
use wsfn::channel::ChannelName;
use wsfn::store::{ConnectionRecord, NewConnection, Quota, Store};
use wsfn_local::invoker::{InvokeError, Invoker};
use wsfn_local::{start_with, Options, Running};

use super::{fail, BenchError};

/// Times every Invoke API invocation (what Lambda would bill).
struct Timed {
    inner: Arc<dyn Invoker>,
    runs: Mutex<Vec<(String, Duration)>>,
    epoch: Instant,
}

#[async_trait]
impl Invoker for Timed {
    async fn invoke(
        &self,
        function: &str,
        event: Value,
    ) -> Result<wsfn::aws_lambda_events::apigw::ApiGatewayProxyResponse, InvokeError> {
        self.inner.invoke(function, event).await
    }

    async fn invoke_json(&self, function: &str, event: Value) -> Result<Value, InvokeError> {
        let started = Instant::now();
        let r = self.inner.invoke_json(function, event).await;
        if std::env::var_os("WSFN_BENCH_TIMELINE").is_some() {
            eprintln!(
                "{function}: {:.2} s → {:.2} s",
                (started - self.epoch).as_secs_f64(),
                self.epoch.elapsed().as_secs_f64()
            );
        }
        self.runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((function.to_string(), started.elapsed()));
        r
    }
}

/// One big-channel run.
#[derive(Debug, Clone)]
pub struct BigResult {
    /// Virtual subscribers.
    pub subscribers: usize,
    /// Distinct subscribers that got the message.
    pub reached: usize,
    /// POSTs they got in all (= reached when exactly once).
    pub posts: u64,
    /// Subscribers that got it more than once.
    pub repeated: usize,
    /// Publish → last push.
    pub wall: Duration,
    /// FanoutFunction invocations.
    pub shards: usize,
    /// Longest single invocation.
    pub longest: Duration,
    /// Sum of all invocations' durations.
    pub busy: Duration,
    /// N × latency ÷ ((1 + shards running at once) × concurrency).
    pub ideal: Duration,
    /// Requests the account throttle answered 429.
    pub throttled: u64,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BigOptions {
    /// Gateway options (template, store, latency, throttle).
    pub gateway: Options,
    /// Virtual subscribers.
    pub subscribers: usize,
    /// `FANOUT_SHARD_SIZE`.
    pub shard_size: usize,
    /// `FANOUT_CONCURRENCY`.
    pub concurrency: usize,
}

/// Registers `n` virtual subscribers of `channel` through the store (as
/// `$connect` + `subscribe` would write them), 64 at a time.
pub(crate) async fn register(
    store: &Arc<dyn Store>,
    channel: &ChannelName,
    n: usize,
) -> Result<(), BenchError> {
    use futures::StreamExt;
    let ttl = Duration::from_secs(3600);
    let results: Vec<Result<(), BenchError>> = futures::stream::iter(0..n)
        .map(|_| {
            let store = store.clone();
            let channel = channel.clone();
            async move {
                let id = wsfn_local::virtuals::id();
                let record = ConnectionRecord {
                    id: id.clone(),
                    principal: Principal {
                        sub: id.clone(),
                        exp: wsfn::time::now_secs() + 3600,
                        subscribe: vec![],
                        publish: vec![],
                        rate: None,
                        iat: 0,
                        info: None,
                        granted: None,
                    },
                    connected_at: wsfn::time::now_millis(),
                };
                store
                    .open_connection(NewConnection {
                        record: &record,
                        personal: None,
                        max_per_user: 1,
                        ttl,
                        revoke_window: ttl,
                    })
                    .await
                    .map_err(|e| fail("open", e))?;
                store
                    .subscribe(&record, &channel, Quota::Free, ttl)
                    .await
                    .map_err(|e| fail("subscribe", e))?;
                Ok(())
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Starts a gateway, registers the subscribers, publishes once through
/// PublishFunction and waits for every push.
pub async fn big_channel(opts: BigOptions) -> Result<BigResult, BenchError> {
    let mut g = opts.gateway.clone();
    g.quiet = true;
    g.virtual_subscribers = true;
    g.listen = "127.0.0.1:0".parse().map_err(|e| fail("addr", e))?;
    g.environment
        .insert("FANOUT_SHARD_SIZE".into(), opts.shard_size.to_string());
    g.environment
        .insert("FANOUT_CONCURRENCY".into(), opts.concurrency.to_string());
    if g.dynamodb_endpoint.is_some() {
        g.environment.insert(
            "TABLE_NAME".into(),
            format!("wsfn-big-{:x}", rand::random::<u64>()),
        );
    }
    let latency = g.faults.latency;
    let async_concurrency = g.async_concurrency;
    let mut timed = None;
    let running: Running = start_with(g, |inner| {
        let t = Arc::new(Timed {
            inner,
            runs: Mutex::new(vec![]),
            epoch: Instant::now(),
        });
        timed = Some(t.clone());
        t
    })
    .await
    .map_err(|e| fail("start", e))?;
    let timed = timed.ok_or_else(|| BenchError("no invoker".into()))?;
    let channel_name = format!("big:{:x}", rand::random::<u32>());
    let channel = ChannelName::parse(&channel_name).map_err(|e| fail("channel", e))?;
    register(&running.store, &channel, opts.subscribers).await?;
    let virtuals = running
        .management
        .virtuals
        .clone()
        .ok_or_else(|| BenchError("virtual subscribers are off".into()))?;

    let started = Instant::now();
    let answer = running
        .gateway
        .invoker
        .invoke_json(
            "PublishFunction",
            json!({"channel": channel_name, "data": {"bench": "big"}}),
        )
        .await
        .map_err(|e| fail("publish", e))?;
    if answer["results"][0]["seq"].as_u64().is_none() {
        return Err(BenchError(format!("publish refused: {answer}")));
    }
    // Wait for the last push (bounded: every shard has a deadline anyway).
    let bound = Duration::from_secs(120) + latency * (opts.subscribers as u32 / 1000);
    let mut last_change = Instant::now();
    let mut seen = 0;
    while virtuals.reached() < opts.subscribers as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = virtuals.reached();
        if now != seen {
            seen = now;
            last_change = Instant::now();
        }
        if started.elapsed() > bound || last_change.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    let wall = started.elapsed();
    // Let stragglers (duplicates, if any) land before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tally = virtuals.take();
    let runs = timed.runs.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let shards = runs.iter().filter(|(f, _)| f == "FanoutFunction").count();
    let longest = runs.iter().map(|(_, d)| *d).max().unwrap_or_default();
    let busy = runs.iter().map(|(_, d)| *d).sum();
    let throttled = running
        .management
        .throttled
        .load(std::sync::atomic::Ordering::Relaxed);
    running.shutdown().await;
    // Shards beyond wsfn-local's async concurrency wait in the queue.
    let running_at_once = 1 + shards.min(async_concurrency);
    let lanes = (running_at_once * opts.concurrency.max(1)) as u32;
    Ok(BigResult {
        subscribers: opts.subscribers,
        reached: tally.ids,
        posts: tally.posts,
        repeated: tally.repeated,
        wall,
        shards,
        longest,
        busy,
        ideal: latency * (opts.subscribers as u32) / lanes.max(1),
        throttled,
    })
}
