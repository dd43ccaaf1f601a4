//! Per-action cost, measured: every DynamoDB API call the handlers make (an
//! interceptor on the real client, against DynamoDB Local) and every
//! management API call. Prints the README's cost table and fails when the
//! measured numbers drift from it.
//!
//! `bash scripts/test.sh -p wsfn --test cost -- --nocapture` prints the table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod cost_model;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::calls::counted_backend;
use common::{token, Harness};
use serde_json::json;
use wsfn::testkit::RecordingDispatcher;

#[tokio::test]
async fn cost_per_action() {
    let (calls, backend) = counted_backend("wsfn-cost").await;
    // Frames here come back to back; at 1,000/s each one is "on time", so
    // the table shows the common case of one rate-limit write per frame (a
    // frame faster than the sustained rate costs a second UpdateItem).
    // Presence events and ephemeral publishes are on for channels the
    // first rows never use: those rows cost what they cost without them.
    let mut h = Harness::new(
        backend,
        &[
            ("RATE_LIMIT_PER_SECOND", "1000"),
            ("PRESENCE_EVENTS", "room:p*"),
            ("EPHEMERAL_CHANNELS", "typing:*"),
            (
                "MANAGEMENT_ENDPOINT",
                "https://abc123.execute-api.us-east-1.amazonaws.com/prod",
            ),
        ],
    );
    // Sharding is on (default shard size): channels this small never use it.
    let shards = RecordingDispatcher::new();
    h.app = h.app.clone().with_dispatcher(Arc::new(shards.clone()));
    calls.take();
    let mut rows: Vec<(&str, String, u32)> = vec![];
    let mut units: Vec<(&str, f64, f64)> = vec![];
    let mut row = |name: &'static str, h: &Harness| {
        let (c, rru, wru) = calls.take_units();
        rows.push((name, c, h.pusher.take_post_count()));
        units.push((name, rru, wru));
    };

    h.connect("c1=", &token("alice", &["room:*"], &["room:*"]))
        .await;
    row("$connect (token, limit check, personal channel)", &h);
    h.connect("c2=", &token("bob", &["room:*"], &["room:*"]))
        .await;
    h.connect("c3=", &token("carol", &["room:*"], &[])).await;
    calls.take();
    h.pusher.take_post_count();
    h.send("c1=", json!({"action":"ping"})).await;
    row("ping, if it reaches the message function", &h);
    h.send("c1=", json!({"action":"subscribe","channel":"room:a"}))
        .await;
    row("subscribe (new channel)", &h);
    for c in ["c2=", "c3="] {
        h.send(c, json!({"action":"subscribe","channel":"room:a"}))
            .await;
    }
    calls.take();
    h.pusher.take_post_count();
    h.send(
        "c2=",
        json!({"action":"publish","channel":"room:a","data":1}),
    )
    .await;
    row("publish, 3 subscribers", &h);
    h.send(
        "c2=",
        json!({"action":"publish","channel":"room:a","data":2,"id":"k1"}),
    )
    .await;
    row("publish with id, 3 subscribers", &h);
    h.send(
        "c2=",
        json!({"action":"publish","channel":"room:a","data":2,"id":"k1"}),
    )
    .await;
    row("publish with id, duplicate", &h);
    h.received("c3=");
    let epoch = match h
        .send("c3=", json!({"action":"subscribe","channel":"room:a"}))
        .await
        .remove(0)
    {
        wsfn::protocol::ServerFrame::Subscribed { epoch, .. } => epoch,
        other => panic!("{other:?}"),
    };
    calls.take();
    h.pusher.take_post_count();
    h.send(
        "c3=",
        json!({"action":"subscribe","channel":"room:a","since":{"seq":0,"epoch":epoch}}),
    )
    .await;
    row("subscribe with since (2 missed, already subscribed)", &h);
    h.send(
        "c1=",
        json!({"action":"history","channel":"room:a","limit":10}),
    )
    .await;
    row("history", &h);
    h.send("c1=", json!({"action":"presence","channel":"room:a"}))
        .await;
    row("presence", &h);
    h.send(
        "c1=",
        json!({"action":"auth","token":token("alice", &["room:*"], &["room:*"])}),
    )
    .await;
    row("auth", &h);
    h.send("c1=", json!({"action":"unsubscribe","channel":"room:a"}))
        .await;
    row("unsubscribe", &h);
    h.send_raw("c1=", "not json").await;
    row("malformed frame", &h);
    h.disconnect("c2=").await;
    row("$disconnect (2 subscriptions)", &h);

    // Presence events, ephemeral publishes, the server API.
    let both = &["room:*", "typing:*"];
    for (id, user) in [("d1=", "dave"), ("d2=", "erin"), ("d3=", "fred")] {
        h.connect(id, &token(user, both, both)).await;
        h.send(id, json!({"action":"subscribe","channel":"typing:t"}))
            .await;
    }
    h.send("d1=", json!({"action":"subscribe","channel":"room:p1"}))
        .await;
    h.send("d3=", json!({"action":"subscribe","channel":"room:p1"}))
        .await;
    calls.take();
    h.pusher.take_post_count();
    h.send("d2=", json!({"action":"subscribe","channel":"room:p1"}))
        .await;
    row("subscribe, PRESENCE_EVENTS channel (join to 2 others)", &h);
    h.send("d2=", json!({"action":"unsubscribe","channel":"room:p1"}))
        .await;
    row(
        "unsubscribe, PRESENCE_EVENTS channel (leave to 2 subscribers)",
        &h,
    );
    // An instance that has not seen the connection or the channel within a
    // second reads both; then, for a second, neither.
    h.app.cache.connections.forget("d1=");
    h.app.cache.subscribers.forget("typing:t");
    let typing = json!({"action":"publish","channel":"typing:t","data":1,"ephemeral":true});
    h.send("d1=", typing.clone()).await;
    row("publish ephemeral, 3 subscribers", &h);
    h.send("d1=", typing).await;
    row(
        "publish ephemeral, 3 subscribers, again within a second",
        &h,
    );
    let none = wsfn::handlers::Invocation::default();
    let server = |request: serde_json::Value| wsfn::handlers::backend(request, &h.app, &none);
    server(json!({"history": {"channel": "room:a", "limit": 10}}))
        .await
        .unwrap();
    row("server API: history", &h);
    server(json!({"presence": {"channel": "room:a"}}))
        .await
        .unwrap();
    row("server API: presence", &h);
    server(json!({"subscribe": {"user": "dave", "channel": "room:s"}}))
        .await
        .unwrap();
    row("server API: subscribe (a user with 1 connection)", &h);
    server(json!({"unsubscribe": {"user": "dave", "channel": "room:s"}}))
        .await
        .unwrap();
    row("server API: unsubscribe (a user with 1 connection)", &h);
    server(json!({"disconnect": {"user": "erin"}}))
        .await
        .unwrap();
    row(
        "server API: disconnect (a user with 1 connection, 2 subscriptions)",
        &h,
    );
    server(json!({"revoke": {"user": "fred"}})).await.unwrap();
    row(
        "server API: revoke (a user with 1 connection, 3 subscriptions)",
        &h,
    );

    println!("\n| action | DynamoDB calls | management API calls |\n|---|---|---|");
    for (name, ddb_calls, posts) in &rows {
        println!("| {name} | {ddb_calls} | {posts} |");
    }

    let expected = [
        (
            "$connect (token, limit check, personal channel)",
            "1× TransactWriteItems",
            0,
        ),
        (
            "ping, if it reaches the message function",
            "1× GetItem, 1× UpdateItem",
            1,
        ),
        (
            "subscribe (new channel)",
            "2× GetItem, 1× PutItem, 1× TransactWriteItems, 1× UpdateItem",
            1,
        ),
        (
            "publish, 3 subscribers",
            "2× GetItem, 1× Query, 1× TransactWriteItems, 1× UpdateItem",
            4,
        ),
        (
            "publish with id, 3 subscribers",
            "2× GetItem, 1× Query, 1× TransactWriteItems, 1× UpdateItem",
            4,
        ),
        (
            "publish with id, duplicate",
            "3× GetItem, 1× TransactWriteItems, 1× UpdateItem",
            1,
        ),
        (
            "subscribe with since (2 missed, already subscribed)",
            "2× GetItem, 1× Query, 1× TransactWriteItems, 1× UpdateItem",
            3,
        ),
        ("history", "2× GetItem, 1× Query, 1× UpdateItem", 1),
        ("presence", "1× GetItem, 1× Query, 1× UpdateItem", 1),
        ("auth", "2× GetItem, 2× UpdateItem", 1),
        (
            "unsubscribe",
            "1× GetItem, 1× TransactWriteItems, 1× UpdateItem",
            1,
        ),
        ("malformed frame", "1× GetItem, 1× UpdateItem", 1),
        (
            "$disconnect (2 subscriptions)",
            "1× BatchWriteItem, 1× DeleteItem, 1× Query, 1× UpdateItem",
            0,
        ),
        (
            "subscribe, PRESENCE_EVENTS channel (join to 2 others)",
            "2× GetItem, 1× Query, 1× TransactWriteItems, 2× UpdateItem",
            3,
        ),
        (
            "unsubscribe, PRESENCE_EVENTS channel (leave to 2 subscribers)",
            "1× GetItem, 1× Query, 1× TransactWriteItems, 2× UpdateItem",
            3,
        ),
        (
            "publish ephemeral, 3 subscribers",
            "1× GetItem, 1× Query, 1× UpdateItem",
            4,
        ),
        (
            "publish ephemeral, 3 subscribers, again within a second",
            "1× UpdateItem",
            4,
        ),
        ("server API: history", "1× GetItem, 1× Query", 0),
        ("server API: presence", "1× Query", 0),
        (
            "server API: subscribe (a user with 1 connection)",
            "3× GetItem, 1× PutItem, 1× TransactWriteItems",
            1,
        ),
        (
            "server API: unsubscribe (a user with 1 connection)",
            "2× GetItem, 1× TransactWriteItems",
            1,
        ),
        (
            "server API: disconnect (a user with 1 connection, 2 subscriptions)",
            "1× BatchWriteItem, 1× DeleteItem, 2× GetItem, 1× Query, 1× UpdateItem",
            1,
        ),
        (
            "server API: revoke (a user with 1 connection, 3 subscriptions)",
            "1× BatchWriteItem, 1× DeleteItem, 2× GetItem, 2× Query, 3× UpdateItem",
            2,
        ),
    ];
    assert_eq!(rows.len(), expected.len(), "a row without its expectation");
    for ((name, got, posts), (ename, want, wposts)) in rows.iter().zip(expected) {
        assert_eq!(
            (*name, got.as_str(), *posts),
            (ename, want, wposts),
            "README cost table is out of date"
        );
    }
    assert!(shards.take().is_empty(), "a small channel invoked shards");

    // A channel of 100: the Query reads more, everything else stays.
    for i in 0..100 {
        let id = format!("b{i}=");
        h.connect(&id, &token(&format!("reader{i}"), &["room:*"], &[]))
            .await;
        h.send(&id, json!({"action":"subscribe","channel":"room:big"}))
            .await;
    }
    calls.take();
    h.pusher.take_post_count();
    h.send(
        "c1=",
        json!({"action":"publish","channel":"room:big","data":1}),
    )
    .await;
    let (big, rru, wru) = calls.take_units();
    let posts = h.pusher.take_post_count();
    assert_eq!(posts, 101, "100 deliveries and the ack");
    let mut measured: BTreeMap<&str, cost_model::Measured> = units
        .iter()
        .zip(&rows)
        .map(|((name, rru, wru), (_, _, posts))| {
            (
                *name,
                cost_model::Measured {
                    rru: *rru,
                    wru: *wru,
                    posts: *posts,
                },
            )
        })
        .collect();
    measured.insert(
        "publish, 100 subscribers",
        cost_model::Measured { rru, wru, posts },
    );
    println!("\npublish, 100 subscribers: {big} ({rru} RRU, {wru} WRU)");
    println!("\n| request units | RRU | WRU |\n|---|---|---|");
    for (name, m) in &measured {
        println!("| {name} | {} | {} |", m.rru, m.wru);
    }
    let model = cost_model::markdown(&cost_model::rows(&measured));
    println!("\n{}", model.join("\n"));
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cost.md"))
        .expect("docs/cost.md");
    for line in &model {
        assert!(
            doc.contains(line.as_str()),
            "docs/cost.md is out of date; the model says:\n{line}"
        );
    }
}

