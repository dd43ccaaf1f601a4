//! Benchmarks on the real path: N live WebSocket subscribers on a running
//! wsfn-local, one publish through the real message handler, fan-out through
//! the real management API (optionally with injected latency and failures);
//! and connect/disconnect churn with a leftover check. Used by the
//! `wsfn-bench` binary (numbers) and by a smoke test (correctness only).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use wsfn_local::{start, Options, Running};

pub mod big;
pub mod functions;
pub mod hooks;
pub mod hot;
pub mod pushcpu;
pub mod soak;
pub mod soak_cli;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A benchmark failure (setup, a socket, or a timeout), with context.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BenchError(pub String);

fn fail(what: &str, e: impl std::fmt::Display) -> BenchError {
    BenchError(format!("{what}: {e}"))
}

/// Result of one fan-out run.
#[derive(Debug, Clone)]
pub struct FanoutResult {
    /// Subscribers.
    pub subscribers: usize,
    /// Messages received by subscribers.
    pub delivered: usize,
    /// Publish sent → last delivery.
    pub last_delivery: Duration,
    /// Median delivery latency.
    pub p50: Duration,
    /// 99th percentile delivery latency.
    pub p99: Duration,
    /// Deliveries per second over the run.
    pub per_second: f64,
    /// N × latency ÷ concurrency.
    pub ideal: Duration,
    /// Highest resident memory of the bench process (gateway and functions;
    /// clients too when they run in process) sampled during the publish, KiB.
    pub peak_rss_kib: u64,
    /// That peak minus the resident memory just before the publish, KiB.
    pub publish_rss_growth_kib: u64,
    /// One paged read of all the channel's subscribers (the Queries fan-out
    /// makes), timed on its own just before the publish.
    pub subscriber_read: Duration,
}

/// Result of a churn run.
#[derive(Debug, Clone)]
pub struct ChurnResult {
    /// Connections opened and closed.
    pub connections: usize,
    /// `$connect` + `$disconnect` pairs per second.
    pub per_second: f64,
    /// Items or entries left in the store afterwards (should be 0).
    pub leftovers: usize,
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

/// Opens `n` subscribers of `channel` (200 handshakes at a time).
pub async fn open_subscribers(url: &str, channel: &str, n: usize) -> Result<Vec<Ws>, BenchError> {
    let gate = Arc::new(Semaphore::new(200));
    let mut joins = Vec::with_capacity(n);
    for i in 0..n {
        let (url, channel, gate) = (url.to_string(), channel.to_string(), gate.clone());
        joins.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.map_err(|e| fail("gate", e))?;
            let mut ws = open(&url, &token(&format!("s{i}"), &["bench:*"], &[])).await?;
            ws.send(Message::Text(
                json!({"action":"subscribe","channel":channel})
                    .to_string()
                    .into(),
            ))
            .await
            .map_err(|e| fail("send", e))?;
            expect(&mut ws, "subscribed").await?;
            Ok::<Ws, BenchError>(ws)
        }));
    }
    let mut sockets = Vec::with_capacity(n);
    for j in joins {
        sockets.push(j.await.map_err(|e| fail("join", e))??);
    }
    Ok(sockets)
}

/// Waits (until `deadline`) for one `message` on every socket; returns the
/// arrival times in unix µs of those that got it. Sockets stay open until
/// every one has its message (or the deadline passed), so `$disconnect`s do
/// not compete with the fan-out being measured.
pub async fn arrivals(sockets: Vec<Ws>, deadline: tokio::time::Instant) -> Vec<u64> {
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let got = tokio::time::timeout_at(deadline, expect(&mut ws, "message"))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .map(|_| unix_micros());
                (got, ws)
            })
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    let mut sockets = Vec::with_capacity(tasks.len());
    for t in tasks {
        if let Ok((got, ws)) = t.await {
            out.extend(got);
            sockets.push(ws);
        }
    }
    let closing: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
            })
        })
        .collect();
    for c in closing {
        let _ = c.await;
    }
    out
}

/// The child side of [`Clients::Process`]: prints `ready`, then one arrival
/// time per line, then `done`.
pub async fn subscriber_process(
    url: &str,
    channel: &str,
    n: usize,
    wait: Duration,
) -> Result<(), BenchError> {
    let sockets = open_subscribers(url, channel, n).await?;
    println!("ready");
    let times = arrivals(sockets, tokio::time::Instant::now() + wait).await;
    let mut out = String::new();
    for t in times {
        out.push_str(&format!("{t}\n"));
    }
    out.push_str("done\n");
    print!("{out}");
    Ok(())
}

