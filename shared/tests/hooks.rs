//! Hooks (protocol §6) on both stores, against a real HTTP hook server on
//! loopback: who decides, what the hook may change, what a refusal leaves
//! (nothing), and that every failure is closed (`unavailable`, 503).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod hook_server;

use std::time::Duration;

use common::{error_code, messages, token, Backend, Harness};
use hook_server::{Answer, HookServer, SECRET};
use serde_json::{json, Value};
use wsfn::channel::ChannelName;
use wsfn::protocol::{ErrorCode, ServerFrame};

/// A harness whose hooks all go to `server`, with `hooks` naming which.
fn harness(b: Backend, server: &HookServer, hooks: Value, extra: &[(&str, &str)]) -> Harness {
    let hooks = serde_json::to_string(&fill(hooks, &server.url)).unwrap();
    let mut env = vec![
        ("HOOKS", hooks.as_str()),
        ("HOOK_SECRET", SECRET),
        ("PRESENCE_EVENTS", "room:*"),
    ];
    env.extend_from_slice(extra);
    Harness::new(b, &env)
}

/// Replaces every `"URL"` in `hooks` with `url`.
fn fill(hooks: Value, url: &str) -> Value {
    match hooks {
        Value::String(s) if s == "URL" => Value::String(url.into()),
        Value::Object(m) => m.into_iter().map(|(k, v)| (k, fill(v, url))).collect(),
        other => other,
    }
}

fn everything() -> String {
    token("ann", &["room:*", "news:*"], &["room:*", "news:*"])
}

async fn head_seq(h: &Harness, channel: &str) -> u64 {
    let c = ChannelName::parse(channel).unwrap();
    h.app
        .store
        .read_head(&c)
        .await
        .unwrap()
        .map_or(0, |x| x.seq)
}

fn as_json(frames: &[ServerFrame]) -> Vec<Value> {
    frames
        .iter()
        .map(|f| serde_json::to_value(f).unwrap())
        .collect()
}

