//! End-to-end harness: a real gateway on a free loopback port, real WebSocket
//! clients, the real management API client, and an invoker layer that
//! records every event (and can drop `$disconnect`s, as AWS sometimes does).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wsfn::aws_lambda_events::apigw::ApiGatewayProxyResponse;
use wsfn_local::invoker::{InvokeError, Invoker};
use wsfn_local::{start_with, Options, Running};

pub(crate) const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");

/// Records events and optionally swallows `$disconnect` for chosen ids.
pub(crate) struct Recorder {
    inner: Arc<dyn Invoker>,
    pub events: Mutex<Vec<Value>>,
    pub swallow_disconnect: Mutex<Vec<String>>,
    /// Invoke API invocations: function and event.
    pub invoked: Mutex<Vec<(String, Value)>>,
}

#[async_trait]
impl Invoker for Recorder {
    async fn invoke(
        &self,
        function: &str,
        event: Value,
    ) -> Result<ApiGatewayProxyResponse, InvokeError> {
        self.events.lock().unwrap().push(event.clone());
        let ctx = &event["requestContext"];
        if ctx["eventType"] == "DISCONNECT" {
            let id = ctx["connectionId"].as_str().unwrap_or_default().to_string();
            if self.swallow_disconnect.lock().unwrap().contains(&id) {
                return Ok(ApiGatewayProxyResponse::default());
            }
        }
        self.inner.invoke(function, event).await
    }

    async fn invoke_json(&self, function: &str, event: Value) -> Result<Value, InvokeError> {
        self.invoked
            .lock()
            .unwrap()
            .push((function.to_string(), event.clone()));
        self.inner.invoke_json(function, event).await
    }
}

pub(crate) struct Local {
    pub running: Option<Running>,
    pub recorder: Arc<Recorder>,
    pub url: String,
}

pub(crate) fn opts() -> Options {
    let mut o = Options::new(TEMPLATE);
    o.listen = "127.0.0.1:0".parse().unwrap();
    o.quiet = true;
    o
}

pub(crate) fn dynamodb_opts() -> Options {
    let mut o = opts();
    o.dynamodb_endpoint = Some(
        std::env::var("WSFN_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
            panic!("WSFN_TEST_DYNAMODB_ENDPOINT is not set: run the tests with scripts/test.sh")
        }),
    );
    // Each gateway gets a table of its own (created from the template's definition).
    o.environment.insert(
        "TABLE_NAME".into(),
        format!("wsfn-e2e-{:x}", rand::random::<u64>()),
    );
    // WSFN_TEST_INVOKER=runtime-api runs these tests through the real
    // binaries (.ci/run does, after the in-process run).
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

impl Local {
    pub(crate) async fn start(o: Options) -> Self {
        let mut slot = None;
        let running = start_with(o, |inner| {
            let r = Arc::new(Recorder {
                inner,
                events: Mutex::new(vec![]),
                swallow_disconnect: Mutex::new(vec![]),
                invoked: Mutex::new(vec![]),
            });
            slot = Some(r.clone());
            r
        })
        .await
        .expect("gateway starts");
        let url = running.ws_url();
        Self {
            running: Some(running),
            recorder: slot.unwrap(),
            url,
        }
    }

    pub(crate) fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    /// Real management API client against this gateway.
    pub(crate) fn management(&self, with_stage: bool) -> aws_sdk_apigatewaymanagement::Client {
        let r = self.running();
        let endpoint = if with_stage {
            r.management_endpoint()
        } else {
            format!("http://{}", r.addr)
        };
        let conf = aws_sdk_apigatewaymanagement::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_apigatewaymanagement::config::Region::new(
                "us-east-1",
            ))
            .credentials_provider(aws_sdk_apigatewaymanagement::config::Credentials::new(
                "k", "s", None, None, "t",
            ))
            .endpoint_url(endpoint)
            .build();
        aws_sdk_apigatewaymanagement::Client::from_conf(conf)
    }

    pub(crate) fn events_of(&self, connection: &str) -> Vec<Value> {
        self.recorder
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["requestContext"]["connectionId"] == connection)
            .cloned()
            .collect()
    }

    /// Waits (bounded: 5 s) until a `$disconnect` for `connection` was invoked.
    pub(crate) async fn disconnect_event(&self, connection: &str) -> Value {
        self.disconnect_event_within(connection, Duration::from_secs(5))
            .await
    }

    /// Waits up to `limit` until a `$disconnect` for `connection` was invoked.
    pub(crate) async fn disconnect_event_within(&self, connection: &str, limit: Duration) -> Value {
        let polls = (limit.as_millis() / 50).max(1);
        for _ in 0..polls {
            if let Some(e) = self
                .events_of(connection)
                .into_iter()
                .find(|e| e["requestContext"]["eventType"] == "DISCONNECT")
            {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no $disconnect for {connection}");
    }
}

pub(crate) fn token(sub: &str, subscribe: &[&str], publish: &[&str]) -> String {
    wsfn::testkit::token(wsfn::testkit::DEV_SECRET, sub, subscribe, publish)
}

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a socket with extra headers; Err carries the HTTP status of a refusal.
pub(crate) async fn open(
    url: &str,
    headers: &[(&str, &str)],
) -> Result<(Ws, HashMap<String, String>), u16> {
    let mut req = url.into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, resp)) => {
            let h = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        v.to_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            Ok((ws, h))
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("connect failed unexpectedly: {e}"),
    }
}

/// Opens a socket with a bearer token and learns its connection id via ping.
pub(crate) async fn client(url: &str, token: &str) -> (Ws, String) {
    let (mut ws, _) = open(url, &[("Authorization", &format!("Bearer {token}"))])
        .await
        .expect("connect");
    send(&mut ws, json!({"action":"ping","id":"whoami"})).await;
    let pong = recv_type(&mut ws, "pong").await;
    let id = pong["connection"].as_str().unwrap().to_string();
    (ws, id)
}

pub(crate) async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// Next text frame as JSON (5 s bound).
pub(crate) async fn recv(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("socket open")
            .expect("frame ok");
        match m {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Close(c) => panic!("closed: {c:?}"),
            _ => {}
        }
    }
}

/// Skips frames until one of `kind` arrives.
pub(crate) async fn recv_type(ws: &mut Ws, kind: &str) -> Value {
    for _ in 0..50 {
        let v = recv(ws).await;
        if v["type"] == kind {
            return v;
        }
    }
    panic!("no {kind} frame");
}

/// Waits for the close frame; returns its code and reason.
pub(crate) async fn closed(ws: &mut Ws) -> (u16, String) {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("closed within 10 s");
        match m {
            Some(Ok(Message::Close(Some(f)))) => return (u16::from(f.code), f.reason.to_string()),
            Some(Ok(Message::Close(None))) => return (1005, String::new()),
            Some(Ok(_)) => {}
            other => panic!("no close frame: {other:?}"),
        }
    }
}

/// One plain HTTP/1.1 request to the gateway's port; returns the status and
/// the body parsed as JSON (`Null` when it is not JSON).
pub(crate) async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}
