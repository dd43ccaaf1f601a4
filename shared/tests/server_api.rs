//! The server API (PROTOCOL §8) through the backend's handler on both
//! stores: disconnect, revoke (handshake and `auth`, racing handshakes),
//! server-side subscribe/unsubscribe, presence and history, bad requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{error_code, messages, Backend, Harness, SECRET};
use serde_json::{json, Value};
use wsfn::auth::TokenClaims;
use wsfn::handlers::{backend, Invocation};
use wsfn::protocol::{ErrorCode, ServerFrame};
use wsfn::time::now_secs;

fn harness(b: Backend, extra: &[(&str, &str)]) -> Harness {
    let mut env = vec![("MANAGEMENT_ENDPOINT", "http://127.0.0.1:9/local")];
    env.extend_from_slice(extra);
    Harness::new(b, &env)
}

/// A token for `sub` reading and writing `room:*`, issued at `iat`.
fn token_at(sub: &str, iat: Option<u64>) -> String {
    wsfn::auth::sign_hs256(
        SECRET,
        &TokenClaims {
            sub: sub.into(),
            exp: now_secs() + 3600,
            subscribe: vec!["room:*".into()],
            publish: vec!["room:*".into()],
            iat,
            ..Default::default()
        },
    )
    .unwrap()
}

async fn call(h: &Harness, request: Value) -> Value {
    backend(
        request,
        &h.app,
        &Invocation {
            request_id: Some("rid-1"),
            deadline_ms: None,
        },
    )
    .await
    .unwrap()
}

async fn connect_status(h: &Harness, id: &str, token: &str) -> i64 {
    h.connect_with(id, &[("Authorization", &format!("Bearer {token}"))], &[])
        .await
        .0
}

fn disconnect_frame(frames: &[ServerFrame]) -> Option<(u16, String, bool)> {
    frames.iter().find_map(|f| match f {
        ServerFrame::Disconnect {
            code,
            reason,
            reconnect,
        } => Some((*code, reason.clone(), *reconnect)),
        _ => None,
    })
}

async fn disconnect_by_user_closes_every_connection_of_the_user(b: Backend) {
    let h = harness(b, &[]);
    let now = Some(now_secs());
    for id in ["a1=", "a2="] {
        h.connect(id, &token_at("alice", now)).await;
        h.send(id, json!({"action":"subscribe","channel":"room:x"}))
            .await;
    }
    h.connect("b1=", &token_at("bob", now)).await;
    let r = call(
        &h,
        json!({"disconnect": {"user": "alice", "code": 4003, "reason": "banned"}}),
    )
    .await;
    assert_eq!(r, json!({"disconnected": 2}));
    for id in ["a1=", "a2="] {
        assert_eq!(
            disconnect_frame(&h.received(id)),
            Some((4003, "banned".to_string(), false)),
            "{id} is told why, then closed"
        );
        assert!(h.pusher.deleted().contains(&id.to_string()));
        assert!(h.app.store.get_connection(id).await.unwrap().is_none());
        assert_eq!(h.backend.leftovers(id).await, 0, "nothing of {id} is left");
    }
    assert!(!h.pusher.deleted().contains(&"b1=".to_string()));
    assert!(h.app.store.get_connection("b1=").await.unwrap().is_some());
    // Nothing left to disconnect; the user's slots are free again.
    assert_eq!(
        call(&h, json!({"disconnect": {"user": "alice"}})).await,
        json!({"disconnected": 0})
    );
    assert!(h
        .app
        .store
        .user_connections("alice")
        .await
        .unwrap()
        .is_empty());
}

