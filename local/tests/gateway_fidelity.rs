//! API Gateway behaviours of wsfn-local, each through real WebSocket clients:
//! the handshake, event shapes, route selection, frame limits, timeouts and
//! shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use futures::SinkExt;
use serde_json::json;
use support::*;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn handshake_waits_for_connect_and_passes_status_and_headers() {
    let local = Local::start(opts()).await;
    assert_eq!(open(&local.url, &[]).await.err(), Some(401), "no token");
    assert_eq!(
        open(&local.url, &[("Authorization", "Bearer not-a-jwt")])
            .await
            .err(),
        Some(401)
    );
    let t = token("alice", &[], &[]);
    let proto = format!("wsfn.v1, bearer.{t}");
    let (_ws, headers) = open(&local.url, &[("Sec-WebSocket-Protocol", &proto)])
        .await
        .unwrap();
    assert_eq!(
        headers.get("sec-websocket-protocol").map(String::as_str),
        Some("wsfn.v1")
    );
    let (_ws2, _) = open(&format!("{}/?token={t}", local.url), &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn handshake_403_and_429_from_template_parameters() {
    let mut o = opts();
    o.parameters
        .insert("AllowedOrigins".into(), "https://app.example.com".into());
    o.parameters
        .insert("MaxConnectionsPerUser".into(), "1".into());
    let local = Local::start(o).await;
    let t = format!("Bearer {}", token("alice", &[], &[]));
    assert_eq!(
        open(
            &local.url,
            &[
                ("Authorization", &t),
                ("Origin", "https://evil.example.com")
            ]
        )
        .await
        .err(),
        Some(403)
    );
    let (_first, _) = open(
        &local.url,
        &[("Authorization", &t), ("Origin", "https://app.example.com")],
    )
    .await
    .unwrap();
    assert_eq!(
        open(&local.url, &[("Authorization", &t)]).await.err(),
        Some(429)
    );
}

#[tokio::test]
async fn events_are_shaped_like_aws() {
    let local = Local::start(opts()).await;
    let t = token("alice", &[], &[]);
    let (mut ws, _) = open(
        &format!("{}/?token={t}&x=1", local.url),
        &[
            ("User-Agent", "e2e-test"),
            ("Origin", "http://localhost:5173"),
        ],
    )
    .await
    .unwrap();
    send(&mut ws, json!({"action":"ping"})).await;
    let id = recv_type(&mut ws, "pong").await["connection"]
        .as_str()
        .unwrap()
        .to_string();
    // `ping` is answered by the gateway (MOCK route): the function sees the
    // next frame, on `$default`.
    let frame = json!({"action":"history","channel":"user:alice"});
    send(&mut ws, frame.clone()).await;
    recv_type(&mut ws, "history").await;
    ws.close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: 1000.into(),
        reason: "bye".into(),
    }))
    .await
    .unwrap();
    let disconnect = local.disconnect_event(&id).await;
    let events = local.events_of(&id);
    let connect = &events[0];
    let c = &connect["requestContext"];
    assert_eq!(c["routeKey"], "$connect");
    assert_eq!(c["eventType"], "CONNECT");
    assert_eq!(c["stage"], "local");
    assert_eq!(c["domainName"], local.running().addr.to_string());
    assert_eq!(c["identity"]["sourceIp"], "127.0.0.1");
    assert!(c["connectedAt"].as_u64().unwrap() > 1_700_000_000_000);
    assert!(c["requestTimeEpoch"].as_u64().unwrap() >= c["connectedAt"].as_u64().unwrap());
    assert!(c["requestId"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(c["apiId"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(c.get("messageId").is_none(), "no messageId on connect");
    assert!(id.ends_with('='), "API Gateway style id: {id}");
    assert_eq!(connect["headers"]["Origin"], "http://localhost:5173");
    assert_eq!(connect["headers"]["User-Agent"], "e2e-test");
    assert!(connect["headers"]["Sec-WebSocket-Key"].is_string());
    assert_eq!(
        connect["multiValueHeaders"]["Origin"],
        json!(["http://localhost:5173"])
    );
    assert_eq!(connect["queryStringParameters"]["x"], "1");
    assert_eq!(
        connect["multiValueQueryStringParameters"]["token"],
        json!([t])
    );
    let message = events
        .iter()
        .find(|e| e["requestContext"]["eventType"] == "MESSAGE")
        .unwrap();
    assert_eq!(message["requestContext"]["routeKey"], "$default");
    assert!(message["requestContext"]["messageId"].is_string());
    assert_eq!(message["body"], frame.to_string());
    let d = &disconnect["requestContext"];
    assert_eq!(d["routeKey"], "$disconnect");
    assert_eq!(d["disconnectStatusCode"], 1000);
    assert_eq!(d["disconnectReason"], "bye");
    assert_eq!(d["connectedAt"], c["connectedAt"]);
}

/// The project template with a route key added, or `$default` removed.
fn template_variant(edit: &dyn Fn(String) -> String) -> String {
    let text = std::fs::read_to_string(TEMPLATE).unwrap();
    let path = std::env::temp_dir().join(format!("wsfn-template-{}.yaml", rand::random::<u64>()));
    std::fs::write(&path, edit(text)).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn route_selection_by_body_path_and_default() {
    let mut o = opts();
    // Route the `history` action to its own route (same function).
    o.template = template_variant(&|t| {
        t.replace(
            "  DefaultRoute:\n",
            "  HistoryRoute:\n    Type: AWS::ApiGatewayV2::Route\n    Properties:\n      ApiId: !Ref WebSocketApi\n      RouteKey: history\n      Target: !Join [\"/\", [\"integrations\", !Ref MessageIntegration]]\n  DefaultRoute:\n",
        )
    });
    let local = Local::start(o).await;
    let (mut ws, id) = client(&local.url, &token("alice", &[], &[])).await;
    send(&mut ws, json!({"action":"history","channel":"user:alice"})).await;
    recv_type(&mut ws, "history").await;
    send(
        &mut ws,
        json!({"action":"subscribe","channel":"user:alice"}),
    )
    .await;
    recv_type(&mut ws, "subscribed").await;
    ws.send(Message::Text("not json at all".into()))
        .await
        .unwrap();
    assert_eq!(recv(&mut ws).await["code"], "bad_request");
    let routes: Vec<String> = local
        .events_of(&id)
        .iter()
        .filter(|e| e["requestContext"]["eventType"] == "MESSAGE")
        .map(|e| {
            e["requestContext"]["routeKey"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(routes, vec!["history", "$default", "$default"]);
}

#[tokio::test]
async fn without_default_route_unmatched_frames_get_aws_error() {
    let mut o = opts();
    o.template = template_variant(&|t| t.replace("RouteKey: $default", "RouteKey: history"));
    let local = Local::start(o).await;
    let (mut ws, id) = client(&local.url, &token("alice", &[], &[])).await;
    send(
        &mut ws,
        json!({"action":"subscribe","channel":"user:alice"}),
    )
    .await;
    let reply = recv(&mut ws).await;
    assert_eq!(reply["message"], "Forbidden");
    assert_eq!(reply["connectionId"], id);
    assert!(reply["requestId"].is_string());
    // The connection stays up.
    send(&mut ws, json!({"action":"ping"})).await;
    recv_type(&mut ws, "pong").await;
}

#[tokio::test]
async fn binary_frames_close_1003() {
    let local = Local::start(opts()).await;
    let (mut ws, id) = client(&local.url, &token("alice", &[], &[])).await;
    ws.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(closed(&mut ws).await.0, 1003);
    let d = local.disconnect_event(&id).await;
    assert_eq!(d["requestContext"]["disconnectStatusCode"], 1003);
}

#[tokio::test]
async fn oversized_frames_close_1009() {
    let local = Local::start(opts()).await;
    let (mut ws, id) = client(&local.url, &token("alice", &[], &[])).await;
    // Just under 32 KB passes the gateway and the function.
    let fits = format!(
        r#"{{"action":"ping","pad":"{}"}}"#,
        "x".repeat(32 * 1024 - 40)
    );
    ws.send(Message::Text(fits.into())).await.unwrap();
    assert_eq!(recv(&mut ws).await["type"], "pong");
    let big = format!(r#"{{"action":"ping","pad":"{}"}}"#, "x".repeat(33 * 1024));
    ws.send(Message::Text(big.into())).await.unwrap();
    assert_eq!(closed(&mut ws).await.0, 1009);
    assert_eq!(
        local.disconnect_event(&id).await["requestContext"]["disconnectStatusCode"],
        1009
    );
}

#[tokio::test]
async fn fragmented_message_over_128kb_closes_1009() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    let local = Local::start(opts()).await;
    let (mut ws, id) = client(&local.url, &token("alice", &[], &[])).await;
    // Five 30 KB frames: each under the 32 KB frame limit, 150 KB in all.
    let chunk = "x".repeat(30 * 1024);
    for i in 0..5 {
        let opcode = if i == 0 {
            OpCode::Data(Data::Text)
        } else {
            OpCode::Data(Data::Continue)
        };
        let frame = Frame::message(chunk.clone().into_bytes(), opcode, i == 4);
        if ws.send(Message::Frame(frame)).await.is_err() {
            break;
        }
    }
    assert_eq!(closed(&mut ws).await.0, 1009);
    assert_eq!(
        local.disconnect_event(&id).await["requestContext"]["disconnectStatusCode"],
        1009
    );
}

#[tokio::test]
async fn idle_timeout_closes_1001_and_fires_disconnect() {
    let mut o = opts();
    o.idle_timeout = Duration::from_millis(800);
    let local = Local::start(o).await;
    let (mut ws, id) = client(&local.url, &token("alice", &[], &[])).await;
    let started = std::time::Instant::now();
    assert_eq!(closed(&mut ws).await.0, 1001);
    assert!(started.elapsed() >= Duration::from_millis(600));
    let d = local.disconnect_event(&id).await;
    assert_eq!(d["requestContext"]["disconnectStatusCode"], 1001);
    assert_eq!(local.running().gateway.connections.len(), 0);
}

#[tokio::test]
async fn max_duration_closes_1001_even_when_active() {
    let mut o = opts();
    o.max_duration = Duration::from_millis(1500);
    let local = Local::start(o).await;
    let (mut ws, id) = client(&local.url, &token("alice", &[], &[])).await;
    // Keep it busy: activity does not extend the hard cap.
    for _ in 0..3 {
        send(&mut ws, json!({"action":"ping"})).await;
        recv_type(&mut ws, "pong").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(closed(&mut ws).await.0, 1001);
    local.disconnect_event(&id).await;
}

#[tokio::test]
async fn shutdown_closes_every_socket_1001_and_runs_disconnects() {
    let mut local = Local::start(opts()).await;
    let mut sockets = vec![];
    for user in ["a", "b", "c"] {
        sockets.push(client(&local.url, &token(user, &[], &[])).await);
    }
    let running = local.running.take().unwrap();
    let gw = running.gateway.clone();
    let shutdown = tokio::spawn(running.shutdown());
    for (ws, _) in sockets.iter_mut() {
        assert_eq!(closed(ws).await.0, 1001);
    }
    shutdown.await.unwrap();
    for (_, id) in &sockets {
        let d = local.disconnect_event(id).await;
        assert_eq!(d["requestContext"]["disconnectStatusCode"], 1001);
    }
    assert_eq!(gw.connections.len(), 0);
}

/// 10 simultaneous upgrades of one user with MAX_CONNECTIONS_PER_USER=3:
/// 3 get 101, 7 get 429, on both stores.
#[tokio::test]
async fn simultaneous_upgrades_respect_the_user_limit() {
    for mut o in [opts(), dynamodb_opts()] {
        o.environment
            .insert("MAX_CONNECTIONS_PER_USER".into(), "3".into());
        let local = Local::start(o).await;
        let auth = format!("Bearer {}", token("alice", &[], &[]));
        let headers = [("Authorization", auth.as_str())];
        let attempts = (0..10).map(|_| open(&local.url, &headers));
        let results = futures::future::join_all(attempts).await;
        let mut statuses: Vec<u16> = results
            .iter()
            .map(|r| match r {
                Ok(_) => 101,
                Err(status) => *status,
            })
            .collect();
        statuses.sort();
        assert_eq!(statuses, [vec![101; 3], vec![429; 7]].concat());
    }
}

/// A client that stops reading: the outbound queue is bounded (POST answers
/// 429 once it is full) and DELETE @connections and the idle timeout still
/// close the socket and fire `$disconnect`.
#[tokio::test]
async fn a_client_that_stops_reading_does_not_pin_its_socket() {
    let mut o = opts();
    // Generous: filling the queue takes ~1 s idle, several under CI load.
    o.idle_timeout = Duration::from_secs(12);
    let local = Local::start(o).await;
    let mgmt = local.management(true);
    let payload = vec![b'x'; 100 * 1024];
    for close_by_delete in [true, false] {
        let (ws, id) = client(&local.url, &token("slow", &[], &[])).await;
        let opened = std::time::Instant::now();
        // The client never reads from `ws` again.
        let mut throttled = false;
        for _ in 0..2000 {
            let r = mgmt
                .post_to_connection()
                .connection_id(&id)
                .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(
                    payload.clone(),
                ))
                .send()
                .await;
            match r {
                Ok(_) => {}
                Err(e) => {
                    let status = e.raw_response().map(|r| r.status().as_u16());
                    assert_eq!(status, Some(429), "{e:?}");
                    throttled = true;
                    break;
                }
            }
        }
        assert!(
            throttled,
            "the queue of a client that does not read is bounded"
        );
        assert!(
            opened.elapsed() < Duration::from_secs(10),
            "filled before the idle timeout"
        );
        let started = std::time::Instant::now();
        if close_by_delete {
            mgmt.delete_connection()
                .connection_id(&id)
                .send()
                .await
                .expect("DELETE works while writes are blocked");
        }
        // The idle timeout runs from the last inbound frame (12 s), then the
        // close handshake waits (bounded) on a client that does not answer.
        let d = local
            .disconnect_event_within(&id, Duration::from_secs(25))
            .await;
        let expected = if close_by_delete { 1000 } else { 1001 };
        assert_eq!(d["requestContext"]["disconnectStatusCode"], expected);
        assert!(started.elapsed() < Duration::from_secs(25));
        drop(ws);
    }
}
