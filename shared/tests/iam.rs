//! Each function's IAM table (`wsfn::functions::Function::actions`) against
//! the calls its code makes: every path of every function runs on DynamoDB
//! Local with an interceptor recording the IAM action each call needed (a
//! transaction: each item's), the management API calls (any →
//! `execute-api:ManageConnections`) and the shards handed to Lambda
//! (`lambda:InvokeFunction`). The observed set must equal the table: an
//! action the code needs and the table lacks would be refused when
//! deployed; one the table grants and nothing uses is privilege to drop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::calls::{counted_backend, Calls};
use common::{token, Harness};
use serde_json::json;
use wsfn::functions::Function;
use wsfn::handlers::{self, Invocation};
use wsfn::testkit::RecordingDispatcher;

/// What the last phase used, as IAM actions.
fn observed(calls: &Calls, h: &Harness, shards: usize) -> BTreeSet<String> {
    let mut a = calls.take_actions();
    if h.pusher.take_call_count() > 0 {
        a.insert("execute-api:ManageConnections".into());
    }
    if shards > 0 {
        a.insert("lambda:InvokeFunction".into());
    }
    a
}

fn table(f: Function) -> BTreeSet<String> {
    f.actions().into_iter().map(str::to_string).collect()
}

/// Connects `n` readers of `channel` (users `{prefix}{i}`).
async fn readers(h: &Harness, prefix: &str, channel: &str, n: usize) -> Vec<String> {
    readers_from(h, prefix, false, channel, n).await
}

