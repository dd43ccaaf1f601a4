//! The server API end to end: real sockets on wsfn-local, every operation
//! invoked through the Invoke API with the real `aws-sdk-lambda` client (as
//! `aws lambda invoke` would), presence events and ephemeral messages on the
//! wire; both stores (and, in the test command's second run, the real
//! binaries).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{client, closed, dynamodb_opts, open, opts, recv, recv_type, send, token, Local, Ws};
use wsfn_local::Options;

fn lambda(local: &Local) -> aws_sdk_lambda::Client {
    let conf = aws_sdk_lambda::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_lambda::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "k", "s", None, None, "t",
        ))
        .endpoint_url(format!("http://{}", local.running().addr))
        .build();
    aws_sdk_lambda::Client::from_conf(conf)
}

async fn invoke(l: &aws_sdk_lambda::Client, request: Value) -> Value {
    let out = l
        .invoke()
        .function_name("PublishFunction")
        .payload(aws_sdk_lambda::primitives::Blob::new(request.to_string()))
        .send()
        .await
        .expect("invoke");
    assert_eq!(out.status_code(), 200);
    assert!(out.function_error().is_none(), "{request}");
    serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap()
}

/// Frames of the given types until `kind` arrives (all of them returned).
async fn until(ws: &mut Ws, kind: &str) -> Vec<Value> {
    let mut got = Vec::new();
    for _ in 0..50 {
        let v = recv(ws).await;
        let done = v["type"] == kind;
        got.push(v);
        if done {
            return got;
        }
    }
    panic!("no {kind}: {got:?}");
}

async fn subscribe(ws: &mut Ws, channel: &str) {
    send(ws, json!({"action":"subscribe","channel":channel})).await;
    until(ws, "subscribed").await;
}

fn with_features(mut o: Options) -> Options {
    o.parameters
        .insert("PresenceEvents".into(), "room:*".into());
    o.parameters
        .insert("EphemeralChannels".into(), "typing:*".into());
    o
}

async fn the_backend_runs_the_room(o: Options) {
    let local = Local::start(with_features(o)).await;
    let l = lambda(&local);
    let caps: &[&str] = &["room:*", "typing:*"];
    let (mut bob, _) = client(&local.url, &token("bob", caps, caps)).await;
    subscribe(&mut bob, "room:x").await;
    let ann_token = token("ann", caps, caps);
    let (mut ann1, _) = client(&local.url, &ann_token).await;
    let (mut ann2, _) = client(&local.url, &ann_token).await;
    subscribe(&mut ann1, "room:x").await;
    subscribe(&mut ann2, "room:x").await;
    let join = recv_type(&mut bob, "join").await;
    assert_eq!(join, json!({"type":"join","channel":"room:x","user":"ann"}));

    // presence and history without a socket.
    let p = invoke(&l, json!({"presence": {"channel": "room:x"}})).await;
    let mut members = p["members"].as_array().unwrap().clone();
    members.sort_by_key(|m| m["user"].as_str().unwrap().to_string());
    assert_eq!(
        members,
        [
            json!({"user":"ann","connections":2}),
            json!({"user":"bob","connections":1})
        ]
    );

    // Server-side subscribe: both of ann's sockets are told and get messages.
    let r = invoke(
        &l,
        json!({"subscribe": {"user": "ann", "channel": "room:vip"}}),
    )
    .await;
    assert_eq!(r, json!({"connections": 2}));
    for ws in [&mut ann1, &mut ann2] {
        let s = recv_type(ws, "subscribed").await;
        assert_eq!(s["channel"], "room:vip");
        assert!(s.get("id").is_none());
    }
    invoke(&l, json!({"channel": "room:vip", "data": "hello vip"})).await;
    for ws in [&mut ann1, &mut ann2] {
        assert_eq!(recv_type(ws, "message").await["data"], "hello vip");
    }
    let h = invoke(&l, json!({"history": {"channel": "room:vip"}})).await;
    assert_eq!(h["messages"][0]["data"], "hello vip");

    // Ephemeral, echo false: bob hears ann type; ann's own socket does not.
    subscribe(&mut bob, "typing:x").await;
    subscribe(&mut ann1, "typing:x").await;
    send(
        &mut ann1,
        json!({"action":"publish","channel":"typing:x","data":{"typing":true},"ephemeral":true,"echo":false,"id":"t1"}),
    )
    .await;
    let ack = recv_type(&mut ann1, "ack").await;
    assert_eq!(
        ack,
        json!({"type":"ack","id":"t1","channel":"typing:x","ephemeral":true})
    );
    let m = recv_type(&mut bob, "message").await;
    assert_eq!((m["ephemeral"].clone(), m.get("seq")), (json!(true), None));
    send(&mut ann1, json!({"action":"ping","id":"after"})).await;
    let next = recv(&mut ann1).await;
    assert_eq!(next["type"], "pong", "no echo came first: {next}");

    // disconnect: each of ann's sockets gets the frame, then the close; bob
    // sees ann leave once.
    let r = invoke(
        &l,
        json!({"disconnect": {"user": "ann", "code": 4003, "reason": "banned"}}),
    )
    .await;
    assert_eq!(r, json!({"disconnected": 2}));
    for ws in [&mut ann1, &mut ann2] {
        let d = recv_type(ws, "disconnect").await;
        assert_eq!(
            d,
            json!({"type":"disconnect","code":4003,"reason":"banned","reconnect":false})
        );
        closed(ws).await;
    }
    let leave = recv_type(&mut bob, "leave").await;
    assert_eq!(
        leave,
        json!({"type":"leave","channel":"room:x","user":"ann"})
    );

    // revoke: bob's socket is told to reconnect and closed; his old token
    // is refused at the handshake, a new one is not.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let old = token("bob", caps, caps);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = invoke(&l, json!({"revoke": {"user": "bob"}})).await;
    assert_eq!(r, json!({"revoked": true, "disconnected": 1}));
    let d = recv_type(&mut bob, "disconnect").await;
    assert_eq!(d["reconnect"], true);
    closed(&mut bob).await;
    let refused = open(&local.url, &[("Authorization", &format!("Bearer {old}"))]).await;
    assert_eq!(refused.err(), Some(401));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_fresh, _) = client(&local.url, &token("bob", caps, caps)).await;

    // A bad request names what is wrong, with the request id.
    let e = invoke(&l, json!({"disconnect": {"user": "ann", "code": 1000}})).await;
    assert_eq!(e["error"]["code"], "bad_request");
    assert!(e["error"]["requestId"].is_string(), "{e}");
}

#[tokio::test]
async fn server_api_embedded() {
    the_backend_runs_the_room(opts()).await;
}

#[tokio::test]
async fn server_api_dynamodb_local() {
    the_backend_runs_the_room(dynamodb_opts()).await;
}
