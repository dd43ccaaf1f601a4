//! wsfn-client against wsfn-local (embedded store and DynamoDB Local): the
//! browser suite's scenarios, from Rust.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use wsfn_client::{Client, Event, Options, State, Subscription, TokenSource};
use wsfn_local::{start, Options as LocalOptions, Running};

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");

fn embedded() -> LocalOptions {
    let mut o = LocalOptions::new(TEMPLATE);
    o.listen = "127.0.0.1:0".parse().unwrap();
    o.quiet = true;
    o
}

fn dynamodb() -> LocalOptions {
    let mut o = embedded();
    o.dynamodb_endpoint = Some(
        std::env::var("WSFN_TEST_DYNAMODB_ENDPOINT")
            .expect("WSFN_TEST_DYNAMODB_ENDPOINT is not set: run the tests with scripts/test.sh"),
    );
    o.environment.insert(
        "TABLE_NAME".into(),
        format!("wsfn-client-{:x}", rand::random::<u64>()),
    );
    if std::env::var("WSFN_TEST_INVOKER").as_deref() == Ok("runtime-api") {
        o.runtime_api = Some(wsfn_local::RuntimeApiOptions {
            binaries: wsfn_local::runtime_api::default_binaries(),
            max_instances: 8,
            cpu_share: false,
            timeout: None,
        });
    }
    o
}

fn fast(token: TokenSource) -> Options {
    let mut o = Options::new(token);
    o.ping_interval = Duration::from_millis(500);
    o.pong_timeout = Duration::from_secs(3);
    o.gap_wait = Duration::from_millis(300);
    o.backoff_base = Duration::from_millis(100);
    o.backoff_cap = Duration::from_millis(500);
    o
}

fn client(running: &Running, user: &str) -> Client {
    let url = running.ws_url();
    let token = TokenSource::wsfn_local_dev(&url, user, Duration::from_secs(3600));
    Client::connect(url, fast(token))
}

/// Reads `n` messages (bounded) and returns their seqs.
async fn take(sub: &mut Subscription, n: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.len() < n {
        match tokio::time::timeout(Duration::from_secs(20), sub.next()).await {
            Ok(Some(m)) => seqs.push(m.seq),
            _ => panic!("got only {seqs:?} of {n}"),
        }
    }
    seqs
}

/// Nothing more arrives within a second (no duplicates).
async fn quiet(sub: &mut Subscription) {
    let more = tokio::time::timeout(Duration::from_secs(1), sub.next()).await;
    assert!(more.is_err(), "unexpected extra message: {more:?}");
}

fn drop_connection(running: &Running, client: &Client) {
    let id = client.connection_id().expect("connected");
    let handle = running.gateway.connections.get(&id).expect("open socket");
    // What DELETE @connections/{id} does.
    assert!(handle.close(1000, "Connection Closed Normally"));
}

async fn publish_many(c: &Client, n: usize, gap: Duration) {
    for i in 0..n {
        c.publish("room:a", json!({"i": i})).await.unwrap();
        tokio::time::sleep(gap).await;
    }
}

async fn dropped_mid_stream(o: LocalOptions) {
    let running = start(o).await.unwrap();
    let (reader, writer) = (client(&running, "reader"), client(&running, "writer"));
    let mut events = reader.events();
    let mut sub = reader.subscribe("room:a").await.unwrap();
    let first = reader.connection_id();
    let publishing = tokio::spawn({
        let w = writer.clone();
        async move { publish_many(&w, 30, Duration::from_millis(30)).await }
    });
    assert_eq!(take(&mut sub, 10).await, (1..=10).collect::<Vec<_>>());
    drop_connection(&running, &reader);
    publishing.await.unwrap();
    assert_eq!(take(&mut sub, 20).await, (11..=30).collect::<Vec<_>>());
    quiet(&mut sub).await;
    assert_ne!(reader.connection_id(), first, "a new connection");
    let mut saw_drop = false;
    let mut report = None;
    while let Ok(e) = events.try_recv() {
        match e {
            Event::State(State::Disconnected) => saw_drop = true,
            Event::Recovered { .. } => report = Some(e),
            _ => {}
        }
    }
    assert!(saw_drop);
    assert_eq!(
        report,
        Some(Event::Recovered {
            channel: "room:a".into(),
            recovered: true,
            lost: vec![],
            epoch_changed: false
        })
    );
    running.shutdown().await;
}

