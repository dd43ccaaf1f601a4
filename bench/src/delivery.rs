//! The fan-out benchmark: N live subscribers, one publish, every arrival timed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::SinkExt;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use wsfn_local::Running;

use crate::*;

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