/// One publish to `n` live subscribers; `concurrency` is FANOUT_CONCURRENCY.
pub async fn fanout(
    running: &Running,
    clients: &Clients,
    n: usize,
    latency: Duration,
    concurrency: usize,
) -> Result<FanoutResult, BenchError> {
    use tokio::io::AsyncBufReadExt;
    let url = running.ws_url();
    let channel = format!("bench:{:x}", rand::random::<u32>());
    let wait = Duration::from_secs(60) + latency * (n as u32) / (concurrency.max(1) as u32) * 3;
    // Subscribers: open them, then wait for the one message.
    let (arrived, mut child) = match clients {
        Clients::InProcess => {
            let sockets = open_subscribers(&url, &channel, n).await?;
            let deadline = tokio::time::Instant::now() + wait;
            (Some(tokio::spawn(arrivals(sockets, deadline))), None)
        }
        Clients::Process(exe) => {
            let mut c = tokio::process::Command::new(exe)
                .args(["subscribe-clients", "--url", &url, "--channel", &channel])
                .args([
                    "--n",
                    &n.to_string(),
                    "--wait-secs",
                    &wait.as_secs().to_string(),
                ])
                .stdout(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| fail("spawn subscriber process", e))?;
            let stdout = c
                .stdout
                .take()
                .ok_or_else(|| BenchError("no child stdout".into()))?;
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            let first = tokio::time::timeout(Duration::from_secs(600), lines.next_line())
                .await
                .map_err(|_| BenchError("subscribers not ready in 600 s".into()))?
                .map_err(|e| fail("child", e))?;
            if first.as_deref() != Some("ready") {
                return Err(BenchError(format!("subscriber process said {first:?}")));
            }
            (None, Some((c, lines)))
        }
    };
    let subscriber_read = time_subscriber_read(running, &channel).await?;
    let mut publisher = open(&url, &token("publisher", &[], &["bench:*"])).await?;
    let rss_before = status_kib("VmRSS:");
    let sampler = RssSampler::start();
    let t0 = unix_micros();
    publisher
        .send(Message::Text(
            json!({"action":"publish","channel":channel,"data":{"bench":true},"id":channel})
                .to_string()
                .into(),
        ))
        .await
        .map_err(|e| fail("publish", e))?;
    let times = match (arrived, child.as_mut()) {
        (Some(task), _) => task.await.map_err(|e| fail("join", e))?,
        (None, Some((_, lines))) => {
            let mut times = Vec::with_capacity(n);
            while let Some(line) =
                tokio::time::timeout(wait + Duration::from_secs(10), lines.next_line())
                    .await
                    .map_err(|_| BenchError("subscriber process hung".into()))?
                    .map_err(|e| fail("child", e))?
            {
                if line == "done" {
                    break;
                }
                times.push(line.parse::<u64>().map_err(|e| fail("child output", e))?);
            }
            times
        }
        (None, None) => Vec::new(),
    };
    if let Some((mut c, _)) = child {
        let _ = c.wait().await;
    }
    let peak = sampler.peak();
    drop(sampler);
    let _ = publisher.close(None).await;
    let mut latencies: Vec<Duration> = times
        .iter()
        .map(|&t| Duration::from_micros(t.saturating_sub(t0)))
        .collect();
    latencies.sort();
    let last = latencies.last().copied().unwrap_or_default();
    Ok(FanoutResult {
        subscribers: n,
        delivered: latencies.len(),
        last_delivery: last,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        per_second: latencies.len() as f64 / last.as_secs_f64().max(1e-9),
        ideal: latency * (n as u32) / (concurrency.max(1) as u32),
        peak_rss_kib: peak,
        publish_rss_growth_kib: peak.saturating_sub(rss_before),
        subscriber_read,
    })
}

/// Times reading every subscriber of `channel` page by page, as fan-out does.
async fn time_subscriber_read(running: &Running, channel: &str) -> Result<Duration, BenchError> {
    let channel = wsfn::channel::ChannelName::parse(channel).map_err(|e| fail("channel", e))?;
    let started = Instant::now();
    let mut cursor = None;
    loop {
        let page = running
            .store
            .subscribers(
                &channel,
                cursor,
                wsfn::fanout::FanoutOptions::default().page_size,
            )
            .await
            .map_err(|e| fail("subscribers", e))?;
        match page.next {
            Some(n) => cursor = Some(n),
            None => return Ok(started.elapsed()),
        }
    }
}

/// Opens and closes `n` connections (`parallel` at a time) and checks that
/// nothing of them is left in the store.
pub async fn churn(
    running: &Running,
    n: usize,
    parallel: usize,
) -> Result<ChurnResult, BenchError> {
    let url = running.ws_url();
    let gate = Arc::new(Semaphore::new(parallel.max(1)));
    let started = Instant::now();
    let mut joins = Vec::with_capacity(n);
    for i in 0..n {
        let (url, gate) = (url.clone(), gate.clone());
        joins.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.map_err(|e| fail("gate", e))?;
            let mut ws = open(&url, &token(&format!("churn{i}"), &[], &[])).await?;
            ws.close(None).await.map_err(|e| fail("close", e))?;
            // Drain until the gateway confirms the close.
            while let Some(Ok(_)) = ws.next().await {}
            Ok::<(), BenchError>(())
        }));
    }
    for j in joins {
        j.await.map_err(|e| fail("join", e))??;
    }
    // Every $disconnect has finished once the gateway has no session left
    // (a socket leaves the connection map before its $disconnect runs).
    let settle = Instant::now();
    while running.gateway.sessions() > 0 && settle.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    Ok(ChurnResult {
        connections: n,
        per_second: n as f64 / elapsed.as_secs_f64().max(1e-9),
        leftovers: leftovers(running).await?,
    })
}

/// Store entries that belong to connections (0 when cleanup is complete).
pub async fn leftovers(running: &Running) -> Result<usize, BenchError> {
    running
        .connection_items()
        .await
        .map_err(|e| fail("scan", e))
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