#[tokio::test]
async fn dropped_mid_stream_embedded() {
    dropped_mid_stream(embedded()).await;
}

#[tokio::test]
async fn dropped_mid_stream_dynamodb_local() {
    dropped_mid_stream(dynamodb()).await;
}

async fn publish_while_disconnected(o: LocalOptions) {
    let running = start(o).await.unwrap();
    let (sender, other) = (client(&running, "sender"), client(&running, "other"));
    let mut sub = other.subscribe("room:a").await.unwrap();
    assert!(
        sender
            .wait_for(State::Connected, Duration::from_secs(10))
            .await
    );
    let mut states = sender.events();
    drop_connection(&running, &sender);
    loop {
        match tokio::time::timeout(Duration::from_secs(5), states.recv()).await {
            Ok(Ok(Event::State(State::Disconnected))) => break,
            Ok(Ok(_)) => {}
            e => panic!("no disconnect seen: {e:?}"),
        }
    }
    let ack = sender
        .publish("room:a", json!("sent while offline"))
        .await
        .unwrap();
    assert_eq!((ack.seq, ack.duplicate), (1, false));
    assert_eq!(take(&mut sub, 1).await, vec![1]);
    quiet(&mut sub).await;
    let page = other.history("room:a", None, None).await.unwrap();
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].data, json!("sent while offline"));
    running.shutdown().await;
}

#[tokio::test]
async fn publish_while_disconnected_embedded() {
    publish_while_disconnected(embedded()).await;
}

#[tokio::test]
async fn publish_while_disconnected_dynamodb_local() {
    publish_while_disconnected(dynamodb()).await;
}

async fn token_refreshed_in_band(mut o: LocalOptions) {
    // No leeway: a token past `exp` is refused at once.
    o.environment
        .insert("JWT_LEEWAY_SECONDS".into(), "0".into());
    let running = start(o).await.unwrap();
    let url = running.ws_url();
    let token = TokenSource::wsfn_local_dev(&url, "refresher", Duration::from_secs(3));
    let mut opts = fast(token);
    opts.refresh_lead = Duration::from_secs(1);
    let c = Client::connect(url, opts);
    let mut events = c.events();
    let mut sub = c.subscribe("room:a").await.unwrap();
    let id = c.connection_id();
    tokio::time::sleep(Duration::from_secs(7)).await;
    let ack = c.publish("room:a", json!("still here")).await.unwrap();
    assert_eq!(ack.seq, 1);
    assert_eq!(take(&mut sub, 1).await, vec![1]);
    assert_eq!(c.connection_id(), id, "the same connection");
    while let Ok(e) = events.try_recv() {
        assert!(
            !matches!(e, Event::State(State::Disconnected) | Event::Error(_)),
            "{e:?}"
        );
    }
    running.shutdown().await;
}

#[tokio::test]
async fn token_refreshed_in_band_embedded() {
    token_refreshed_in_band(embedded()).await;
}

#[tokio::test]
async fn token_refreshed_in_band_dynamodb_local() {
    token_refreshed_in_band(dynamodb()).await;
}

async fn max_duration_crossed(mut o: LocalOptions) {
    o.max_duration = Duration::from_secs(2);
    let running = start(o).await.unwrap();
    let (reader, writer) = (client(&running, "reader"), client(&running, "writer"));
    let mut sub = reader.subscribe("room:a").await.unwrap();
    let first = reader.connection_id();
    publish_many(&writer, 60, Duration::from_millis(50)).await;
    assert_eq!(take(&mut sub, 60).await, (1..=60).collect::<Vec<_>>());
    quiet(&mut sub).await;
    assert_ne!(reader.connection_id(), first, "reconnected at the cap");
    running.shutdown().await;
}

#[tokio::test]
async fn max_duration_crossed_embedded() {
    max_duration_crossed(embedded()).await;
}

#[tokio::test]
async fn max_duration_crossed_dynamodb_local() {
    max_duration_crossed(dynamodb()).await;
}

