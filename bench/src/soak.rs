//! The soak: wsfn-local (a process of its own, every function run as its
//! real binary through the Runtime API) on DynamoDB Local for a long while
//! under connect/subscribe/publish/disconnect churn, with long-lived
//! subscribers (wsfn-client) whose connections are dropped now and then and
//! who recover through their client. Every `sample` it records the RSS of
//! wsfn-local and of each function's processes and the table's item count;
//! at the end every acked message must have reached every long-lived
//! subscriber of its channel, nothing of any connection may be left, and the
//! unexpired items must be back to the baseline (the channels' stream heads).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use wsfn::aws_sdk_dynamodb as ddb;
use wsfn_client::{Client, Options as ClientOptions, TokenSource};

use crate::{fail, BenchError};

/// How long and how hard.
#[derive(Debug, Clone)]
pub struct SoakArgs {
    /// The wsfn-local binary (release).
    pub wsfn_local: PathBuf,
    /// DynamoDB Local.
    pub dynamodb_endpoint: String,
    /// Churn and traffic for this long.
    pub duration: Duration,
    /// RSS is compared from this point on.
    pub warmup: Duration,
    /// Time between samples.
    pub sample: Duration,
    /// Long-lived subscribers (spread over the channels).
    pub subscribers: usize,
    /// Channels.
    pub channels: usize,
    /// Publishes a second from the long-lived publisher.
    pub publish_rate: f64,
    /// Short-lived clients at a time (connect, subscribe, publish, close).
    pub churners: usize,
    /// One long-lived subscriber's connection is dropped this often.
    pub drop_every: Duration,
}

/// One sample.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Since the start.
    pub at: Duration,
    /// wsfn-local's resident set, KiB.
    pub gateway_kib: u64,
    /// Per function, the largest resident set of its processes, KiB.
    pub functions_kib: BTreeMap<String, u64>,
    /// Items in the table (expired ones included: DynamoDB Local keeps them).
    pub items: usize,
    /// Items whose TTL has not passed.
    pub live_items: usize,
    /// Publishes acked so far.
    pub acked: u64,
}

/// What the soak found.
#[derive(Debug, Clone)]
pub struct SoakReport {
    /// The samples, in order.
    pub samples: Vec<Sample>,
    /// Publishes acked.
    pub acked: u64,
    /// Acked messages some long-lived subscriber of the channel never got.
    pub lost: u64,
    /// Short-lived connections opened and closed.
    pub churned: u64,
    /// Long-lived connections dropped (and recovered).
    pub drops: u64,
    /// Unexpired items at the end, after the TTLs ran out.
    pub live_items_end: usize,
    /// Items of any connection at the end (everyone disconnected).
    pub connection_items_end: usize,
    /// The baseline: one stream head per channel.
    pub baseline: usize,
}

/// The table's item counts: all, unexpired, and owned by a connection.
async fn count_items(
    client: &ddb::Client,
    table: &str,
) -> Result<(usize, usize, usize), BenchError> {
    let now = wsfn::time::now_secs();
    let (mut all, mut live, mut owned, mut start) = (0, 0, 0, None);
    loop {
        let r = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| fail("scan", ddb::error::DisplayErrorContext(e)))?;
        for item in r.items() {
            all += 1;
            let ttl = item
                .get(wsfn::store::keys::TTL)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<u64>().ok());
            live += usize::from(ttl.is_none_or(|t| t > now));
            owned += usize::from(wsfn_local::inspect::belongs_to_a_connection(item));
        }
        match r.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return Ok((all, live, owned)),
        }
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Each function's largest process RSS: the children of wsfn-local, by binary.
fn functions_kib(gateway: u32) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    // Children are listed per thread that spawned them: read every thread's.
    let mut children = String::new();
    for task in std::fs::read_dir(format!("/proc/{gateway}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        children.push_str(&list);
        children.push(' ');
    }
    for pid in children
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
    {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        let name = exe.file_name().map(|n| n.to_string_lossy().into_owned());
        if let Some(name) = name {
            let e = out.entry(name).or_insert(0);
            *e = (*e).max(rss_kib(pid));
        }
    }
    out
}

