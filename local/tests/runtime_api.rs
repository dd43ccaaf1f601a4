//! `--invoker runtime-api`: the real function binaries (built by
//! scripts/test.sh) run as processes speaking the Lambda Runtime API to
//! wsfn-local, against DynamoDB Local. Pub/sub and a server publish go
//! through them; a killed process is replaced; an invocation that outlives
//! the function's timeout is killed and answered as API Gateway would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use serde_json::json;
use support::{client, dynamodb_opts, recv, recv_type, send, token, Local};
use wsfn_local::{Options, RuntimeApiOptions};

fn runtime(mut o: Options, timeout: Option<Duration>) -> Options {
    o.quiet = std::env::var_os("WSFN_TEST_VERBOSE").is_none();
    o.runtime_api = Some(RuntimeApiOptions {
        binaries: wsfn_local::runtime_api::default_binaries(),
        max_instances: 4,
        timeout,
        cpu_share: false,
    });
    o
}

#[tokio::test]
async fn pubsub_through_the_real_binaries() {
    let mut local = Local::start(runtime(dynamodb_opts(), None)).await;
    let (mut alice, _) = client(&local.url, &token("alice", &["room:*"], &[])).await;
    send(
        &mut alice,
        json!({"action":"subscribe","channel":"room:rt"}),
    )
    .await;
    recv_type(&mut alice, "subscribed").await;
    let (mut bob, _) = client(&local.url, &token("bob", &[], &["room:*"])).await;
    send(
        &mut bob,
        json!({"action":"publish","channel":"room:rt","data":{"n":1},"id":"p1"}),
    )
    .await;
    assert_eq!(recv_type(&mut bob, "ack").await["seq"], 1);
    let m = recv_type(&mut alice, "message").await;
    assert_eq!(
        (m["seq"].as_u64(), m["from"].as_str()),
        (Some(1), Some("bob"))
    );
    // A server publish through the Invoke API runs PublishFunction's binary.
    let answer = local
        .running()
        .gateway
        .invoker
        .invoke_json("PublishFunction", json!({"channel":"room:rt","data":2}))
        .await
        .unwrap();
    assert_eq!(answer["results"][0]["seq"], 2, "{answer}");
    assert_eq!(recv_type(&mut alice, "message").await["seq"], 2);
    let rt = local.running().runtime.clone().unwrap();
    for f in ["ConnectFunction", "MessageFunction", "PublishFunction"] {
        assert!(rt.spawned(f) >= 1, "{f} never started");
    }
    local.running.take().unwrap().shutdown().await;
}

#[tokio::test]
async fn a_killed_process_is_replaced() {
    let mut local = Local::start(runtime(dynamodb_opts(), None)).await;
    let (mut ws, _) = client(&local.url, &token("carol", &[], &[])).await;
    // `ping` is answered by the gateway: a frame for the message function
    // starts its process.
    let history = |id: &str| json!({"action":"history","channel":"user:carol","id":id});
    send(&mut ws, history("warm")).await;
    assert_eq!(recv_type(&mut ws, "history").await["id"], "warm");
    let rt = local.running().runtime.clone().unwrap();
    let before = rt.spawned("MessageFunction");
    let pids = rt.pids("MessageFunction");
    assert!(!pids.is_empty());
    for pid in pids {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    // Give the reaper a moment, then the next frame needs a new process.
    tokio::time::sleep(Duration::from_millis(300)).await;
    send(&mut ws, history("after-crash")).await;
    assert_eq!(recv_type(&mut ws, "history").await["id"], "after-crash");
    assert!(
        rt.spawned("MessageFunction") > before,
        "no replacement process"
    );
    local.running.take().unwrap().shutdown().await;
}

#[tokio::test]
async fn a_timed_out_invocation_is_killed() {
    // Every push takes 3 s; the functions may run 2 s.
    let mut o = runtime(dynamodb_opts(), Some(Duration::from_secs(2)));
    o.faults.latency = Duration::from_secs(3);
    let mut local = Local::start(o).await;
    let (mut ws, _) = support::open(
        &local.url,
        &[(
            "Authorization",
            &format!("Bearer {}", token("dave", &[], &[])),
        )],
    )
    .await
    .unwrap();
    let rt = local.running().runtime.clone().unwrap();
    let history = |id: &str| json!({"action":"history","channel":"user:dave","id":id});
    send(&mut ws, history("slow")).await;
    // API Gateway's answer to a failed integration.
    let frame = recv(&mut ws).await;
    assert_eq!(frame["message"], "Internal server error", "{frame}");
    assert_eq!(rt.spawned("MessageFunction"), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        rt.pids("MessageFunction").is_empty(),
        "the timed-out process lives on"
    );
    send(&mut ws, history("again")).await;
    let _ = recv(&mut ws).await;
    assert_eq!(
        rt.spawned("MessageFunction"),
        2,
        "a new process serves the next frame"
    );
    local.running.take().unwrap().shutdown().await;
}