async fn disconnect_by_connection_closes_that_one(b: Backend) {
    let h = harness(b, &[]);
    h.connect("a1=", &token_at("alice", None)).await;
    h.connect("a2=", &token_at("alice", None)).await;
    let r = call(
        &h,
        json!({"disconnect": {"connection": "a1=", "reconnect": true}}),
    )
    .await;
    assert_eq!(r, json!({"disconnected": 1}));
    assert_eq!(
        disconnect_frame(&h.received("a1=")),
        Some((4000, String::new(), true)),
        "code 4000 and no reason by default"
    );
    assert!(h.received("a2=").is_empty());
    assert_eq!(
        h.app.store.user_connections("alice").await.unwrap(),
        ["a2="]
    );
    // A connection that is already gone counts for nothing and is removed.
    h.pusher.mark_gone("a2=");
    let r = call(&h, json!({"disconnect": {"connection": "a2="}})).await;
    assert_eq!(r, json!({"disconnected": 0}));
    assert_eq!(h.backend.leftovers("a2=").await, 0);
    // An unknown connection (the management API answers 410): nothing to close.
    h.pusher.mark_gone("nobody=");
    let r = call(&h, json!({"disconnect": {"connection": "nobody="}})).await;
    assert_eq!(r, json!({"disconnected": 0}));
}

async fn revoke_refuses_older_tokens_and_disconnects(b: Backend) {
    let h = harness(b, &[]);
    let now = now_secs();
    let old = token_at("alice", Some(now - 10));
    let no_iat = token_at("alice", None);
    h.connect("a1=", &old).await;
    h.connect("b1=", &token_at("bob", Some(now - 10))).await;
    let r = call(&h, json!({"revoke": {"user": "alice"}})).await;
    assert_eq!(r, json!({"revoked": true, "disconnected": 1}));
    assert_eq!(
        disconnect_frame(&h.received("a1=")),
        Some((4001, "token revoked".to_string(), true))
    );
    // The old token, and one without iat, are refused at the handshake.
    assert_eq!(connect_status(&h, "a2=", &old).await, 401);
    assert_eq!(connect_status(&h, "a3=", &no_iat).await, 401);
    assert_eq!(
        h.backend.leftovers("a2=").await,
        0,
        "a refused handshake writes nothing"
    );
    // A token issued after `before` connects; in-band auth with the old
    // one is refused, with a new one accepted.
    let fresh = token_at("alice", Some(now + 1));
    h.connect("a4=", &fresh).await;
    let refused = h
        .send("a4=", json!({"action":"auth","token":old,"id":"r1"}))
        .await;
    assert_eq!(
        error_code(&refused),
        Some((Some("r1".into()), ErrorCode::Unauthorized))
    );
    let ok = h
        .send("a4=", json!({"action":"auth","token":fresh,"id":"r2"}))
        .await;
    assert!(
        matches!(ok.as_slice(), [ServerFrame::Authed { .. }]),
        "{ok:?}"
    );
    // Other users are untouched.
    assert!(h.received("b1=").is_empty());
    // A later call with an earlier `before` does not move the watermark back.
    call(
        &h,
        json!({"revoke": {"user": "alice", "before": now - 100}}),
    )
    .await;
    assert_eq!(connect_status(&h, "a5=", &old).await, 401);
    // An explicit `before` in the past lets tokens issued after it in.
    call(
        &h,
        json!({"revoke": {"user": "carol", "before": now - 100}}),
    )
    .await;
    h.connect("c1=", &token_at("carol", Some(now - 10))).await;
    assert_eq!(
        connect_status(&h, "c2=", &token_at("carol", Some(now - 200))).await,
        401
    );
}

async fn revoke_expires_after_its_window(b: Backend) {
    let h = harness(b, &[("REVOKE_TTL_SECONDS", "1")]);
    let old = token_at("alice", Some(now_secs() - 10));
    call(&h, json!({"revoke": {"user": "alice"}})).await;
    assert_eq!(connect_status(&h, "a1=", &old).await, 401);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(connect_status(&h, "a2=", &old).await, 200);
}

