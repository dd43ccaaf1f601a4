//! What a hook adds to a publish: sequential publishes (each waits for its
//! ack) through wsfn-local without a hook, then with a `publish` hook on a
//! loopback HTTP server that checks the signature and allows; p50/p99 of
//! the ack time, and what the hook added.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;
use wsfn_client::{Client, Options as ClientOptions, TokenSource};
use wsfn_local::Options;

use crate::{fail, gateway, BenchError};

/// The hook secret of the run.
const SECRET: &str = "bench-hook-secret-0123456789";

/// One configuration's ack times.
#[derive(Debug, Clone)]
pub struct HookRow {
    /// `none` or `HTTP (loopback)`.
    pub hook: &'static str,
    /// Publishes measured.
    pub n: usize,
    /// Median ack time, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Calls the hook server answered.
    pub hook_calls: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// A loopback hook server that verifies each signature and allows; its URL
/// and a counter of the calls it answered.
async fn hook_server() -> Result<(String, Arc<std::sync::atomic::AtomicUsize>), BenchError> {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = calls.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let counter = counter.clone();
            async move {
                let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
                let ts: u64 = header("x-wsfn-timestamp").parse().unwrap_or(0);
                if wsfn::hooks::signature(SECRET.as_bytes(), ts, &body)
                    != header("x-wsfn-signature")
                {
                    return (StatusCode::UNAUTHORIZED, String::new());
                }
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (StatusCode::OK, json!({"allow": true}).to_string())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| fail("hook server", e))?;
    let url = format!(
        "http://{}/hook",
        listener.local_addr().map_err(|e| fail("hook server", e))?
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, calls))
}

/// `n` sequential publishes on `room:bench`; their ack times, sorted.
async fn publish_times(mut opts: Options, n: usize) -> Result<Vec<Duration>, BenchError> {
    // The limiter is not what is measured: back-to-back publishes would
    // spend the default burst and wait for the client's backoff.
    opts.environment
        .insert("RATE_LIMIT_PER_SECOND".into(), "100000".into());
    let running = gateway(opts).await?;
    let url = running.ws_url();
    let token = TokenSource::wsfn_local_dev(&url, "bench", Duration::from_secs(3600));
    let client = Client::connect(url, ClientOptions::new(token));
    let mut times = Vec::with_capacity(n);
    // Warm-up: the first publish creates the stream and warms connections.
    for i in 0..n + 20 {
        let started = Instant::now();
        client
            .publish("room:bench", json!({"i": i}))
            .await
            .map_err(|e| fail("publish", e))?;
        if i >= 20 {
            times.push(started.elapsed());
        }
    }
    client.close();
    running.shutdown().await;
    times.sort();
    Ok(times)
}

/// Both configurations on `base` (embedded store or DynamoDB Local).
pub async fn hook_latency(base: &Options, n: usize) -> Result<Vec<HookRow>, BenchError> {
    let row = |hook, times: &[Duration], hook_calls| HookRow {
        hook,
        n: times.len(),
        p50_ms: percentile(times, 0.5),
        p99_ms: percentile(times, 0.99),
        hook_calls,
    };
    let plain = publish_times(base.clone(), n).await?;
    let (url, calls) = hook_server().await?;
    let mut hooked = base.clone();
    let hooks = json!({"publish": {"target": url, "channels": ["room:*"]}});
    hooked.environment.insert("HOOKS".into(), hooks.to_string());
    hooked
        .environment
        .insert("HOOK_SECRET".into(), SECRET.into());
    let with_hook = publish_times(hooked, n).await?;
    let answered = calls.load(std::sync::atomic::Ordering::Relaxed);
    if answered != n + 20 {
        return Err(BenchError(format!(
            "the hook answered {answered} of {} publishes",
            n + 20
        )));
    }
    Ok(vec![
        row("none", &plain, 0),
        row("HTTP, loopback", &with_hook, answered),
    ])
}
