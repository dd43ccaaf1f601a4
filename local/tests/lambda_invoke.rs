//! The Lambda Invoke API on wsfn-local: a backend publishes through
//! PublishFunction by name or ARN, synchronously or as an Event, and every
//! subscriber (real sockets) gets the message once; both stores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;

use serde_json::{json, Value};
use support::{client, dynamodb_opts, opts, recv_type, send, token, Local};
use wsfn_local::Options;

/// POSTs an invocation; returns status, the named response headers, body.
async fn invoke(
    addr: SocketAddr,
    function: &str,
    kind: &str,
    body: &Value,
) -> (u16, String, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = body.to_string();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /2015-03-31/functions/{function}/invocations HTTP/1.1\r\nHost: x\r\nX-Amz-Invocation-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = serde_json::from_str(body).unwrap_or(Value::Null);
    (status, head.to_ascii_lowercase(), body)
}

async fn publish_through_the_invoke_api(o: Options) {
    let local = Local::start(o).await;
    let addr = local.running().addr;
    let mut subs = Vec::new();
    for user in ["ann", "bob"] {
        let (mut ws, _) = client(&local.url, &token(user, &["room:*"], &[])).await;
        send(&mut ws, json!({"action":"subscribe","channel":"room:x"})).await;
        recv_type(&mut ws, "subscribed").await;
        subs.push(ws);
    }
    let (status, _, body) = invoke(
        addr,
        "PublishFunction",
        "RequestResponse",
        &json!({"messages": [{"channel": "room:x", "data": {"n": 1}, "id": "e1"}, {"channel": "no spaces allowed", "data": 1}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["results"][0],
        json!({"channel": "room:x", "seq": 1, "duplicate": false})
    );
    assert_eq!(body["results"][1]["error"]["code"], "bad_request");
    for ws in subs.iter_mut() {
        let m = recv_type(ws, "message").await;
        assert_eq!(
            (m["seq"].as_u64(), m["from"].as_str()),
            (Some(1), Some("@server"))
        );
    }
    // By ARN, asynchronously: 202 at once, delivered shortly after.
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:PublishFunction";
    let (status, _, _) = invoke(addr, arn, "Event", &json!({"channel": "room:x", "data": 2})).await;
    assert_eq!(status, 202);
    for ws in subs.iter_mut() {
        assert_eq!(recv_type(ws, "message").await["seq"], 2);
    }
    // A retried server publish is acknowledged, not delivered again.
    let (_, _, again) = invoke(
        addr,
        "PublishFunction",
        "RequestResponse",
        &json!({"channel": "room:x", "data": {"n": 1}, "id": "e1"}),
    )
    .await;
    assert_eq!(
        again["results"][0],
        json!({"channel": "room:x", "seq": 1, "duplicate": true})
    );
    // Unknown functions answer as Lambda does.
    let (status, head, _) = invoke(addr, "NoSuchFunction", "RequestResponse", &json!({})).await;
    assert_eq!(status, 404);
    assert!(
        head.contains("x-amzn-errortype: resourcenotfoundexception"),
        "{head}"
    );
    // A WebSocket route function invoked with a non-event is a function error.
    let (status, head, body) =
        invoke(addr, "MessageFunction", "RequestResponse", &json!({"x": 1})).await;
    assert_eq!(status, 200);
    assert!(head.contains("x-amz-function-error: unhandled"), "{head}");
    assert!(body["errorMessage"].is_string());
}

#[tokio::test]
async fn invoke_api_embedded() {
    publish_through_the_invoke_api(opts()).await;
}

#[tokio::test]
async fn invoke_api_dynamodb_local() {
    publish_through_the_invoke_api(dynamodb_opts()).await;
}

/// The real `aws-sdk-lambda` client against wsfn-local's Invoke API, as a
/// backend would call PublishFunction on AWS.
#[tokio::test]
async fn the_aws_sdk_lambda_client_publishes() {
    use aws_sdk_lambda::primitives::Blob;
    let local = Local::start(opts()).await;
    let (mut ws, _) = client(&local.url, &token("ann", &["room:*"], &[])).await;
    send(&mut ws, json!({"action":"subscribe","channel":"room:sdk"})).await;
    recv_type(&mut ws, "subscribed").await;
    let conf = aws_sdk_lambda::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_lambda::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "k", "s", None, None, "t",
        ))
        .endpoint_url(format!("http://{}", local.running().addr))
        .build();
    let lambda = aws_sdk_lambda::Client::from_conf(conf);
    let out = lambda
        .invoke()
        .function_name("PublishFunction")
        .payload(Blob::new(
            json!({"channel": "room:sdk", "data": {"via": "sdk"}}).to_string(),
        ))
        .send()
        .await
        .expect("invoke");
    assert_eq!(out.status_code(), 200);
    assert!(out.function_error().is_none());
    let body: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(body["results"][0]["seq"], 1);
    assert_eq!(recv_type(&mut ws, "message").await["data"]["via"], "sdk");
    let err = lambda
        .invoke()
        .function_name("arn:aws:lambda:us-east-1:123456789012:function:Missing")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{err:?}"
    );
}
