//! The sustained publish rate of one channel: many publishers, pipelined
//! publishes, every one acked with a gap-free seq. Measured twice: through
//! the gateway (one process, like one Lambda instance per invocation in
//! turn) and at the store with several independent store instances racing
//! on the stream head (like concurrent Lambda instances).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use wsfn::channel::ChannelName;
use wsfn::store::{Appended, HistoryLimits, NewMessage, Store};
use wsfn_local::Running;

use super::{fail, next_json, open, percentile, token, BenchError};

/// Result of a hot-channel run.
#[derive(Debug, Clone)]
pub struct HotResult {
    /// Concurrent publishers (connections, or store instances).
    pub publishers: usize,
    /// Publishes acknowledged.
    pub acked: usize,
    /// Publishes answered with an error (must be 0).
    pub errors: usize,
    /// Whether the acked seqs are exactly 1..=acked.
    pub gap_free: bool,
    /// First publish sent → last ack.
    pub elapsed: Duration,
    /// Median publish → ack.
    pub p50: Duration,
    /// 99th percentile publish → ack.
    pub p99: Duration,
}

impl HotResult {
    /// Acked publishes per second.
    pub fn per_second(&self) -> f64 {
        self.acked as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn summarize(
    publishers: usize,
    mut seqs: Vec<u64>,
    mut lat: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
) -> HotResult {
    seqs.sort_unstable();
    lat.sort_unstable();
    HotResult {
        publishers,
        acked: seqs.len(),
        errors,
        gap_free: seqs.iter().copied().eq(1..=seqs.len() as u64),
        elapsed,
        p50: percentile(&lat, 0.5),
        p99: percentile(&lat, 0.99),
    }
}

/// `publishers` WebSocket clients each send `each` publishes to one new
/// channel, `pipeline` in flight at a time, through the real gateway.
pub async fn through_gateway(
    running: &Running,
    publishers: usize,
    each: usize,
    pipeline: usize,
) -> Result<HotResult, BenchError> {
    let channel = format!("bench:hot-{:x}", rand::random::<u32>());
    let url = format!("ws://{}", running.addr);
    let mut sockets = Vec::with_capacity(publishers);
    for p in 0..publishers {
        sockets.push(open(&url, &token(&format!("hot{p}"), &[], &["bench:*"])).await?);
    }
    let started = Instant::now();
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| {
            let channel = channel.clone();
            tokio::spawn(async move {
                let mut sent_at = std::collections::HashMap::new();
                let (mut seqs, mut lat, mut errors) = (Vec::new(), Vec::new(), 0);
                let mut next = 0;
                while seqs.len() + errors < each {
                    while next < each && sent_at.len() < pipeline {
                        let id = format!("h{next}");
                        let frame =
                            json!({"action":"publish","channel":channel,"data":next,"id":id});
                        ws.send(Message::Text(frame.to_string().into()))
                            .await
                            .map_err(|e| fail("send", e))?;
                        sent_at.insert(id, Instant::now());
                        next += 1;
                    }
                    let v = next_json(&mut ws, Duration::from_secs(60)).await?;
                    let Some(at) = v["id"].as_str().and_then(|id| sent_at.remove(id)) else {
                        continue;
                    };
                    lat.push(at.elapsed());
                    match v["type"].as_str() {
                        Some("ack") => seqs.push(v["seq"].as_u64().unwrap_or_default()),
                        _ => {
                            if errors == 0 {
                                eprintln!("hot channel: publish failed: {v}");
                            }
                            errors += 1
                        }
                    }
                }
                Ok::<_, BenchError>((seqs, lat, errors))
            })
        })
        .collect();
    let (mut seqs, mut lat, mut errors) = (Vec::new(), Vec::new(), 0);
    for t in tasks {
        let (s, l, e) = t.await.map_err(|e| fail("publisher", e))??;
        seqs.extend(s);
        lat.extend(l);
        errors += e;
    }
    Ok(summarize(publishers, seqs, lat, errors, started.elapsed()))
}

/// `instances` independent stores (separate clients and per-process
/// state: separate Lambda instances), each appending `each` messages to one
/// channel with `pipeline` in flight.
pub async fn across_instances(
    instances: Vec<Arc<dyn Store>>,
    each: usize,
    pipeline: usize,
) -> Result<HotResult, BenchError> {
    let channel = ChannelName::parse(&format!("bench:race-{:x}", rand::random::<u32>()))
        .map_err(|e| fail("channel", e))?;
    let limits = HistoryLimits {
        ttl: Duration::from_secs(600),
        max: 1000,
    };
    let publishers = instances.len();
    let started = Instant::now();
    let tasks: Vec<_> = instances
        .into_iter()
        .map(|store| {
            let channel = channel.clone();
            tokio::spawn(async move {
                let gate = Arc::new(tokio::sync::Semaphore::new(pipeline.max(1)));
                let appends = (0..each).map(|i| {
                    let (store, channel, gate) = (store.clone(), channel.clone(), gate.clone());
                    async move {
                        let _permit = gate.acquire_owned().await;
                        let t = Instant::now();
                        let msg = NewMessage {
                            channel,
                            data: json!(i),
                            from: "bench".into(),
                            id: None,
                            ts: 0,
                            idempotency: None,
                        };
                        (store.append(msg, limits).await, t.elapsed())
                    }
                });
                futures::future::join_all(appends).await
            })
        })
        .collect();
    let (mut seqs, mut lat, mut errors) = (Vec::new(), Vec::new(), 0);
    for t in tasks {
        for (r, took) in t.await.map_err(|e| fail("instance", e))? {
            lat.push(took);
            match r {
                Ok(Appended::New(m)) => seqs.push(m.seq),
                _ => errors += 1,
            }
        }
    }
    Ok(summarize(publishers, seqs, lat, errors, started.elapsed()))
}
