//! The server publish API (PublishFunction), through its handler, on both
//! stores: batches with per-message results, idempotent retries scoped to
//! the server, "send to user" through personal channels.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{messages, token, Backend, Harness};
use serde_json::{json, Value};
use wsfn::handlers::{publish_api, Invocation, PublishRequest, PublishResult, SERVER_FROM};
use wsfn::protocol::ErrorCode;

async fn publish(h: &Harness, body: Value) -> Vec<PublishResult> {
    let req: PublishRequest = serde_json::from_value(body).unwrap();
    publish_api(req, &h.app, &Invocation::default())
        .await
        .unwrap()
        .results
}

fn harness(b: Backend) -> Harness {
    Harness::new(
        b,
        &[
            ("MANAGEMENT_ENDPOINT", "http://127.0.0.1:9/local"),
            ("MAX_MESSAGE_BYTES", "1024"),
        ],
    )
}

async fn batch_results_in_order_with_one_bad_message(b: Backend) {
    let h = harness(b);
    h.connect("s1=", &token("ann", &["room:*"], &[])).await;
    h.send("s1=", json!({"action":"subscribe","channel":"room:news"}))
        .await;
    let r = publish(
        &h,
        json!({"messages": [
            {"channel": "room:news", "data": {"n": 1}},
            {"channel": "bad channel", "data": 2},
            {"channel": "room:news", "data": "x".repeat(2000)},
            {"channel": "room:news", "data": {"n": 3}, "id": "evt-3"}
        ]}),
    )
    .await;
    assert_eq!(r.len(), 4);
    assert_eq!(
        r[0],
        PublishResult::Published {
            channel: "room:news".into(),
            seq: 1,
            duplicate: false
        }
    );
    assert!(
        matches!(&r[1], PublishResult::Failed { error } if error.code == ErrorCode::BadRequest)
    );
    assert!(matches!(&r[2], PublishResult::Failed { error } if error.code == ErrorCode::TooLarge));
    assert_eq!(
        r[3],
        PublishResult::Published {
            channel: "room:news".into(),
            seq: 2,
            duplicate: false
        }
    );
    let got = messages(&h.received("s1="));
    assert_eq!(got.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert!(got.iter().all(|m| m.from == SERVER_FROM));
    // The wire shape backends see.
    let wire = serde_json::to_value(&r).unwrap();
    assert_eq!(
        wire[0],
        json!({"channel": "room:news", "seq": 1, "duplicate": false})
    );
    assert_eq!(wire[1]["error"]["code"], "bad_request");
}

async fn server_ids_are_idempotent_and_their_own_scope(b: Backend) {
    let h = harness(b);
    h.connect("s2=", &token("ann", &["room:*"], &["room:*"]))
        .await;
    h.send("s2=", json!({"action":"subscribe","channel":"room:a"}))
        .await;
    // A client used id "k" first.
    h.send(
        "s2=",
        json!({"action":"publish","channel":"room:a","data":1,"id":"k"}),
    )
    .await;
    h.received("s2=");
    let one = json!({"channel": "room:a", "data": 1, "id": "k"});
    let first = publish(&h, one.clone()).await;
    assert_eq!(
        first,
        vec![PublishResult::Published {
            channel: "room:a".into(),
            seq: 2,
            duplicate: false
        }],
        "a client's id does not dedupe a server publish"
    );
    let retry = publish(&h, one).await;
    assert_eq!(
        retry,
        vec![PublishResult::Published {
            channel: "room:a".into(),
            seq: 2,
            duplicate: true
        }]
    );
    assert_eq!(messages(&h.received("s2=")).len(), 1, "delivered once");
    let reused = publish(&h, json!({"channel": "room:a", "data": 2, "id": "k"})).await;
    assert!(
        matches!(&reused[0], PublishResult::Failed { error } if error.code == ErrorCode::BadRequest)
    );
}

async fn personal_channels_send_to_a_user(b: Backend) {
    let h = harness(b);
    h.connect("u1=", &token("alice", &[], &[])).await;
    h.connect("u2=", &token("alice", &[], &[])).await;
    h.connect("u3=", &token("bob", &[], &[])).await;
    publish(
        &h,
        json!({"channel": "user:alice", "data": {"order": "shipped"}}),
    )
    .await;
    assert_eq!(messages(&h.received("u1=")).len(), 1);
    assert_eq!(
        messages(&h.received("u2=")).len(),
        1,
        "every connection of the user"
    );
    assert!(messages(&h.received("u3=")).is_empty());
}

async fn oversized_batches_are_refused_whole(b: Backend) {
    let h = harness(b);
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"channel": "room:x", "data": i}))
        .collect();
    let r = publish(&h, json!({ "messages": many })).await;
    assert_eq!(r.len(), 101);
    assert!(r.iter().all(
        |x| matches!(x, PublishResult::Failed { error } if error.code == ErrorCode::BadRequest)
    ));
    assert!(h
        .app
        .store
        .read_head(&wsfn::channel::ChannelName::parse("room:x").unwrap())
        .await
        .unwrap()
        .is_none());
}

both_backends!(
    batch_results_in_order_with_one_bad_message,
    server_ids_are_idempotent_and_their_own_scope,
    personal_channels_send_to_a_user,
    oversized_batches_are_refused_whole,
);
