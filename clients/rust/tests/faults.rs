//! DynamoDB failing a share of calls (`--fail-dynamodb`: throttling,
//! capacity errors, 500s before and after the write took effect), in process
//! and through the real binaries: every publish frame gets its reply (an ack,
//! or a retryable error) within the function's timeout; acked seqs are
//! gap-free with one per id; every subscriber converges to the full stream
//! through its client; nothing of any connection is left after everyone
//! disconnects; a sharded fan-out still reaches everyone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message as Ws;
use wsfn_client::{Client, Options, Subscription, TokenSource};
use wsfn_local::dynamo_faults::DynamoFaults;
use wsfn_local::{start, Options as LocalOptions, Running};

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
/// A reply later than the function's timeout (29 s) is no reply.
const REPLY_BOUND: Duration = Duration::from_secs(31);

fn faulty(runtime_api: bool, shard_size: Option<&str>, faults: &str) -> LocalOptions {
    let mut o = LocalOptions::new(TEMPLATE);
    o.listen = "127.0.0.1:0".parse().unwrap();
    o.quiet = true;
    o.dynamodb_endpoint = Some(
        std::env::var("WSFN_TEST_DYNAMODB_ENDPOINT")
            .expect("WSFN_TEST_DYNAMODB_ENDPOINT is not set: run the tests with scripts/test.sh"),
    );
    o.environment.insert(
        "TABLE_NAME".into(),
        format!("wsfn-faults-{:x}", rand::random::<u64>()),
    );
    o.dynamodb_faults = DynamoFaults::parse(faults).unwrap();
    if let Some(size) = shard_size {
        o.parameters.insert("FanoutShardSize".into(), size.into());
    }
    if runtime_api {
        o.runtime_api = Some(wsfn_local::RuntimeApiOptions {
            binaries: wsfn_local::runtime_api::default_binaries(),
            max_instances: 8,
            cpu_share: false,
            timeout: None,
        });
    }
    o
}

