//! Benchmarks on the real path: N live WebSocket subscribers on a running
//! wsfn-local, one publish through the real message handler, fan-out through
//! the real management API (optionally with injected latency and failures);
//! and connect/disconnect churn with a leftover check. Used by the
//! `wsfn-bench` binary (numbers) and by a smoke test (correctness only).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use wsfn_local::{start, Options, Running};

pub mod big;
mod churn;
mod delivery;
pub mod functions;
pub mod hooks;
pub mod hot;
pub mod pushcpu;
pub mod soak;
pub mod soak_cli;

pub use churn::{churn, leftovers, ChurnResult};
pub use delivery::{arrivals, fanout, open_subscribers, subscriber_process, FanoutResult};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A benchmark failure (setup, a socket, or a timeout), with context.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BenchError(pub String);

fn fail(what: &str, e: impl std::fmt::Display) -> BenchError {
    BenchError(format!("{what}: {e}"))
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Samples VmRSS every 5 ms until dropped; `peak()` is the highest seen.
struct RssSampler {
    peak: Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    fn start() -> Self {
        let peak = Arc::new(std::sync::atomic::AtomicU64::new(status_kib("VmRSS:")));
        let p = peak.clone();
        let task = tokio::spawn(async move {
            loop {
                p.fetch_max(status_kib("VmRSS:"), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        Self { peak, task }
    }

    fn peak(&self) -> u64 {
        self.peak.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn open(url: &str, token: &str) -> Result<Ws, BenchError> {
    let mut req = url.into_client_request().map_err(|e| fail("request", e))?;
    let auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| fail("header", e))?;
    req.headers_mut().insert("authorization", auth);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true)
        .await
        .map_err(|e| fail("connect", e))?;
    Ok(ws)
}

async fn next_json(ws: &mut Ws, within: Duration) -> Result<Value, BenchError> {
    loop {
        let m = tokio::time::timeout(within, ws.next())
            .await
            .map_err(|_| BenchError("timed out waiting for a frame".into()))?
            .ok_or_else(|| BenchError("socket closed".into()))?
            .map_err(|e| fail("socket", e))?;
        if let Message::Text(t) = m {
            return serde_json::from_str(&t).map_err(|e| fail("frame", e));
        }
    }
}

async fn expect(ws: &mut Ws, kind: &str) -> Result<Value, BenchError> {
    for _ in 0..20 {
        let v = next_json(ws, Duration::from_secs(30)).await?;
        if v["type"] == kind {
            return Ok(v);
        }
        if v["type"] == "error" {
            return Err(BenchError(format!("expected {kind}, got {v}")));
        }
    }
    Err(BenchError(format!("no {kind} frame")))
}

fn token(sub: &str, subscribe: &[&str], publish: &[&str]) -> String {
    wsfn::testkit::token(wsfn::testkit::DEV_SECRET, sub, subscribe, publish)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Starts a quiet gateway for a benchmark.
pub async fn gateway(mut opts: Options) -> Result<Running, BenchError> {
    opts.quiet = true;
    if opts.dynamodb_endpoint.is_some() {
        // A fresh table per gateway, so the leftover check sees only this run.
        opts.environment.insert(
            "TABLE_NAME".into(),
            format!("wsfn-bench-{:x}", rand::random::<u64>()),
        );
    }
    opts.listen = "127.0.0.1:0".parse().map_err(|e| fail("addr", e))?;
    start(opts).await.map_err(|e| fail("start", e))
}

/// Where the subscriber sockets live: in this process (small N, tests) or in
/// a child process (large N: one process holds at most ~20,000 sockets here).
#[derive(Debug, Clone)]
pub enum Clients {
    /// Tasks in this process.
    InProcess,
    /// A child running `<exe> subscribe-clients …` (the wsfn-bench binary).
    Process(std::path::PathBuf),
}

fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// One plain `DELETE` over HTTP/1.1 (wsfn-local's developer endpoints);
/// returns the status.
pub async fn http_delete(url: &str) -> Result<u16, BenchError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| fail("url", "not http://"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| fail("connect", e))?;
    let req = format!(
        "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| fail("write", e))?;
    let mut out = String::new();
    s.read_to_string(&mut out)
        .await
        .map_err(|e| fail("read", e))?;
    out.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| fail("http", "no status"))
}