async fn lossy_deliveries(mut o: LocalOptions) {
    o.faults.drop_messages = 0.2;
    let running = start(o).await.unwrap();
    let clients: Vec<Client> = ["p1", "p2", "p3"]
        .iter()
        .map(|u| client(&running, u))
        .collect();
    let mut subs = Vec::new();
    for c in &clients {
        subs.push(c.subscribe("room:a").await.unwrap());
    }
    let publishers: Vec<_> = clients[..2]
        .iter()
        .map(|c| {
            let c = c.clone();
            tokio::spawn(async move { publish_many(&c, 20, Duration::from_millis(20)).await })
        })
        .collect();
    for p in publishers {
        p.await.unwrap();
    }
    for sub in &mut subs {
        assert_eq!(take(sub, 40).await, (1..=40).collect::<Vec<_>>());
    }
    let dropped = running
        .management
        .dropped
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(dropped >= 8, "deliveries were dropped: {dropped}");
    for c in &clients {
        assert_eq!(c.state(), State::Connected);
    }
    running.shutdown().await;
}

#[tokio::test]
async fn lossy_deliveries_embedded() {
    lossy_deliveries(embedded()).await;
}

#[tokio::test]
async fn lossy_deliveries_dynamodb_local() {
    lossy_deliveries(dynamodb()).await;
}

/// Idle connections ping the gateway's MOCK route: every pong comes without
/// any function invocation.
async fn idle_heartbeat(o: LocalOptions) {
    let running = start(o).await.unwrap();
    let url = running.ws_url();
    let mut opts = fast(TokenSource::wsfn_local_dev(
        &url,
        "idle",
        Duration::from_secs(3600),
    ));
    opts.ping_interval = Duration::from_millis(200);
    opts.pong_timeout = Duration::from_secs(1);
    let c = Client::connect(url, opts);
    assert!(c.wait_for(State::Connected, Duration::from_secs(10)).await);
    let first = c.connection_id().expect("the pong named the connection");
    // Ten idle intervals: each ping answered, the socket kept.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(c.state(), State::Connected);
    assert_eq!(c.connection_id().as_deref(), Some(first.as_str()));
    let counts = running.gateway.invocations();
    assert_eq!(counts["ConnectFunction"], 1);
    assert_eq!(counts["MessageFunction"], 0, "no ping reached a function");
    c.history("room:idle", None, None).await.unwrap();
    assert_eq!(running.gateway.invocations()["MessageFunction"], 1);
    c.close();
    // `wake` (the network is back) cuts a long reconnect backoff short.
    let url = running.ws_url();
    let mut opts = fast(TokenSource::wsfn_local_dev(
        &url,
        "sleepy",
        Duration::from_secs(3600),
    ));
    opts.backoff_base = Duration::from_secs(60);
    opts.backoff_cap = Duration::from_secs(60);
    let c = Client::connect(url, opts);
    assert!(c.wait_for(State::Connected, Duration::from_secs(10)).await);
    drop_connection(&running, &c);
    assert!(
        c.wait_for(State::Disconnected, Duration::from_secs(5))
            .await
    );
    c.wake();
    assert!(
        c.wait_for(State::Connected, Duration::from_secs(5)).await,
        "reconnected at once"
    );
    c.close();
    running.shutdown().await;
}

#[tokio::test]
async fn idle_heartbeat_embedded() {
    idle_heartbeat(embedded()).await;
}

#[tokio::test]
async fn idle_heartbeat_dynamodb_local() {
    idle_heartbeat(dynamodb()).await;
}

/// The next event matching `pick` (bounded).
async fn event<T>(
    rx: &mut tokio::sync::broadcast::Receiver<Event>,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> T {
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let e = tokio::time::timeout_at(until, rx.recv())
            .await
            .expect("the event within 10 s")
            .expect("events open");
        if let Some(t) = pick(e) {
            return t;
        }
    }
}

async fn server(running: &Running, request: serde_json::Value) -> serde_json::Value {
    running
        .gateway
        .invoker
        .invoke_json("PublishFunction", request)
        .await
        .expect("PublishFunction")
}

