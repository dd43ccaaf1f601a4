//! EventBridge locally: the functions' real SDK client sends `PutEvents` to
//! wsfn-local's port (in-process, and the real binaries with
//! `WSFN_TEST_INVOKER=runtime-api`), which keeps each event and POSTs it to
//! `--events-webhook` shaped as EventBridge delivers it to a target.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../shared/tests/hook_server/mod.rs"]
mod hook_server;
mod support;

use std::time::Duration;

use hook_server::{Answer, HookServer};
use serde_json::{json, Value};
use support::{client, dynamodb_opts, opts, recv_type, send, token, Local};
use wsfn_local::Options;

async fn events_reach_the_bus_and_the_webhook(mut o: Options) {
    let webhook = HookServer::start(|_| Answer::json(json!({}))).await;
    o.environment
        .insert("EVENT_BUS".into(), "app-events".into());
    o.environment
        .insert("EVENT_MESSAGE_CHANNELS".into(), "room:*".into());
    o.environment
        .insert("PRESENCE_EVENTS".into(), "room:*".into());
    o.events_webhook = Some(webhook.url.clone());
    let local = Local::start(o).await;
    let t = token("ann", &["room:*"], &["room:*"]);
    let (mut ws, id) = client(&local.url, &t).await;
    send(
        &mut ws,
        json!({"action":"subscribe","channel":"room:1","id":"s"}),
    )
    .await;
    recv_type(&mut ws, "subscribed").await;
    send(
        &mut ws,
        json!({"action":"publish","channel":"room:1","data":{"hi":1},"id":"p"}),
    )
    .await;
    recv_type(&mut ws, "ack").await;
    drop(ws);
    let want = [
        "connection.opened",
        "subscription.created",
        "presence.joined",
        "message.published",
        "presence.left",
        "connection.closed",
    ];
    let running = local.running();
    let mut kinds: Vec<String> = Vec::new();
    for _ in 0..100 {
        kinds = running
            .events
            .received()
            .iter()
            .filter(|e| e["detail"]["connection"] == id.as_str())
            .map(|e| e["detail-type"].as_str().unwrap_or_default().to_string())
            .collect();
        if kinds.len() >= want.len() && webhook.received().len() >= want.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut sorted = kinds.clone();
    sorted.sort();
    let mut expected: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(sorted, expected, "{kinds:?}");
    // The webhook got each, in order, as EventBridge shapes an event.
    let posted: Vec<Value> = webhook.received().into_iter().map(|r| r.body).collect();
    assert_eq!(posted, running.events.received());
    let e = &posted[0];
    for field in [
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    ] {
        assert!(e.get(field).is_some(), "{field} in {e}");
    }
    assert_eq!(e["source"], "wsfn");
    let message = posted
        .iter()
        .find(|e| e["detail-type"] == "message.published")
        .unwrap();
    assert_eq!(message["detail"]["message"]["data"], json!({"hi": 1}));
    assert_eq!(message["detail"]["user"], "ann");
}

#[tokio::test]
async fn events_embedded() {
    events_reach_the_bus_and_the_webhook(opts()).await;
}

#[tokio::test]
async fn events_dynamodb_local() {
    events_reach_the_bus_and_the_webhook(dynamodb_opts()).await;
}

/// Without EVENT_BUS nothing is sent.
#[tokio::test]
async fn no_bus_no_events() {
    let local = Local::start(opts()).await;
    let (mut ws, _) = client(&local.url, &token("ann", &["room:*"], &["room:*"])).await;
    send(
        &mut ws,
        json!({"action":"subscribe","channel":"room:1","id":"s"}),
    )
    .await;
    recv_type(&mut ws, "subscribed").await;
    drop(ws);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(local.running().events.received().is_empty());
}