/// Readers; with `spread`, their ids start with characters evenly spread
/// over the id alphabet, so every part of the id space gets some.
async fn readers_from(
    h: &Harness,
    prefix: &str,
    spread: bool,
    channel: &str,
    n: usize,
) -> Vec<String> {
    const ALPHABET: &[u8] = b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
    let mut ids = Vec::new();
    for i in 0..n {
        // Random, as API Gateway's are: shards split the id space.
        let id = {
            use base64::Engine;
            let random =
                base64::engine::general_purpose::URL_SAFE.encode(rand::random::<[u8; 11]>());
            match spread {
                true => format!("{}{random}", ALPHABET[i * ALPHABET.len() / n] as char),
                false => random,
            }
        };
        h.connect(&id, &token(&format!("{prefix}{i}"), &["room:*"], &[]))
            .await;
        h.send(&id, json!({"action":"subscribe","channel":channel}))
            .await;
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn every_function_calls_exactly_what_its_iam_table_grants() {
    let (calls, backend) = counted_backend("wsfn-iam").await;
    let mut h = Harness::new(
        backend,
        &[
            ("RATE_LIMIT_PER_SECOND", "1000"),
            ("MAX_CONNECTIONS_PER_USER", "2"),
            ("HISTORY_MAX", "2"),
            ("FANOUT_SHARD_SIZE", "10"),
            ("PRESENCE_EVENTS", "room:a,room:s,room:x"),
            ("EPHEMERAL_CHANNELS", "room:e*"),
            // Server publishes push through the configured endpoint.
            (
                "MANAGEMENT_ENDPOINT",
                "https://abc123.execute-api.us-east-1.amazonaws.com/prod",
            ),
        ],
    );
    let dispatcher = RecordingDispatcher::new();
    h.app = h.app.clone().with_dispatcher(Arc::new(dispatcher.clone()));
    let alice = token("alice", &["room:*"], &["room:*"]);
    let reset = |h: &Harness| {
        calls.take_actions();
        h.pusher.take_call_count();
        dispatcher.take()
    };

    // $connect: plain ones, and one at the per-user limit whose holders
    // are gone (read, asked, removed — the last one takes the user's set).
    reset(&h);
    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(h.connect_aged("a1=", &alice, hour).await, 200);
    assert_eq!(h.connect_aged("a0=", &alice, hour).await, 200);
    let mut connect = observed(&calls, &h, 0);
    h.send("a0=", json!({"action":"subscribe","channel":"room:x"}))
        .await;
    h.pusher.mark_gone("a1=");
    h.pusher.mark_gone("a0=");
    reset(&h);
    h.connect("a2=", &alice).await;
    h.connect("a3=", &alice).await;
    connect.extend(observed(&calls, &h, 0));
    h.send("a2=", json!({"action":"subscribe","channel":"room:x"}))
        .await;

    // The message function: every action, a push to a gone subscriber, a
    // stream trimmed at HISTORY_MAX, a channel big enough to be sharded.
    let subs = readers(&h, "s", "room:a", 2).await;
    // Spread ids (as the late readers below): whether a shard splits again
    // then does not hang on where random ids happen to fall.
    let mut big = readers_from(&h, "b", true, "room:big", 45).await;
    // Users the server API acts on; a reader of room:x hears a2's leave.
    let srv = readers(&h, "srv", "room:a", 3).await;
    readers(&h, "x", "room:x", 1).await;
    h.pusher.mark_gone(&subs[0]);
    reset(&h);
    let frames = [
        json!({"action":"ping"}),
        json!({"action":"subscribe","channel":"room:a"}),
        json!({"action":"subscribe","channel":"user:alice"}),
        json!({"action":"publish","channel":"room:a","data":1}),
        json!({"action":"publish","channel":"room:a","data":2,"id":"k1"}),
        json!({"action":"publish","channel":"room:a","data":2,"id":"k1"}),
        json!({"action":"publish","channel":"room:a","data":3}),
        json!({"action":"subscribe","channel":"room:a","since":{"seq":0,"epoch":"x"}}),
        json!({"action":"history","channel":"room:a"}),
        json!({"action":"presence","channel":"room:a"}),
        json!({"action":"auth","token":alice}),
        json!({"action":"unsubscribe","channel":"room:a"}),
        json!({"action":"publish","channel":"room:new","data":1}),
        json!({"action":"publish","channel":"room:big","data":1}),
        json!({"action":"publish","channel":"room:e1","data":1,"ephemeral":true}),
        json!({"action":"publish","channel":"room:a","data":4,"echo":false}),
    ];
    for f in frames {
        h.send("a3=", f).await;
    }
    h.send_raw("a3=", "not json").await;
    let tasks = dispatcher.take();
    assert!(!tasks.is_empty(), "the big channel was sharded");
    let message = observed(&calls, &h, tasks.len());

    // Server publish: a new and an existing channel, an id and its
    // duplicate, a gone subscriber, the big channel.
    // A subscriber of room:a (pushed by the publisher itself) is gone.
    h.pusher.mark_gone(&subs[1]);
    reset(&h);
    let request = json!({"messages": [
        {"channel": "room:p", "data": 1},
        {"channel": "room:a", "data": 1, "id": "s1"},
        {"channel": "room:a", "data": 1, "id": "s1"},
        {"channel": "room:big", "data": 2},
    ]});
    let answer = handlers::backend(request, &h.app, &Invocation::default())
        .await
        .unwrap();
    // Every operation of the server API (a gone connection among them).
    h.pusher.mark_gone(&srv[2]);
    for op in [
        json!({"subscribe": {"user": "srv0", "channel": "room:s"}}),
        json!({"unsubscribe": {"user": "srv0", "channel": "room:a"}}),
        json!({"presence": {"channel": "room:a"}}),
        json!({"history": {"channel": "room:a"}}),
        json!({"disconnect": {"user": "srv0"}}),
        json!({"disconnect": {"connection": srv[2]}}),
        json!({"revoke": {"user": "srv1"}}),
    ] {
        let a = handlers::backend(op.clone(), &h.app, &Invocation::default())
            .await
            .unwrap();
        assert!(a.get("error").is_none(), "{op}: {a}");
    }
    let shards = dispatcher.take();
    assert!(
        !shards.is_empty(),
        "the big channel was sharded: {answer:?}"
    );
    let publish = observed(&calls, &h, shards.len());

    // Fan-out shards, as Lambda runs them (a gone subscriber in range;
    // shards that split again).
    // Readers who joined since the shards were handed out make each range
    // hold more than a shard: the shards split again.
    // Their ids are spread evenly over the id space, so every shard's range
    // gets its share whatever the random ids before them (random ones all
    // fell in the publisher's part once, and nothing split).
    big.extend(readers_from(&h, "late", true, "room:big", 60).await);
    // The highest ids are in shards, never in the publisher's own part.
    let mut sorted = big.clone();
    sorted.sort();
    for b in sorted.iter().rev().take(5) {
        h.pusher.mark_gone(b);
    }
    assert!(reset(&h).is_empty(), "setting up dispatched nothing");
    let mut queue = shards;
    let mut dispatched = 0;
    let mut runs = 0;
    while let Some(task) = queue.pop() {
        runs += 1;
        assert!(runs < 100, "shards keep splitting");
        handlers::fanout(task, &h.app, &Invocation::default())
            .await
            .unwrap();
        let more = dispatcher.take();
        dispatched += more.len();
        queue.extend(more);
    }
    let fanout = observed(&calls, &h, dispatched);

    // $disconnect: the user's last connection, with subscriptions.
    h.disconnect("a2=").await;
    h.disconnect("a3=").await;
    let disconnect = observed(&calls, &h, 0);

    for (f, seen) in [
        (Function::Connect, connect),
        (Function::Disconnect, disconnect),
        (Function::Message, message),
        (Function::Publish, publish),
        (Function::Fanout, fanout),
    ] {
        assert_eq!(
            seen,
            table(f),
            "{f:?}: the calls its code made (left) differ from its IAM table (right)"
        );
    }
}