/// join/leave events, ephemeral publishes and `echo: false`, and the
/// backend's `disconnect`: final (closed) or, for a revoke, a reconnect.
async fn the_backend_runs_the_room(mut o: LocalOptions) {
    o.parameters
        .insert("PresenceEvents".into(), "room:p*".into());
    o.parameters
        .insert("EphemeralChannels".into(), "room:t*".into());
    let running = start(o).await.unwrap();
    let ann = client(&running, "ann");
    let bob = client(&running, "bob");
    let mut ann_events = ann.events();
    let mut bob_events = bob.events();
    let _ann_p = ann.subscribe("room:p1").await.unwrap();
    let _bob_p = bob.subscribe("room:p1").await.unwrap();
    let (channel, user) = event(&mut ann_events, |e| match e {
        Event::Join { channel, user, .. } => Some((channel, user)),
        _ => None,
    })
    .await;
    assert_eq!((channel.as_str(), user.as_str()), ("room:p1", "bob"));
    let members = ann.presence("room:p1").await.unwrap();
    assert_eq!(members.len(), 2);

    // The backend subscribes ann: the client follows the channel from the
    // reply's head, and subscribing to it then sends nothing.
    let r = server(
        &running,
        json!({"subscribe": {"user": "ann", "channel": "room:s1"}}),
    )
    .await;
    assert_eq!(r["connections"], 1, "{r}");
    let subscribed = event(&mut ann_events, |e| match e {
        Event::ServerSubscribed { channel } => Some(channel),
        _ => None,
    })
    .await;
    assert_eq!(subscribed, "room:s1");
    let mut ann_s = ann.subscribe("room:s1").await.unwrap();
    let r = server(
        &running,
        json!({"messages": [{"channel": "room:s1", "data": "from the backend"}]}),
    )
    .await;
    assert_eq!(r["results"][0]["seq"], 1, "{r}");
    let m = tokio::time::timeout(Duration::from_secs(5), ann_s.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((m.seq, m.from.as_str()), (1, "@server"));

    // Ephemeral with echo false: bob gets it at once, ann does not.
    let mut ann_t = ann.subscribe("room:t1").await.unwrap();
    let mut bob_t = bob.subscribe("room:t1").await.unwrap();
    let opts = wsfn_client::PublishOptions {
        ephemeral: true,
        echo: false,
    };
    let ack = ann
        .publish_with("room:t1", json!({"typing": true}), opts)
        .await
        .unwrap();
    assert!(ack.ephemeral && ack.seq == 0, "{ack:?}");
    let m = tokio::time::timeout(Duration::from_secs(5), bob_t.next())
        .await
        .unwrap()
        .unwrap();
    assert!(m.ephemeral && m.seq == 0 && m.from == "ann", "{m:?}");
    // Sequenced with echo false: ann's own seq is counted, not delivered,
    // and bob's next message reaches her in order.
    let own = ann
        .publish_with(
            "room:t1",
            json!("mine"),
            wsfn_client::PublishOptions {
                ephemeral: false,
                echo: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(own.seq, 1);
    bob.publish("room:t1", json!("theirs")).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), ann_t.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((next.seq, next.data), (2, json!("theirs")));
    assert_eq!(take(&mut bob_t, 2).await, vec![1, 2]);
    quiet(&mut ann_t).await;

    // revoke bob: told to reconnect, he comes back with a fresh token.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let first = bob.connection_id().unwrap();
    let r = server(&running, json!({"revoke": {"user": "bob"}})).await;
    assert_eq!(r["disconnected"], 1, "{r}");
    let reconnect = event(&mut bob_events, |e| match e {
        Event::Disconnected { reconnect, .. } => Some(reconnect),
        _ => None,
    })
    .await;
    assert!(reconnect);
    let left = event(&mut ann_events, |e| match e {
        Event::Leave { user, .. } => Some(user),
        _ => None,
    })
    .await;
    assert_eq!(left, "bob");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        bob.wait_for(State::Connected, Duration::from_secs(10))
            .await
    );
    assert_ne!(bob.connection_id().unwrap(), first);

    // disconnect ann for good: she is told, and the client closes.
    let r = server(
        &running,
        json!({"disconnect": {"user": "ann", "code": 4003, "reason": "banned"}}),
    )
    .await;
    assert_eq!(r["disconnected"], 1, "{r}");
    let told = event(&mut ann_events, |e| match e {
        Event::Disconnected {
            code,
            reason,
            reconnect,
        } => Some((code, reason, reconnect)),
        _ => None,
    })
    .await;
    assert_eq!(told, (4003, "banned".to_string(), false));
    assert!(ann.wait_for(State::Closed, Duration::from_secs(5)).await);
    let late = ann.publish("room:p1", json!(1)).await;
    assert_eq!(late.unwrap_err(), wsfn_client::Error::Closed);
    bob.close();
}

#[tokio::test]
async fn the_backend_runs_the_room_embedded() {
    the_backend_runs_the_room(embedded()).await;
}

#[tokio::test]
async fn the_backend_runs_the_room_dynamodb_local() {
    the_backend_runs_the_room(dynamodb()).await;
}
