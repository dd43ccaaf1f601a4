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
    /// Ephemeral publishes (no seq: `gap_free` is vacuous).
    pub ephemeral: bool,
    /// Messages one subscriber of the channel received (gateway runs).
    pub delivered: Option<usize>,
    /// Whether the channel's stream is untouched afterwards (head at seq 0,
    /// no history): nothing was sequenced or stored (gateway runs).
    pub no_stream: Option<bool>,
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
        ephemeral: false,
        delivered: None,
        no_stream: None,
    }
}

/// Reads `subscriber`'s `message` frames until `n` arrived or 10 s passed
/// without one; how many arrived.
async fn drain(subscriber: &mut super::Ws, n: usize) -> usize {
    let mut got = 0;
    while got < n {
        match next_json(subscriber, Duration::from_secs(10)).await {
            Ok(v) if v["type"] == "message" => got += 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    got
}

/// Sends `frame` and waits for the reply with its `id`.
async fn ask(
    ws: &mut super::Ws,
    frame: serde_json::Value,
) -> Result<serde_json::Value, BenchError> {
    let id = frame["id"].clone();
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .map_err(|e| fail("send", e))?;
    loop {
        let v = next_json(ws, Duration::from_secs(30)).await?;
        if v["id"] == id {
            return Ok(v);
        }
    }
}

/// Whether `channel`'s stream is as the subscribe left it: head at seq 0
/// (a repeated `subscribe` says so) and no history — nothing sequenced or
/// stored.
async fn stream_untouched(ws: &mut super::Ws, channel: &str) -> Result<bool, BenchError> {
    let head = ask(
        ws,
        json!({"action": "subscribe", "channel": channel, "id": "head"}),
    )
    .await?;
    let history = ask(
        ws,
        json!({"action": "history", "channel": channel, "id": "hist"}),
    )
    .await?;
    Ok(head["type"] == "subscribed"
        && head["seq"] == 0
        && history["messages"].as_array().is_some_and(|m| m.is_empty()))
}

/// `publishers` WebSocket clients each send `each` publishes to one new
/// channel, `pipeline` in flight at a time, through the real gateway; one
/// more client subscribes and counts what it receives. `ephemeral` sends
/// ephemeral publishes (the channel must match `EPHEMERAL_CHANNELS`).
pub async fn through_gateway(
    running: &Running,
    publishers: usize,
    each: usize,
    pipeline: usize,
    ephemeral: bool,
) -> Result<HotResult, BenchError> {
    let channel = format!("bench:hot-{:x}", rand::random::<u32>());
    let url = format!("ws://{}", running.addr);
    let mut subscriber = open(&url, &token("hotsub", &["bench:*"], &[])).await?;
    ask(
        &mut subscriber,
        json!({"action": "subscribe", "channel": channel, "id": "s"}),
    )
    .await?;
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
                        let mut frame =
                            json!({"action":"publish","channel":channel,"data":next,"id":id});
                        if ephemeral {
                            frame["ephemeral"] = json!(true);
                        }
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
                        // An ephemeral ack has no seq: number them.
                        Some("ack") if ephemeral => seqs.push(seqs.len() as u64 + 1),
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
    let elapsed = started.elapsed();
    let mut r = summarize(publishers, seqs, lat, errors, elapsed);
    r.ephemeral = ephemeral;
    r.delivered = Some(drain(&mut subscriber, r.acked).await);
    r.no_stream = Some(stream_untouched(&mut subscriber, &channel).await?);
    Ok(r)
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