fn client(running: &Running, user: &str) -> Client {
    let url = running.ws_url();
    let mut o = Options::new(TokenSource::wsfn_local_dev(
        &url,
        user,
        Duration::from_secs(3600),
    ));
    o.gap_wait = Duration::from_millis(300);
    o.backoff_base = Duration::from_millis(100);
    o.backoff_cap = Duration::from_millis(500);
    o.ping_interval = Duration::from_secs(2);
    Client::connect(url, o)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn socket(running: &Running, user: &str) -> Socket {
    let token = wsfn::testkit::token(wsfn::testkit::DEV_SECRET, user, &[], &["room:*"]);
    let mut req = running.ws_url().into_client_request().unwrap();
    req.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    // The handshake itself meets the faults: retried as a client would.
    for _ in 0..20 {
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(req.clone()).await {
            return ws;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{user} could not connect");
}

/// Publishes `n` messages with ids from one raw socket, one at a time:
/// each frame must get its reply (by id) within the bound; a retryable
/// error is sent again with the same id, as the clients do. Returns id →
/// the seq its ack named (every ack of it), and how many retryable errors
/// came back.
async fn publish(mut ws: Socket, user: &str, n: usize) -> (BTreeMap<String, BTreeSet<u64>>, usize) {
    let mut acked: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let mut errors = 0;
    for i in 0..n {
        let id = format!("{user}-{i}");
        let frame = json!({"action":"publish","id":id,"channel":"room:f","data":{"by":user,"i":i}});
        for attempt in 0.. {
            assert!(attempt < 30, "{id}: no ack after 30 attempts");
            ws.send(Ws::text(frame.to_string())).await.unwrap();
            let sent = Instant::now();
            let reply = loop {
                let left = REPLY_BOUND.saturating_sub(sent.elapsed());
                let msg = tokio::time::timeout(left, ws.next())
                    .await
                    .unwrap_or_else(|_| panic!("{id}: no reply within {REPLY_BOUND:?}"))
                    .expect("socket open")
                    .expect("frame");
                let Ws::Text(t) = msg else { continue };
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                assert_ne!(
                    v["message"], "Internal server error",
                    "{id}: the function failed: {v}"
                );
                if v["id"] == id.as_str() {
                    break v;
                }
            };
            match reply["type"].as_str() {
                Some("ack") => {
                    acked
                        .entry(id.clone())
                        .or_default()
                        .insert(reply["seq"].as_u64().unwrap());
                    break;
                }
                Some("error") => {
                    let code = reply["code"].as_str().unwrap_or_default();
                    assert!(
                        ["internal", "rate_limited", "unavailable"].contains(&code),
                        "{id}: not retryable: {reply}"
                    );
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(50 * (attempt + 1))).await;
                }
                other => panic!("{id}: {other:?}: {reply}"),
            }
        }
    }
    let _ = ws.close(None).await;
    (acked, errors)
}

async fn take(sub: &mut Subscription, n: u64) -> Vec<u64> {
    let mut seqs = Vec::new();
    while (seqs.len() as u64) < n {
        match tokio::time::timeout(Duration::from_secs(60), sub.next()).await {
            Ok(Some(m)) => seqs.push(m.seq),
            _ => panic!("got only {} of {n}: {seqs:?}", seqs.len()),
        }
    }
    seqs
}

/// Returns how many publishes were answered with a retryable error.
async fn under_faults(
    o: LocalOptions,
    subscribers: usize,
    publishers: usize,
    each: usize,
) -> usize {
    let running = start(o).await.unwrap();
    let readers: Vec<Client> = (0..subscribers)
        .map(|i| client(&running, &format!("reader{i}")))
        .collect();
    let mut subs = Vec::new();
    for r in &readers {
        let mut sub = None;
        for _ in 0..20 {
            match r.subscribe("room:f").await {
                Ok(s) => {
                    sub = Some(s);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        subs.push(sub.expect("subscribed despite the faults"));
    }
    let mut tasks = Vec::new();
    for p in 0..publishers {
        let user = format!("writer{p}");
        let ws = socket(&running, &user).await;
        tasks.push(tokio::spawn(async move { publish(ws, &user, each).await }));
    }
    let (mut acked, mut errors) = (BTreeMap::new(), 0);
    for t in tasks {
        let (a, e) = t.await.unwrap();
        acked.extend(a);
        errors += e;
    }
    let total = (publishers * each) as u64;
    // One seq per id (a retried id is acked with its original seq)...
    for (id, seqs) in &acked {
        assert_eq!(seqs.len(), 1, "{id} acked with {seqs:?}");
    }
    // ...and the seqs gap-free.
    let seqs: BTreeSet<u64> = acked.values().flatten().copied().collect();
    assert_eq!(seqs, (1..=total).collect::<BTreeSet<_>>());
    for sub in &mut subs {
        assert_eq!(take(sub, total).await, (1..=total).collect::<Vec<_>>());
    }
    for r in &readers {
        r.close();
    }
    // Every $disconnect has run: nothing of any connection is left.
    let settle = Instant::now();
    while running.gateway.sessions() > 0 && settle.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(running.gateway.sessions(), 0);
    let left = running.connection_item_keys().await.unwrap();
    assert!(left.is_empty(), "items left behind: {left:?}");
    let injected = running.dynamo_faults.as_ref().unwrap().counts.injected();
    assert!(injected > 0, "no fault was injected");
    running.shutdown().await;
    errors
}

/// One in ten DynamoDB calls fails, evenly over the four kinds.
const TENTH: &str = "0.1";

#[tokio::test]
async fn faults_in_process_dynamodb_local() {
    under_faults(faulty(false, None, TENTH), 3, 4, 12).await;
}

#[tokio::test]
async fn faults_through_the_runtime_api_dynamodb_local() {
    under_faults(faulty(true, None, TENTH), 2, 3, 8).await;
}

/// Three calls in ten failing and one in five slow: the SDK's retries (and
/// its retry quota) let some faults through to the handlers, which answer
/// them; the clients' retries still get every message stored once.
#[tokio::test]
async fn heavy_faults_and_latency_dynamodb_local() {
    let heavy = "throttle=0.075,capacity=0.075,before=0.075,after=0.075,latency=150@0.2";
    let errors = under_faults(faulty(false, None, heavy), 2, 3, 10).await;
    eprintln!("{errors} publishes answered with a retryable error");
}

/// A channel split among fan-out shards while DynamoDB fails: every
/// subscriber still gets every message once, in order.
#[tokio::test]
async fn faults_with_sharded_fanout_dynamodb_local() {
    under_faults(faulty(false, Some("10"), TENTH), 24, 2, 6).await;
}