/// Handshakes with an old token racing a revoke: when both are done, every
/// handshake that was admitted has been closed — none is left open.
async fn revoke_races_handshakes(b: Backend) {
    let h = Arc::new(harness(b, &[("MAX_CONNECTIONS_PER_USER", "50")]));
    let old = token_at("alice", Some(now_secs() - 10));
    let connects: Vec<_> = (0..12)
        .map(|i| {
            let (h, old) = (h.clone(), old.clone());
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(i * 3)).await;
                let id = format!("r{i}=");
                (connect_status(&h, &id, &old).await, id)
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    let r = call(&h, json!({"revoke": {"user": "alice"}})).await;
    let mut admitted = Vec::new();
    for c in connects {
        let (status, id) = c.await.unwrap();
        assert!(status == 200 || status == 401, "{status}");
        if status == 200 {
            admitted.push(id);
        }
    }
    let deleted = h.pusher.deleted();
    for id in &admitted {
        let live = h.app.store.get_connection(id).await.unwrap().is_some();
        assert!(
            deleted.contains(id) || !live,
            "{id} was admitted and is still open after the revoke ({r})"
        );
    }
    // Every handshake after the revoke answered is refused.
    assert_eq!(connect_status(&h, "late=", &old).await, 401);
}

async fn server_subscribe_reaches_every_connection_of_the_user(b: Backend) {
    let h = harness(b, &[("MAX_SUBSCRIPTIONS_PER_CONNECTION", "1")]);
    h.connect("a1=", &token_at("alice", None)).await;
    h.connect("a2=", &token_at("alice", None)).await;
    h.connect("a3=", &token_at("alice", None)).await;
    h.connect("b1=", &token_at("bob", None)).await;
    // a3 holds its one subscription: the limit holds for the server too.
    h.send("a3=", json!({"action":"subscribe","channel":"room:full"}))
        .await;
    // Channels the token cannot read: the backend decides.
    let r = call(
        &h,
        json!({"subscribe": {"user": "alice", "channel": "staff:x"}}),
    )
    .await;
    assert_eq!(r, json!({"connections": 2}));
    for id in ["a1=", "a2="] {
        match h.received(id).as_slice() {
            [ServerFrame::Subscribed {
                id: None, channel, ..
            }] => assert_eq!(channel, "staff:x"),
            other => panic!("{id}: {other:?}"),
        }
    }
    assert!(h.received("a3=").is_empty());
    call(&h, json!({"channel": "staff:x", "data": "hi"})).await;
    for id in ["a1=", "a2="] {
        assert_eq!(
            messages(&h.received(id)).len(),
            1,
            "{id} gets the channel's messages"
        );
    }
    assert!(h.received("b1=").is_empty() && h.received("a3=").is_empty());
    // Subscribing again changes nothing but is answered.
    let r = call(
        &h,
        json!({"subscribe": {"user": "alice", "channel": "staff:x"}}),
    )
    .await;
    assert_eq!(r, json!({"connections": 2}));
    h.received("a1=");
    h.received("a2=");
    let r = call(
        &h,
        json!({"unsubscribe": {"user": "alice", "channel": "staff:x"}}),
    )
    .await;
    assert_eq!(r, json!({"connections": 3}));
    for id in ["a1=", "a2=", "a3="] {
        assert!(
            h.received(id)
                .iter()
                .any(|f| matches!(f, ServerFrame::Unsubscribed { id: None, channel } if channel == "staff:x")),
            "{id}"
        );
    }
    call(&h, json!({"channel": "staff:x", "data": "bye"})).await;
    assert!(messages(&h.received("a1=")).is_empty());
    // The slot came back: a1 may subscribe on its own again.
    let f = h
        .send("a1=", json!({"action":"subscribe","channel":"room:y"}))
        .await;
    assert!(
        matches!(f.first(), Some(ServerFrame::Subscribed { .. })),
        "{f:?}"
    );
    // A user with no connection: none reached.
    let r = call(
        &h,
        json!({"subscribe": {"user": "nobody", "channel": "room:z"}}),
    )
    .await;
    assert_eq!(r, json!({"connections": 0}));
}

async fn presence_and_history_without_a_socket(b: Backend) {
    let h = harness(b, &[]);
    h.connect("a1=", &token_at("alice", None)).await;
    h.send("a1=", json!({"action":"subscribe","channel":"room:h"}))
        .await;
    for n in 1..=3 {
        h.send(
            "a1=",
            json!({"action":"publish","channel":"room:h","data":n}),
        )
        .await;
    }
    let r = call(&h, json!({"history": {"channel": "room:h", "limit": 2}})).await;
    assert_eq!(r["type"], "history");
    let seqs: Vec<_> = r["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [2, 3]);
    let r = call(
        &h,
        json!({"history": {"channel": "room:h", "since": {"seq": 0, "epoch": r["epoch"]}}}),
    )
    .await;
    assert_eq!(r["messages"].as_array().unwrap().len(), 3);
    let r = call(&h, json!({"presence": {"channel": "room:h"}})).await;
    assert_eq!(r["type"], "presence");
    assert_eq!(r["members"], json!([{"user": "alice", "connections": 1}]));
    let r = call(&h, json!({"history": {"channel": "room:none"}})).await;
    assert_eq!(r["messages"], json!([]));
}

async fn bad_requests_are_named(b: Backend) {
    let h = harness(b, &[]);
    for (request, says) in [
        (
            json!({"disconnect": {"user": "a", "connection": "c="}}),
            "either",
        ),
        (json!({"disconnect": {}}), "either"),
        (
            json!({"disconnect": {"user": "a", "code": 1000}}),
            "4000 to 4999",
        ),
        (
            json!({"disconnect": {"user": "a", "reconnect": "yes"}}),
            "true or false",
        ),
        (
            json!({"disconnect": {"user": "a", "reason": "x".repeat(300)}}),
            "reason",
        ),
        (json!({"disconnect": {"user": "@server"}}), "@"),
        (json!({"revoke": {"user": "a", "before": -1}}), "before"),
        (json!({"revoke": {"usr": "a"}}), "`usr`"),
        (json!({"subscribe": {"user": "a"}}), "channel"),
        (
            json!({"subscribe": {"user": "a", "channel": "bad channel"}}),
            "channel",
        ),
        (
            json!({"presence": {"channel": "room:x", "cursor": "forged"}}),
            "cursor",
        ),
        (
            json!({"history": {"channel": "room:x", "limit": 0}}),
            "limit",
        ),
        (
            json!({"revoke": {"user": "a"}, "disconnect": {"user": "a"}}),
            "one operation",
        ),
        (json!({"revoke": {"user": "a"}, "extra": 1}), "only key"),
        (json!({"revoke": "alice"}), "object"),
        (json!([1, 2]), "object"),
    ] {
        let r = call(&h, request.clone()).await;
        assert_eq!(r["error"]["code"], "bad_request", "{request}: {r}");
        assert_eq!(r["error"]["requestId"], "rid-1", "{request}: {r}");
        let message = r["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{request}: {message}");
    }
}

async fn without_a_management_endpoint_operations_fail_clearly(b: Backend) {
    let h = Harness::new(b, &[]);
    h.connect("a1=", &token_at("alice", None)).await;
    let r = call(&h, json!({"disconnect": {"user": "alice"}})).await;
    assert_eq!(r["error"]["code"], "internal", "{r}");
    // Reading needs no endpoint.
    let r = call(&h, json!({"presence": {"channel": "room:x"}})).await;
    assert_eq!(r["type"], "presence");
}

both_backends!(
    disconnect_by_user_closes_every_connection_of_the_user,
    disconnect_by_connection_closes_that_one,
    revoke_refuses_older_tokens_and_disconnects,
    revoke_expires_after_its_window,
    revoke_races_handshakes,
    server_subscribe_reaches_every_connection_of_the_user,
    presence_and_history_without_a_socket,
    bad_requests_are_named,
    without_a_management_endpoint_operations_fail_clearly,
);