/// A channel past `FANOUT_SHARD_SIZE`: the publisher reads one shard's
/// worth (one Query), queues the rest as shards and pushes only its own;
/// running the shards (as Lambda would) reaches every subscriber once.
#[tokio::test]
async fn a_big_channel_is_split_into_shards() {
    let (calls, backend) = counted_backend("wsfn-shards").await;
    let mut h = Harness::new(
        backend,
        &[
            ("RATE_LIMIT_PER_SECOND", "1000"),
            ("FANOUT_SHARD_SIZE", "10"),
            (
                "MANAGEMENT_ENDPOINT",
                "https://abc123.execute-api.us-east-1.amazonaws.com/prod",
            ),
        ],
    );
    let shards = RecordingDispatcher::new();
    h.app = h.app.clone().with_dispatcher(Arc::new(shards.clone()));
    let n = 35;
    let ids: Vec<String> = (0..n).map(|_| wsfn_id()).collect();
    for (i, id) in ids.iter().enumerate() {
        h.connect(id, &token(&format!("u{i}"), &["big:*"], &["big:*"]))
            .await;
        h.send(id, json!({"action":"subscribe","channel":"big:a"}))
            .await;
    }
    h.pusher.take_post_count();
    for id in &ids {
        h.received(id);
    }
    calls.take();
    // What the sender gets back now (its ack, and its own copy if it is in
    // the publisher's part) is returned here rather than left in its inbox.
    let mut sender = h
        .send(
            &ids[0],
            json!({"action":"publish","channel":"big:a","data":1}),
        )
        .await;
    let publisher = calls.take();
    let tasks = shards.take();
    println!("publisher: {publisher}; {} shards", tasks.len());
    assert!(publisher.contains("1× Query"), "{publisher}");
    assert!(tasks.len() >= 2, "{} shards", tasks.len());
    // The publisher pushed its shard (10) and the ack.
    assert_eq!(h.pusher.take_post_count(), 11);
    // Run the shards as Lambda would (and any they split off in turn).
    let mut queue = tasks;
    let mut runs = 0;
    while let Some(task) = queue.pop() {
        runs += 1;
        assert!(runs < 100, "shards keep splitting");
        wsfn::handlers::fanout(task, &h.app, &Default::default())
            .await
            .unwrap();
        queue.extend(shards.take());
    }
    for (i, id) in ids.iter().enumerate() {
        let mut frames = h.received(id);
        if i == 0 {
            frames.append(&mut sender);
        }
        let got: Vec<u64> = frames
            .into_iter()
            .filter_map(|f| match f {
                wsfn::protocol::ServerFrame::Message(m) => Some(m.seq),
                _ => None,
            })
            .collect();
        assert_eq!(got, vec![1], "{id}");
    }
}

/// A connection id shaped like API Gateway's (random base64).
fn wsfn_id() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE.encode(rand::random::<[u8; 11]>())
}
