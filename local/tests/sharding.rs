//! Sharded fan-out end to end: with a low `FANOUT_SHARD_SIZE`, a publish to
//! a channel of real sockets is split into `FanoutFunction` invocations
//! through wsfn-local's Lambda Invoke API (the real aws-sdk-lambda client,
//! `InvocationType=Event`); every subscriber gets the message exactly once,
//! connections found gone are cleaned up, and a shard whose invocation fails
//! is retried by the emulated Lambda and still reaches its range. Both stores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use support::{client, dynamodb_opts, opts, recv_type, send, token, Local, Ws};
use wsfn_local::Options;

const SHARD: usize = 10;
const SUBSCRIBERS: usize = 60;
const GHOSTS: usize = 5;

/// Opens `n` subscribers of `channel` at once (simultaneous handshakes).
async fn subscribers(url: &str, channel: &str, n: usize) -> Vec<(Ws, String)> {
    let opens = (0..n).map(|i| {
        let (url, channel) = (url.to_string(), channel.to_string());
        async move {
            let (mut ws, id) = client(&url, &token(&format!("u{i}"), &["big:*"], &[])).await;
            send(&mut ws, json!({"action":"subscribe","channel":channel})).await;
            recv_type(&mut ws, "subscribed").await;
            (ws, id)
        }
    });
    futures::future::join_all(opens).await
}

/// Every message frame a socket receives within `quiet` of the last one.
async fn messages(ws: &mut Ws, first_within: Duration, quiet: Duration) -> Vec<u64> {
    let mut seqs = Vec::new();
    let mut wait = first_within;
    while let Ok(Some(Ok(m))) = tokio::time::timeout(wait, ws.next()).await {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(m.to_text().unwrap_or("")) {
            if v["type"] == "message" {
                seqs.push(v["seq"].as_u64().unwrap());
                wait = quiet;
            }
        }
    }
    seqs
}

fn sharded(mut o: Options, fail_first_shard: bool) -> Options {
    o.environment
        .insert("FANOUT_SHARD_SIZE".into(), SHARD.to_string());
    if fail_first_shard {
        o.fail_invocations.insert("FanoutFunction".into(), 1);
    }
    o
}

async fn every_subscriber_once(o: Options, fail_first_shard: bool) {
    let mut local = Local::start(sharded(o, fail_first_shard)).await;
    let channel = "big:room";
    let mut subs = subscribers(&local.url, channel, SUBSCRIBERS).await;
    // Ghosts: subscribed, then gone without a $disconnect (AWS delivers it
    // best-effort), so only a push can find them gone (410).
    let ghosts = subscribers(&local.url, channel, GHOSTS).await;
    for (ws, id) in ghosts {
        local
            .recorder
            .swallow_disconnect
            .lock()
            .unwrap()
            .push(id.clone());
        drop(ws);
        local.disconnect_event(&id).await;
    }
    let (mut publisher, _) = client(&local.url, &token("pub", &[], &["big:*"])).await;
    send(
        &mut publisher,
        json!({"action":"publish","channel":channel,"data":{"n":1},"id":"p1"}),
    )
    .await;
    assert_eq!(recv_type(&mut publisher, "ack").await["seq"], 1);

    let received = futures::future::join_all(
        subs.iter_mut()
            .map(|(ws, _)| messages(ws, Duration::from_secs(20), Duration::from_millis(500))),
    )
    .await;
    for (i, seqs) in received.iter().enumerate() {
        assert_eq!(seqs, &vec![1], "subscriber {i} got {seqs:?}");
    }

    // The work was split: shards ran as FanoutFunction through the Invoke API.
    let shards: Vec<_> = local
        .recorder
        .invoked
        .lock()
        .unwrap()
        .iter()
        .filter(|(f, _)| f == "FanoutFunction")
        .map(|(_, e)| e.clone())
        .collect();
    assert!(
        shards.len() >= 2,
        "expected several shard invocations, got {}",
        shards.len()
    );
    assert!(shards.iter().all(|e| e["channel"] == channel));
    if fail_first_shard {
        assert!(
            !local.running().gateway.inject_failure("FanoutFunction"),
            "the drill's failure was used up"
        );
    }

    // Ghosts found gone by some invocation are removed from the channel.
    let ch = wsfn::channel::ChannelName::parse(channel).unwrap();
    let mut left = usize::MAX;
    for _ in 0..100 {
        let page = local
            .running()
            .store
            .subscribers(&ch, None, 1000)
            .await
            .unwrap();
        left = page.items.len();
        if left == SUBSCRIBERS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, SUBSCRIBERS, "gone subscribers were not cleaned up");
    drop(subs);
    local.running.take().unwrap().shutdown().await;
}

#[tokio::test]
async fn sharded_fanout_embedded() {
    every_subscriber_once(opts(), false).await;
}

#[tokio::test]
async fn sharded_fanout_dynamodb_local() {
    every_subscriber_once(dynamodb_opts(), false).await;
}

#[tokio::test]
async fn failed_shard_is_retried_embedded() {
    every_subscriber_once(opts(), true).await;
}

#[tokio::test]
async fn failed_shard_is_retried_dynamodb_local() {
    every_subscriber_once(dynamodb_opts(), true).await;
}
