//! Presence events (PROTOCOL §9) on both stores: `join` on a user's first
//! connection in a `PRESENCE_EVENTS` channel, `leave` on the last one out
//! (unsubscribe, `$disconnect`, cleanup after a 410), exactly once per
//! transition under concurrency; member `info` in `join` and `presence`;
//! nothing for channels not listed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{messages, Backend, Harness, SECRET};
use serde_json::{json, Value};
use wsfn::auth::TokenClaims;
use wsfn::protocol::ServerFrame;
use wsfn::time::now_secs;

fn harness(b: Backend) -> Harness {
    Harness::new(
        b,
        &[
            ("PRESENCE_EVENTS", "room:*"),
            ("MAX_CONNECTIONS_PER_USER", "20"),
        ],
    )
}

fn token(sub: &str, info: Option<Value>) -> String {
    wsfn::auth::sign_hs256(
        SECRET,
        &TokenClaims {
            sub: sub.into(),
            exp: now_secs() + 3600,
            subscribe: vec!["room:*".into(), "lobby:*".into()],
            publish: vec!["room:*".into(), "lobby:*".into()],
            iat: Some(now_secs()),
            info,
            ..Default::default()
        },
    )
    .unwrap()
}

/// (joins, leaves) of `user` among frames.
fn transitions(frames: &[ServerFrame], user: &str) -> (usize, usize) {
    let joins = frames
        .iter()
        .filter(|f| matches!(f, ServerFrame::Join { user: u, .. } if u == user))
        .count();
    let leaves = frames
        .iter()
        .filter(|f| matches!(f, ServerFrame::Leave { user: u, .. } if u == user))
        .count();
    (joins, leaves)
}

async fn observer(h: &Harness, channel: &str) {
    h.connect("obs=", &token("observer", None)).await;
    h.send("obs=", json!({"action":"subscribe","channel":channel}))
        .await;
    h.received("obs=");
}

async fn first_in_and_last_out(b: Backend) {
    let h = harness(b);
    observer(&h, "room:a").await;
    let info = json!({"name": "Alice", "color": "#f80"});
    h.connect("a1=", &token("alice", Some(info.clone()))).await;
    h.connect("a2=", &token("alice", Some(info.clone()))).await;
    h.send("a1=", json!({"action":"subscribe","channel":"room:a"}))
        .await;
    let got = h.received("obs=");
    assert_eq!(
        got,
        [ServerFrame::Join {
            channel: "room:a".into(),
            user: "alice".into(),
            info: Some(info.clone()),
        }]
    );
    // The second connection of the same user: no join; the first one
    // leaving: no leave (alice is still there).
    h.send("a2=", json!({"action":"subscribe","channel":"room:a"}))
        .await;
    h.send("a1=", json!({"action":"unsubscribe","channel":"room:a"}))
        .await;
    assert_eq!(transitions(&h.received("obs="), "alice"), (0, 0));
    // presence carries the member's info.
    let p = h
        .send("obs=", json!({"action":"presence","channel":"room:a"}))
        .await;
    match p.as_slice() {
        [ServerFrame::Presence { members, .. }] => {
            let alice = members.iter().find(|m| m.user == "alice").unwrap();
            assert_eq!(alice.info, Some(info.clone()));
        }
        other => panic!("{other:?}"),
    }
    // The last one leaves by disconnecting.
    h.disconnect("a2=").await;
    assert_eq!(
        h.received("obs="),
        [ServerFrame::Leave {
            channel: "room:a".into(),
            user: "alice".into(),
        }]
    );
    // Back again: a new join.
    h.send("a1=", json!({"action":"subscribe","channel":"room:a"}))
        .await;
    assert_eq!(transitions(&h.received("obs="), "alice"), (1, 0));
    // Events are not messages: no seq, not in history.
    let hist = h
        .send("obs=", json!({"action":"history","channel":"room:a"}))
        .await;
    match hist.as_slice() {
        [ServerFrame::History { messages, .. }] => assert!(messages.is_empty()),
        other => panic!("{other:?}"),
    }
}

async fn channels_not_listed_get_no_events(b: Backend) {
    let h = harness(b);
    observer(&h, "lobby:a").await;
    h.connect("a1=", &token("alice", None)).await;
    h.send("a1=", json!({"action":"subscribe","channel":"lobby:a"}))
        .await;
    h.disconnect("a1=").await;
    assert!(h.received("obs=").is_empty());
}