async fn connect_hook_decides_and_grants(b: Backend) {
    let server = HookServer::start(
        |req| match req["claims"]["sub"].as_str().unwrap_or_default() {
            "eve" => {
                Answer::json(json!({"allow": false, "code": "forbidden", "message": "banned"}))
            }
            "who" => Answer::json(json!({"allow": false, "code": "unauthorized"})),
            "many" => Answer::json(json!({"allow": false, "code": "limit_exceeded"})),
            _ => Answer::json(json!({"allow": true, "info": {"name": "Ann"},
                "subscribe": ["team:*"], "channels": ["room:lobby"]})),
        },
    )
    .await;
    let h = harness(b, &server, json!({"connect": "URL"}), &[]);
    // Refusals: the status the code maps to, and nothing stored.
    for (id, user, status) in [
        ("e1=", "eve", 403),
        ("w1=", "who", 401),
        ("m1=", "many", 429),
    ] {
        let t = token(user, &["room:*"], &[]);
        let auth = format!("Bearer {t}");
        let (got, _) = h
            .connect_with(
                id,
                &[("Authorization", &auth), ("Origin", "https://app.test")],
                &[],
            )
            .await;
        assert_eq!(got, status, "{user}");
        assert_eq!(
            h.backend.leftovers(id).await,
            0,
            "a refused connect stores nothing"
        );
    }
    // The request: signed, with the connection, user, claims, headers, ip, request id.
    let req = server.received().into_iter().next().unwrap();
    assert!(req.signed, "signed with HOOK_SECRET");
    let body = req.body;
    assert_eq!(body["hook"], "connect");
    assert_eq!(body["connection"], "e1=");
    assert_eq!(body["user"], "eve");
    assert_eq!(body["claims"]["subscribe"], json!(["room:*"]));
    assert_eq!(body["headers"]["origin"], "https://app.test");
    assert_eq!(body["sourceIp"], "127.0.0.1");
    assert!(body["requestId"]
        .as_str()
        .is_some_and(|r| r.starts_with("req-")));

    // Allowed: the channel is subscribed server-side, the pattern granted,
    // the info shown in presence.
    h.connect("a1=", &token("ann", &[], &[])).await;
    h.connect("p1=", &token("pub", &[], &["room:*"])).await;
    h.received("a1=");
    h.send(
        "p1=",
        json!({"action":"publish","channel":"room:lobby","data":"hi"}),
    )
    .await;
    let got = messages(&h.received("a1="));
    assert_eq!(got.len(), 1, "delivered on the hook's channel");
    let r = h
        .send("a1=", json!({"action":"subscribe","channel":"team:red"}))
        .await;
    assert!(matches!(r[0], ServerFrame::Subscribed { .. }), "{r:?}");
    let r = h
        .send("a1=", json!({"action":"subscribe","channel":"room:x"}))
        .await;
    assert_eq!(
        error_code(&r).unwrap().1,
        ErrorCode::Forbidden,
        "not granted"
    );
    let r = as_json(
        &h.send("a1=", json!({"action":"presence","channel":"room:lobby"}))
            .await,
    );
    let ann = r[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"] == "ann")
        .cloned()
        .unwrap();
    assert_eq!(ann["info"], json!({"name": "Ann"}));
    // A token refresh keeps what the hook granted.
    let r = h
        .send(
            "a1=",
            json!({"action":"auth","token": token("ann", &[], &[])}),
        )
        .await;
    assert!(matches!(r[0], ServerFrame::Authed { .. }), "{r:?}");
    let r = h
        .send("a1=", json!({"action":"subscribe","channel":"team:blue"}))
        .await;
    assert!(matches!(r[0], ServerFrame::Subscribed { .. }), "{r:?}");
}

async fn subscribe_hook_decides_for_its_channels(b: Backend) {
    let server = HookServer::start(|req| {
        Answer::json(match req["channel"].as_str() {
            Some("room:ok") => json!({"allow": true}),
            _ => json!({"allow": false, "code": "forbidden", "message": "not a member"}),
        })
    })
    .await;
    let h = harness(
        b,
        &server,
        json!({"subscribe": {"target": "URL", "channels": ["room:*"]}}),
        &[],
    );
    h.connect("a1=", &everything()).await;
    let r = h
        .send(
            "a1=",
            json!({"action":"subscribe","channel":"room:ok","id":"1"}),
        )
        .await;
    assert!(matches!(r[0], ServerFrame::Subscribed { .. }), "{r:?}");
    // The token allows room:*, but the hook decides: refused, not stored.
    let r = as_json(
        &h.send(
            "a1=",
            json!({"action":"subscribe","channel":"room:no","id":"2"}),
        )
        .await,
    );
    assert_eq!(
        (r[0]["code"].as_str(), r[0]["message"].as_str()),
        (Some("forbidden"), Some("not a member"))
    );
    assert_eq!(r[0]["id"], "2");
    let no = ChannelName::parse("room:no").unwrap();
    assert!(!h.app.store.is_subscribed("a1=", &no).await.unwrap());
    // Channels it does not cover, and the personal channel: the token, no call.
    let before = server.calls("subscribe").len();
    let r = h
        .send("a1=", json!({"action":"subscribe","channel":"news:1"}))
        .await;
    assert!(matches!(r[0], ServerFrame::Subscribed { .. }), "{r:?}");
    h.send("a1=", json!({"action":"subscribe","channel":"user:ann"}))
        .await;
    assert_eq!(
        server.calls("subscribe").len(),
        before,
        "no call outside its channels"
    );
    // History and presence of a hooked channel: a subscription is the proof.
    for action in ["history", "presence"] {
        let r = h
            .send("a1=", json!({"action":action,"channel":"room:no"}))
            .await;
        assert_eq!(error_code(&r).unwrap().1, ErrorCode::Forbidden, "{action}");
        let r = h
            .send("a1=", json!({"action":action,"channel":"room:ok"}))
            .await;
        assert!(error_code(&r).is_none(), "{action}: {r:?}");
    }
    assert_eq!(
        server.calls("subscribe").len(),
        before,
        "history/presence call nothing"
    );
}

async fn publish_hook_runs_before_sequencing(b: Backend) {
    let server = HookServer::start(|req| {
        Answer::json(match req["data"]["text"].as_str() {
            Some(t) if t.contains("spam") => {
                json!({"allow": false, "code": "bad_request", "message": "no spam"})
            }
            Some(t) => json!({"allow": true, "data": {"text": t.replace("darn", "****")}}),
            None => json!({"allow": true}),
        })
    })
    .await;
    let h = harness(
        b,
        &server,
        json!({"publish": {"target": "URL", "channels": ["room:*"]}}),
        &[],
    );
    h.connect("a1=", &everything()).await;
    h.connect("b1=", &token("bob", &["room:*"], &[])).await;
    h.send("b1=", json!({"action":"subscribe","channel":"room:1"}))
        .await;
    h.received("b1=");
    // Refused: no seq taken, nothing delivered.
    let r = h
        .send(
            "a1=",
            json!({"action":"publish","channel":"room:1","data":{"text":"spam"},"id":"p0"}),
        )
        .await;
    assert_eq!(error_code(&r).unwrap().1, ErrorCode::BadRequest);
    assert_eq!(
        head_seq(&h, "room:1").await,
        0,
        "a refused publish takes no seq"
    );
    assert!(messages(&h.received("b1=")).is_empty());
    // Rewritten: what is stored and delivered is the replacement.
    let r = h
        .send(
            "a1=",
            json!({"action":"publish","channel":"room:1","data":{"text":"darn it"},"id":"p1"}),
        )
        .await;
    assert!(matches!(r[0], ServerFrame::Ack { seq: 1, .. }), "{r:?}");
    assert_eq!(
        messages(&h.received("b1="))[0].data,
        json!({"text": "**** it"})
    );
    let calls = server.calls("publish").len();
    assert_eq!(server.calls("publish")[1]["id"], "p1");
    // The retry (same id, same payload): the original ack, no second call.
    let r = as_json(
        &h.send(
            "a1=",
            json!({"action":"publish","channel":"room:1","data":{"text":"darn it"},"id":"p1"}),
        )
        .await,
    );
    assert_eq!(
        (r[0]["seq"].as_u64(), r[0]["duplicate"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(
        server.calls("publish").len(),
        calls,
        "a retry does not call the hook"
    );
    assert!(messages(&h.received("b1=")).is_empty());
    // Another payload under that id is still refused.
    let r = h
        .send(
            "a1=",
            json!({"action":"publish","channel":"room:1","data":{"text":"other"},"id":"p1"}),
        )
        .await;
    assert_eq!(error_code(&r).unwrap().1, ErrorCode::BadRequest);
    // Outside its channels: the token decides, no call.
    h.send(
        "a1=",
        json!({"action":"publish","channel":"news:1","data":{"text":"spam"}}),
    )
    .await;
    assert_eq!(head_seq(&h, "news:1").await, 1);
    // Simultaneous publishes: one call each, gap-free seqs.
    let sends = (0..12).map(|i| {
        h.send("a1=", json!({"action":"publish","channel":"room:2","data":{"text":format!("m{i}")},"id":format!("c{i}")}))
    });
    // One connection's replies land wherever its sends are waiting: the
    // acks are counted over all of them.
    let mut replies: Vec<ServerFrame> = futures::future::join_all(sends)
        .await
        .into_iter()
        .flatten()
        .collect();
    replies.extend(h.received("a1="));
    let mut seqs: Vec<u64> = replies
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Ack { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=12).collect::<Vec<_>>(), "{replies:?}");
    let room2 = server
        .calls("publish")
        .into_iter()
        .filter(|c| c["channel"] == "room:2")
        .count();
    assert_eq!(room2, 12);
}

async fn rpc_calls_the_hook(b: Backend) {
    let server = HookServer::start(|req| {
        Answer::json(match req["method"].as_str() {
            Some("sum") => json!({"data": req["data"].as_array().map_or(0, |a| a.iter().filter_map(Value::as_i64).sum::<i64>())}),
            _ => json!({"error": {"code": "bad_request", "message": "no such method"}}),
        })
    })
    .await;
    let h = harness(b, &server, json!({"rpc": "URL"}), &[]);
    h.connect("a1=", &everything()).await;
    let r = as_json(
        &h.send(
            "a1=",
            json!({"action":"rpc","method":"sum","data":[1,2,3],"id":"r1"}),
        )
        .await,
    );
    assert_eq!(r[0], json!({"type": "rpc", "id": "r1", "data": 6}));
    let r = h
        .send("a1=", json!({"action":"rpc","method":"nope","id":"r2"}))
        .await;
    assert_eq!(
        error_code(&r).unwrap(),
        (Some("r2".into()), ErrorCode::BadRequest)
    );
    let calls = server.received().len();
    for bad in [
        json!({"action":"rpc"}),
        json!({"action":"rpc","method":"a b"}),
        json!({"action":"rpc","method":"x".repeat(65)}),
    ] {
        let r = h.send("a1=", bad.clone()).await;
        assert_eq!(error_code(&r).unwrap().1, ErrorCode::BadRequest, "{bad}");
    }
    assert_eq!(server.received().len(), calls, "a bad frame calls nothing");
    // Without an rpc hook: bad_request.
    let plain = Harness::new(Backend::memory().await, &[]);
    plain.connect("z1=", &everything()).await;
    let r = plain
        .send("z1=", json!({"action":"rpc","method":"sum"}))
        .await;
    assert_eq!(error_code(&r).unwrap().1, ErrorCode::BadRequest);
}

async fn failures_are_closed(b: Backend) {
    let server =
        HookServer::start(
            |req| match req["channel"].as_str().or(req["method"].as_str()) {
                Some("room:slow") | Some("slow") => Answer {
                    delay: Duration::from_millis(1500),
                    ..Answer::json(json!({"allow": true}))
                },
                Some("room:500") => Answer {
                    status: 500,
                    ..Answer::json(json!({}))
                },
                Some("room:junk") => Answer {
                    status: 200,
                    body: "<html>".into(),
                    delay: Duration::ZERO,
                },
                Some("room:odd") => Answer::json(json!({"allowed": true})),
                _ => match req["hook"].as_str() {
                    Some("connect") if req["user"] == "down" => Answer {
                        status: 503,
                        ..Answer::json(json!({}))
                    },
                    _ => Answer::json(json!({"allow": true})),
                },
            },
        )
        .await;
    let h = harness(
        b,
        &server,
        json!({"connect": "URL", "subscribe": "URL", "publish": "URL", "rpc": "URL"}),
        &[("HOOK_TIMEOUT_MS", "300")],
    );
    h.connect("a1=", &everything()).await;
    for channel in ["room:slow", "room:500", "room:junk", "room:odd"] {
        let r = h
            .send("a1=", json!({"action":"subscribe","channel":channel}))
            .await;
        assert_eq!(
            error_code(&r).unwrap().1,
            ErrorCode::Unavailable,
            "{channel}"
        );
        let c = ChannelName::parse(channel).unwrap();
        assert!(
            !h.app.store.is_subscribed("a1=", &c).await.unwrap(),
            "{channel}"
        );
        let r = h
            .send(
                "a1=",
                json!({"action":"publish","channel":channel,"data":1}),
            )
            .await;
        assert_eq!(
            error_code(&r).unwrap().1,
            ErrorCode::Unavailable,
            "{channel}"
        );
        assert_eq!(head_seq(&h, channel).await, 0, "{channel}");
    }
    let r = h.send("a1=", json!({"action":"rpc","method":"slow"})).await;
    assert_eq!(error_code(&r).unwrap().1, ErrorCode::Unavailable);
    let auth = format!("Bearer {}", token("down", &[], &[]));
    let (status, _) = h
        .connect_with("d1=", &[("Authorization", &auth)], &[])
        .await;
    assert_eq!(status, 503);
    assert_eq!(h.backend.leftovers("d1=").await, 0);
}

both_backends!(
    connect_hook_decides_and_grants,
    subscribe_hook_decides_for_its_channels,
    publish_hook_runs_before_sequencing,
    rpc_calls_the_hook,
    failures_are_closed,
);

#[test]
fn bad_hook_configuration_names_the_variable() {
    let cfg = |pairs: &[(&str, &str)]| {
        let mut map = std::collections::HashMap::from([
            ("TABLE_NAME".to_string(), "t".to_string()),
            ("JWT_SECRET".to_string(), "s".repeat(32)),
        ]);
        for (k, v) in pairs {
            map.insert(k.to_string(), v.to_string());
        }
        wsfn::config::Config::from_map(&map)
            .err()
            .map(|e| e.to_string())
    };
    let e = cfg(&[("HOOKS", r#"{"publish": "https://x.example/h"}"#)]).unwrap();
    assert!(e.contains("HOOK_SECRET"), "{e}");
    let e = cfg(&[("HOOKS", r#"{"onPublish": "f"}"#)]).unwrap();
    assert!(
        e.starts_with("HOOKS is invalid") && e.contains("onPublish"),
        "{e}"
    );
    let e = cfg(&[("HOOKS", r#"{"rpc": "f"}"#), ("HOOK_TIMEOUT_MS", "20000")]).unwrap();
    assert!(e.contains("HOOK_TIMEOUT_MS"), "{e}");
    assert!(
        cfg(&[("HOOKS", r#"{"rpc": "my-fn"}"#)]).is_none(),
        "a Lambda hook needs no secret"
    );
    // Deployed, HOOK_FUNCTIONS (what IAM grants) must hold every Lambda target.
    let granted = "arn:aws:lambda:eu-west-1:123456789012:function:my-fn";
    assert!(cfg(&[
        ("HOOKS", r#"{"rpc": "my-fn"}"#),
        ("HOOK_FUNCTIONS", granted)
    ])
    .is_none());
    let e = cfg(&[
        ("HOOKS", r#"{"rpc": "other"}"#),
        ("HOOK_FUNCTIONS", granted),
    ])
    .unwrap();
    assert!(
        e.starts_with("HOOKS is invalid") && e.contains("HOOK_FUNCTIONS"),
        "{e}"
    );
}