/// Starts wsfn-local; returns the child, its pid and its `ws://` URL.
async fn start_gateway(
    args: &SoakArgs,
    table: &str,
) -> Result<(tokio::process::Child, u32, String), BenchError> {
    let mut child = tokio::process::Command::new(&args.wsfn_local)
        .args([
            "--port",
            "0",
            "--no-demo",
            "--quiet",
            "--invoker",
            "runtime-api",
        ])
        .args(["--dynamodb-endpoint", &args.dynamodb_endpoint])
        .env("TABLE_NAME", table)
        // Short history and idempotency windows: their items expire within
        // the soak's final wait, so what stays is the baseline.
        .env("HISTORY_TTL_SECONDS", "60")
        .env("IDEMPOTENCY_TTL_SECONDS", "60")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail("spawn wsfn-local", e))?;
    let pid = child.id().ok_or_else(|| fail("wsfn-local", "no pid"))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| fail("wsfn-local", "no stderr"))?;
    let mut lines = BufReader::new(stderr).lines();
    let url = tokio::time::timeout(Duration::from_secs(600), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(at) = line.find("ws://") {
                let url: String = line[at..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '\u{1b}')
                    .collect();
                return Some(url);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(|| fail("wsfn-local", "never printed its URL"))?;
    // Keep draining its stderr so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, pid, url))
}

fn client(url: &str, user: &str) -> Client {
    let mut o = ClientOptions::new(TokenSource::wsfn_local_dev(
        url,
        user,
        Duration::from_secs(7200),
    ));
    o.backoff_base = Duration::from_millis(100);
    o.backoff_cap = Duration::from_secs(2);
    Client::connect(url, o)
}

/// Runs the soak.
pub async fn soak(args: SoakArgs) -> Result<SoakReport, BenchError> {
    let table = format!("wsfn-soak-{:x}", rand::random::<u64>());
    let (mut child, pid, url) = start_gateway(&args, &table).await?;
    let sdk = wsfn::aws_config::defaults(wsfn::aws_config::BehaviorVersion::latest())
        .endpoint_url(&args.dynamodb_endpoint)
        .load()
        .await;
    let dynamo = ddb::Client::new(&sdk);
    let channels: Vec<String> = (0..args.channels)
        .map(|i| format!("room:soak{i}"))
        .collect();
    let received: Arc<Mutex<BTreeMap<usize, BTreeSet<u64>>>> = Arc::default();
    let mut readers = Vec::new();
    for i in 0..args.subscribers {
        let c = client(&url, &format!("reader{i}"));
        let mut sub = c
            .subscribe(&channels[i % channels.len()])
            .await
            .map_err(|e| fail("subscribe", e))?;
        let got = received.clone();
        tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                got.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(i)
                    .or_default()
                    .insert(m.seq);
            }
        });
        readers.push(c);
    }
    let acked: Arc<Mutex<BTreeMap<String, BTreeSet<u64>>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (churned, drops) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut work = Vec::new();
    // The long-lived publisher: round robin over the channels.
    {
        let (c, acked, stop, channels) = (
            client(&url, "writer"),
            acked.clone(),
            stop.clone(),
            channels.clone(),
        );
        let gap = Duration::from_secs_f64(1.0 / args.publish_rate.max(0.01));
        work.push(tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let ch = &channels[n % channels.len()];
                if let Ok(ack) = c.publish(ch, json!({"n": n})).await {
                    acked
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(ch.clone())
                        .or_default()
                        .insert(ack.seq);
                }
                n += 1;
                tokio::time::sleep(gap).await;
            }
            c.close();
        }));
    }
    // Churn: connect, subscribe, publish one message, close.
    for w in 0..args.churners {
        let (url, acked, stop, channels, churned) = (
            url.clone(),
            acked.clone(),
            stop.clone(),
            channels.clone(),
            churned.clone(),
        );
        work.push(tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let c = client(&url, &format!("churn{w}-{}", n % 50));
                let ch = &channels[(w + n) % channels.len()];
                if c.subscribe(ch).await.is_ok() {
                    if let Ok(ack) = c.publish(ch, json!({"churn": w, "n": n})).await {
                        acked
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .entry(ch.clone())
                            .or_default()
                            .insert(ack.seq);
                    }
                }
                c.close();
                churned.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut next_drop = started + args.drop_every;
    let mut next_sample = started;
    while started.elapsed() < args.duration {
        if Instant::now() >= next_drop {
            // What DELETE @connections does, without SigV4: the demo's endpoint.
            let r = &readers[rand::random_range(0..readers.len())];
            if let Some(id) = r.connection_id() {
                let base = url.replacen("ws://", "http://", 1);
                let _ = crate::http_delete(&format!("{base}/_wsfn/connections/{id}")).await;
                drops.fetch_add(1, Ordering::Relaxed);
            }
            next_drop += args.drop_every;
        }
        if Instant::now() >= next_sample {
            let (items, live_items, _) = count_items(&dynamo, &table).await?;
            let acked_n = acked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .map(BTreeSet::len)
                .sum::<usize>() as u64;
            samples.push(Sample {
                at: started.elapsed(),
                gateway_kib: rss_kib(pid),
                functions_kib: functions_kib(pid),
                items,
                live_items,
                acked: acked_n,
            });
            next_sample += args.sample;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in work {
        let _ = w.await;
    }
    // Every acked message reaches every long-lived subscriber of its channel.
    let acked = acked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let total: u64 = acked.values().map(|s| s.len() as u64).sum();
    let settle = Instant::now();
    let missing = |got: &BTreeMap<usize, BTreeSet<u64>>| -> u64 {
        (0..args.subscribers)
            .map(|i| {
                let want = acked
                    .get(&channels[i % channels.len()])
                    .cloned()
                    .unwrap_or_default();
                let have = got.get(&i).cloned().unwrap_or_default();
                want.difference(&have).count() as u64
            })
            .sum()
    };
    let mut lost = missing(&received.lock().unwrap_or_else(|p| p.into_inner()));
    while lost > 0 && settle.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        lost = missing(&received.lock().unwrap_or_else(|p| p.into_inner()));
    }
    for r in &readers {
        r.close();
    }
    // The TTLs of history and idempotency (60 s here) run out; what is
    // left alive is one stream head per channel.
    tokio::time::sleep(Duration::from_secs(75)).await;
    let (items, live_items_end, connection_items_end) = count_items(&dynamo, &table).await?;
    samples.push(Sample {
        at: started.elapsed(),
        gateway_kib: rss_kib(pid),
        functions_kib: functions_kib(pid),
        items,
        live_items: live_items_end,
        acked: total,
    });
    let _ = child.kill().await;
    Ok(SoakReport {
        samples,
        acked: total,
        lost,
        churned: churned.load(Ordering::Relaxed),
        drops: drops.load(Ordering::Relaxed),
        live_items_end,
        connection_items_end,
        baseline: args.channels,
    })
}
