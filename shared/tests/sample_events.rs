//! Runs every file in `events/` through its handler and checks the outcome,
//! so no sample event is decorative. Add an expectation when adding a file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, Harness};
use wsfn::handlers;
use wsfn::protocol::{ErrorCode, ServerFrame};

const CONNECTION: &str = "L0SM9cOFvHcCIhw=";

fn load(name: &str) -> wsfn::handlers::WsEvent {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{path} is not an API Gateway WebSocket event: {e}"))
}

enum Expect {
    Status(i64, Option<&'static str>),
    Reply(&'static str, Option<ErrorCode>),
}

fn expectation(name: &str) -> Expect {
    match name {
        "connect-subprotocol.json" => Expect::Status(200, Some("wsfn.v1")),
        "connect-authorization-header.json" | "connect-query-token.json" => {
            Expect::Status(200, None)
        }
        "connect-bad-token.json" => Expect::Status(401, None),
        "connect-bad-origin.json" => Expect::Status(403, None),
        "disconnect.json" => Expect::Status(200, None),
        "message-subscribe.json" => Expect::Reply("subscribed", None),
        "message-publish.json" => Expect::Reply("ack", None),
        "message-history.json" => Expect::Reply("history", None),
        "message-presence.json" => Expect::Reply("presence", None),
        "message-ping.json" => Expect::Reply("pong", None),
        "message-auth.json" => Expect::Reply("authed", None),
        "message-unsubscribe.json" => Expect::Reply("unsubscribed", None),
        "message-malformed.json" | "message-unknown-action.json" => {
            Expect::Reply("error", Some(ErrorCode::BadRequest))
        }
        "message-forbidden.json" => Expect::Reply("error", Some(ErrorCode::Forbidden)),
        other => panic!("events/{other} has no expectation in tests/sample_events.rs"),
    }
}

fn type_of(f: &ServerFrame) -> String {
    serde_json::to_value(f).unwrap()["type"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn every_sample_event_has_its_outcome(b: Backend) {
    let h = Harness::new(
        b,
        &[
            ("JWT_SECRET", "sample-events-secret"),
            ("ALLOWED_ORIGINS", "https://app.example.com"),
            ("MANAGEMENT_ENDPOINT", "http://127.0.0.1:9/local"),
        ],
    );
    let dir = format!("{}/../events", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    // Connects first, then messages in a meaningful order, disconnect last.
    // The server API's operations after the messages (the sample
    // connection is alice's), closing ones last.
    let order = |n: &str| match n {
        n if n.starts_with("connect-") => 0,
        "message-subscribe.json" => 1,
        "message-publish.json" => 2,
        n if n.starts_with("message-") || n == "fanout.json" => 3,
        "server-subscribe.json" => 4,
        "server-unsubscribe.json" => 5,
        "server-presence.json" | "server-history.json" => 6,
        "server-disconnect.json" => 7,
        "server-revoke.json" => 8,
        _ => 9,
    };
    files.sort_by_key(|n| (order(n), n.clone()));
    assert!(files.len() >= 24, "events/ lost files: {files:?}");
    for name in &files {
        if name == "publish.json" {
            // The server publish API's event (PublishFunction): per-message results.
            let path = format!("{dir}/{name}");
            let req: handlers::PublishRequest =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let r = handlers::publish_api(req, &h.app, &handlers::Invocation::default())
                .await
                .unwrap();
            let wire = serde_json::to_value(&r).unwrap();
            assert_eq!(
                wire["results"][0]["channel"], "room:lobby",
                "{name}: {wire}"
            );
            assert_eq!(
                wire["results"][1]["channel"], "user:alice",
                "{name}: {wire}"
            );
            assert_eq!(
                wire["results"][2]["error"]["code"], "bad_request",
                "{name}: {wire}"
            );
            continue;
        }
        if let Some(op) = name.strip_prefix("server-") {
            // The server API (PublishFunction): one operation per event.
            let path = format!("{dir}/{name}");
            let request: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let r = handlers::backend(request, &h.app, &handlers::Invocation::default())
                .await
                .unwrap();
            let ok = match op {
                "subscribe.json" | "unsubscribe.json" => r["connections"].as_u64() == Some(1),
                "presence.json" => r["type"] == "presence",
                "history.json" => {
                    r["type"] == "history"
                        && r["messages"].as_array().is_some_and(|m| !m.is_empty())
                }
                "disconnect.json" => r["disconnected"].as_u64() == Some(1),
                "revoke.json" => r["revoked"] == true,
                other => panic!("events/server-{other} has no expectation"),
            };
            assert!(ok, "{name}: {r}");
            continue;
        }
        if name == "fanout.json" {
            // A fan-out shard (FanoutFunction): pushes the frame to the
            // subscribers in its id range (the sample connection is one).
            let path = format!("{dir}/{name}");
            let task: wsfn::fanout::dispatch::FanoutTask =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert!(task.range.contains(CONNECTION), "{name}: range");
            let r = handlers::fanout(task, &h.app, &handlers::Invocation::default())
                .await
                .unwrap();
            assert_eq!(r.delivered, 1, "{name}: {r:?}");
            let frames = h.pusher.take(CONNECTION);
            assert!(
                frames.iter().any(|f| type_of(f) == "message"),
                "{name}: {frames:?}"
            );
            continue;
        }
        let event = load(name);
        let route = event.request_context.route_key.clone().unwrap_or_default();
        match (route.as_str(), expectation(name)) {
            ("$connect", Expect::Status(status, proto)) => {
                let r = handlers::connect(event, &h.app, &Default::default())
                    .await
                    .unwrap();
                assert_eq!(r.status_code, status, "{name}");
                let got = r
                    .headers
                    .get("sec-websocket-protocol")
                    .map(|v| v.to_str().unwrap().to_string());
                assert_eq!(got.as_deref(), proto, "{name}");
            }
            ("$disconnect", Expect::Status(status, _)) => {
                let r = handlers::disconnect(event, &h.app, &Default::default())
                    .await
                    .unwrap();
                assert_eq!(r.status_code, status, "{name}");
                assert_eq!(
                    h.backend.leftovers(CONNECTION).await,
                    0,
                    "{name} left items"
                );
            }
            ("$default", Expect::Reply(kind, code)) => {
                let r = handlers::message(event, &h.app, &Default::default())
                    .await
                    .unwrap();
                assert_eq!(r.status_code, 200, "{name}");
                let frames = h.pusher.take(CONNECTION);
                let first = frames.first().unwrap_or_else(|| panic!("{name}: no reply"));
                assert_eq!(type_of(first), kind, "{name}: {first:?}");
                if let Some(code) = code {
                    assert_eq!(
                        common::error_code(&frames).map(|e| e.1),
                        Some(code),
                        "{name}"
                    );
                }
            }
            (r, _) => panic!("{name}: route {r} does not match its expectation"),
        }
    }
}

both_backends!(every_sample_event_has_its_outcome);