/// Eight connections of one user subscribe at once, then all leave at once
/// (half by unsubscribing, half by disconnecting), three rounds: exactly one
/// join and one leave per round.
async fn exactly_once_under_concurrency(b: Backend) {
    let h = Arc::new(harness(b));
    observer(&h, "room:c").await;
    let ids: Vec<String> = (0..8).map(|i| format!("c{i}=")).collect();
    for id in &ids {
        h.connect(id, &token("carol", None)).await;
    }
    for round in 0..3 {
        let subs: Vec<_> = ids
            .iter()
            .map(|id| {
                let (h, id) = (h.clone(), id.clone());
                tokio::spawn(async move {
                    h.send_quiet(&id, json!({"action":"subscribe","channel":"room:c"}))
                        .await
                })
            })
            .collect();
        for s in subs {
            s.await.unwrap();
        }
        assert_eq!(
            transitions(&h.received("obs="), "carol"),
            (1, 0),
            "round {round}: joins"
        );
        let outs: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let (h, id) = (h.clone(), id.clone());
                tokio::spawn(async move {
                    if i % 2 == 0 {
                        h.send_quiet(&id, json!({"action":"unsubscribe","channel":"room:c"}))
                            .await
                    } else {
                        h.disconnect(&id).await;
                        h.connect(&id, &token("carol", None)).await;
                    }
                })
            })
            .collect();
        for o in outs {
            o.await.unwrap();
        }
        assert_eq!(
            transitions(&h.received("obs="), "carol"),
            (0, 1),
            "round {round}: leaves"
        );
    }
}

/// Two users join and leave concurrently: each gets its own transitions.
async fn users_are_independent(b: Backend) {
    let h = Arc::new(harness(b));
    observer(&h, "room:d").await;
    let tasks: Vec<_> = ["dan", "eve", "fay", "gus"]
        .into_iter()
        .flat_map(|u| (0..3).map(move |i| (u, format!("{u}{i}="))))
        .map(|(u, id)| {
            let h = h.clone();
            tokio::spawn(async move {
                h.connect(&id, &token(u, None)).await;
                h.send_quiet(&id, json!({"action":"subscribe","channel":"room:d"}))
                    .await;
                h.disconnect(&id).await;
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let got = h.received("obs=");
    for u in ["dan", "eve", "fay", "gus"] {
        let (j, l) = transitions(&got, u);
        assert!(j >= 1 && j == l, "{u}: {j} joins, {l} leaves");
    }
}

/// A subscriber found gone by a fan-out (410) is removed and its leave is
/// delivered once; its late `$disconnect` adds nothing.
async fn leave_after_cleanup_of_a_gone_connection(b: Backend) {
    let h = harness(b);
    observer(&h, "room:g").await;
    h.connect("g1=", &token("gina", None)).await;
    h.send("g1=", json!({"action":"subscribe","channel":"room:g"}))
        .await;
    assert_eq!(transitions(&h.received("obs="), "gina"), (1, 0));
    h.pusher.mark_gone("g1=");
    // The publisher is a subscriber: what it receives holds the leave.
    let got = h
        .send(
            "obs=",
            json!({"action":"publish","channel":"room:g","data":1}),
        )
        .await;
    assert_eq!(messages(&got).len(), 1);
    assert_eq!(transitions(&got, "gina"), (0, 1));
    h.disconnect("g1=").await;
    assert_eq!(transitions(&h.received("obs="), "gina"), (0, 0));
    assert_eq!(h.backend.leftovers("g1=").await, 0);
}

/// The server API's subscribe and unsubscribe announce like a client's.
async fn server_subscriptions_announce(b: Backend) {
    let h = Harness::new(
        b,
        &[
            ("PRESENCE_EVENTS", "room:*"),
            ("MANAGEMENT_ENDPOINT", "http://127.0.0.1:9/local"),
        ],
    );
    observer(&h, "room:s").await;
    h.connect("s1=", &token("sam", None)).await;
    h.connect("s2=", &token("sam", None)).await;
    let none = wsfn::handlers::Invocation::default();
    let call = |r: Value| wsfn::handlers::backend(r, &h.app, &none);
    call(json!({"subscribe": {"user": "sam", "channel": "room:s"}}))
        .await
        .unwrap();
    assert_eq!(transitions(&h.received("obs="), "sam"), (1, 0));
    call(json!({"unsubscribe": {"user": "sam", "channel": "room:s"}}))
        .await
        .unwrap();
    assert_eq!(transitions(&h.received("obs="), "sam"), (0, 1));
    call(json!({"subscribe": {"user": "sam", "channel": "room:s"}}))
        .await
        .unwrap();
    call(json!({"disconnect": {"user": "sam"}})).await.unwrap();
    assert_eq!(transitions(&h.received("obs="), "sam"), (1, 1));
}

both_backends!(
    first_in_and_last_out,
    channels_not_listed_get_no_events,
    exactly_once_under_concurrency,
    users_are_independent,
    leave_after_cleanup_of_a_gone_connection,
    server_subscriptions_announce,
);
