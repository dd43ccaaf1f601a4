//! The pub/sub flow end to end — real sockets, functions invoked by the
//! gateway, fan-out through the real management client — in embedded and
//! DynamoDB Local modes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::*;
use wsfn_local::Options;

fn unique(p: &str) -> String {
    format!("{p}{:x}", rand::random::<u32>())
}

async fn pubsub_flow(o: Options) {
    let local = Local::start(o).await;
    let room = unique("room:e2e");
    let (mut alice, _) = client(&local.url, &token(&unique("alice"), &["room:*"], &[])).await;
    let (mut bob, _) = client(&local.url, &token(&unique("bob"), &["room:*"], &["room:*"])).await;
    for ws in [&mut alice, &mut bob] {
        send(ws, json!({"action":"subscribe","channel":room,"id":"s"})).await;
        let s = recv_type(ws, "subscribed").await;
        assert_eq!((s["seq"].as_u64(), s["id"].as_str()), (Some(0), Some("s")));
    }
    for i in 1..=3u64 {
        send(
            &mut bob,
            json!({"action":"publish","channel":room,"data":{"i":i},"id":format!("p{i}")}),
        )
        .await;
        let ack = recv_type(&mut bob, "ack").await;
        assert_eq!(ack["seq"], i);
    }
    let mut seqs = vec![];
    for _ in 0..3 {
        let m = recv_type(&mut alice, "message").await;
        assert_eq!(m["channel"], room.as_str());
        seqs.push(m["seq"].as_u64().unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, vec![1, 2, 3]);
    // Forbidden publish from alice; the connection keeps working.
    send(
        &mut alice,
        json!({"action":"publish","channel":room,"data":1,"id":"f"}),
    )
    .await;
    let e = recv_type(&mut alice, "error").await;
    assert_eq!(
        (e["code"].as_str(), e["id"].as_str()),
        (Some("forbidden"), Some("f"))
    );
}

#[tokio::test]
async fn pubsub_embedded_store() {
    pubsub_flow(opts()).await;
}

#[tokio::test]
async fn pubsub_dynamodb_local() {
    pubsub_flow(dynamodb_opts()).await;
}

async fn gone_subscriber_cleaned_up(o: Options) {
    let local = Local::start(o).await;
    let room = unique("room:gone");
    let watcher_user = unique("w");
    let (mut watcher, _) =
        client(&local.url, &token(&watcher_user, &["room:*"], &["room:*"])).await;
    let ghost_user = unique("ghost");
    let (mut ghost, ghost_id) = client(&local.url, &token(&ghost_user, &["room:*"], &[])).await;
    for ws in [&mut watcher, &mut ghost] {
        send(ws, json!({"action":"subscribe","channel":room})).await;
        recv_type(ws, "subscribed").await;
    }
    // AWS delivers $disconnect best-effort: drop this one, so the ghost's
    // items stay behind until a push finds the connection gone (410).
    local
        .recorder
        .swallow_disconnect
        .lock()
        .unwrap()
        .push(ghost_id.clone());
    drop(ghost);
    local.disconnect_event(&ghost_id).await;
    send(&mut watcher, json!({"action":"presence","channel":room})).await;
    let p = recv_type(&mut watcher, "presence").await;
    assert_eq!(
        p["members"].as_array().unwrap().len(),
        2,
        "ghost still listed: {p}"
    );
    send(
        &mut watcher,
        json!({"action":"publish","channel":room,"data":"x"}),
    )
    .await;
    recv_type(&mut watcher, "message").await;
    // The watcher's own copy can arrive while the push to the ghost is still
    // being answered 410; give the cleanup a bounded moment.
    let mut members = json!(null);
    for _ in 0..40 {
        send(&mut watcher, json!({"action":"presence","channel":room})).await;
        members = recv_type(&mut watcher, "presence").await["members"].clone();
        if members.as_array().is_some_and(|m| m.len() == 1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        members,
        json!([{"user": watcher_user, "connections": 1}]),
        "ghost removed after 410"
    );
}

#[tokio::test]
async fn gone_subscriber_cleaned_up_embedded() {
    gone_subscriber_cleaned_up(opts()).await;
}

#[tokio::test]
async fn gone_subscriber_cleaned_up_dynamodb_local() {
    gone_subscriber_cleaned_up(dynamodb_opts()).await;
}
