//! The WebSocket handlers against both stores (in-memory and DynamoDB Local):
//! every handshake outcome, pub/sub, capabilities, bad input, 410 cleanup and
//! disconnect cleanup.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{error_code, messages, token, Backend, Harness};
use serde_json::json;
use wsfn::protocol::{ErrorCode, ServerFrame};

async fn handshake_401_cases(b: Backend) {
    let h = Harness::new(
        b,
        &[
            ("JWT_ISSUER", "https://issuer.test"),
            ("JWT_AUDIENCE", "wsfn"),
        ],
    );
    let now = wsfn::time::now_secs();
    let sign = |f: &dyn Fn(&mut wsfn::auth::TokenClaims)| {
        let mut c = wsfn::auth::TokenClaims {
            sub: "alice".into(),
            exp: now + 600,
            subscribe: vec![],
            publish: vec![],
            rate: None,
            nbf: None,
            iss: Some("https://issuer.test".into()),
            aud: Some("wsfn".into()),
            ..Default::default()
        };
        f(&mut c);
        wsfn::auth::sign_hs256(common::SECRET, &c).unwrap()
    };
    let good = sign(&|_| {});
    let bearer = |t: &str| format!("Bearer {t}");
    // Good token, as a baseline that the others fail for their one reason.
    assert_eq!(
        h.connect_with("ok=", &[("Authorization", &bearer(&good))], &[])
            .await
            .0,
        200
    );
    assert_eq!(h.connect_with("c0=", &[], &[]).await.0, 401, "no token");
    let bad_sig = wsfn::auth::sign_hs256(
        "another-secret-xxxxxxx",
        &wsfn::auth::TokenClaims {
            sub: "alice".into(),
            exp: now + 600,
            subscribe: vec![],
            publish: vec![],
            rate: None,
            nbf: None,
            iss: Some("https://issuer.test".into()),
            aud: Some("wsfn".into()),
            ..Default::default()
        },
    )
    .unwrap();
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let alg_none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none"}"#),
        b64(&format!(r#"{{"sub":"alice","exp":{}}}"#, now + 600))
    );
    let refused = [
        ("bad signature", bad_sig),
        ("expired", sign(&|c| c.exp = now - 120)),
        ("wrong iss", sign(&|c| c.iss = Some("https://evil".into()))),
        ("wrong aud", sign(&|c| c.aud = Some("other".into()))),
        ("alg none", alg_none),
    ];
    let mut ids = vec!["c0=".to_string()];
    for (i, (why, token)) in refused.iter().enumerate() {
        let id = format!("c{}=", i + 1);
        let (status, _) = h
            .connect_with(&id, &[("Authorization", &bearer(token))], &[])
            .await;
        assert_eq!(status, 401, "{why}");
        ids.push(id);
    }
    // No refused connection left anything behind.
    for id in &ids {
        assert_eq!(h.backend.leftovers(id).await, 0, "{id}");
    }
}

async fn handshake_transports_and_subprotocol(b: Backend) {
    let h = Harness::new(b, &[]);
    let t = token("alice", &[], &[]);
    let proto = format!("wsfn.v1, bearer.{t}");
    let (status, echoed) = h
        .connect_with("p1=", &[("Sec-WebSocket-Protocol", &proto)], &[])
        .await;
    assert_eq!((status, echoed.as_deref()), (200, Some("wsfn.v1")));
    let (status, echoed) = h
        .connect_with("p2=", &[("Authorization", &format!("Bearer {t}"))], &[])
        .await;
    assert_eq!((status, echoed), (200, None));
    let (status, _) = h.connect_with("p3=", &[], &[("token", &t)]).await;
    assert_eq!(status, 200);
    // Subprotocol preferred over a bad header token.
    let (status, _) = h
        .connect_with(
            "p4=",
            &[
                ("Sec-WebSocket-Protocol", &proto),
                ("Authorization", "Bearer junk"),
            ],
            &[],
        )
        .await;
    assert_eq!(status, 200);
    // Each connection answers ping with its own id.
    let pong = h.send("p3=", json!({"action":"ping","id":"x"})).await;
    assert!(
        matches!(&pong[..], [ServerFrame::Pong { id: Some(i), connection, .. }] if i == "x" && connection == "p3=")
    );
}

async fn handshake_403_origin(b: Backend) {
    let h = Harness::new(b, &[("ALLOWED_ORIGINS", "https://app.example.com")]);
    let t = format!("Bearer {}", token("alice", &[], &[]));
    let ok = h
        .connect_with(
            "o1=",
            &[("Authorization", &t), ("Origin", "https://app.example.com")],
            &[],
        )
        .await;
    assert_eq!(ok.0, 200);
    let bad = h
        .connect_with(
            "o2=",
            &[
                ("Authorization", &t),
                ("Origin", "https://evil.example.com"),
            ],
            &[],
        )
        .await;
    assert_eq!(bad.0, 403);
    let none = h.connect_with("o3=", &[("Authorization", &t)], &[]).await;
    assert_eq!(none.0, 200, "no Origin (non-browser client) is allowed");
    assert_eq!(h.backend.leftovers("o2=").await, 0);
}

async fn handshake_429_limit(b: Backend) {
    let h = Harness::new(b, &[("MAX_CONNECTIONS_PER_USER", "2")]);
    let t = token("alice", &[], &[]);
    h.connect("l1=", &t).await;
    h.connect("l2=", &t).await;
    let third = h
        .connect_with("l3=", &[("Authorization", &format!("Bearer {t}"))], &[])
        .await;
    assert_eq!(third.0, 429);
    // Another user is unaffected; a slot frees up after a disconnect.
    h.connect("b1=", &token("bob", &[], &[])).await;
    h.disconnect("l1=").await;
    h.connect("l3=", &t).await;
}

async fn pubsub_delivers_with_increasing_seq(b: Backend) {
    let h = Harness::new(b, &[]);
    h.connect("s1=", &token("alice", &["room:*"], &[])).await;
    h.connect("s2=", &token("bob", &["room:*"], &["room:*"]))
        .await;
    h.connect("x1=", &token("carol", &["room:*"], &[])).await;
    for id in ["s1=", "s2="] {
        let r = h
            .send(
                id,
                json!({"action":"subscribe","channel":"room:lobby","id":"sub"}),
            )
            .await;
        assert!(
            matches!(&r[..], [ServerFrame::Subscribed { channel, seq: 0, recovered: None, .. }] if channel == "room:lobby"),
            "{r:?}"
        );
    }
    h.send("x1=", json!({"action":"subscribe","channel":"room:other"}))
        .await;
    let mut acks = vec![];
    let mut publisher_got = vec![];
    for i in 0..3 {
        let r = h.send("s2=", json!({"action":"publish","channel":"room:lobby","data":{"n":i},"id":format!("p{i}")})).await;
        let ack = r.iter().find_map(|f| match f {
            ServerFrame::Ack {
                seq,
                duplicate: Some(false),
                id,
                ..
            } => Some((*seq, id.clone())),
            _ => None,
        });
        acks.push(ack.expect("ack"));
        // The publisher is subscribed too: its copy arrives after its ack.
        publisher_got.extend(messages(&r));
    }
    assert_eq!(acks.iter().map(|a| a.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(acks[2].1.as_deref(), Some("p2"));
    for id in ["s1=", "s2="] {
        let got = if id == "s2=" {
            publisher_got.clone()
        } else {
            messages(&h.received(id))
        };
        assert_eq!(
            got.iter().map(|m| m.seq).collect::<Vec<_>>(),
            vec![1, 2, 3],
            "{id}"
        );
        assert!(got
            .iter()
            .all(|m| m.from == "bob" && m.channel == "room:lobby"));
        assert_eq!(got[1].data, json!({"n":1}));
        assert_eq!(got[1].id.as_deref(), Some("p1"));
        assert!(got.windows(2).all(|w| w[0].epoch == w[1].epoch));
    }
    assert!(
        messages(&h.received("x1=")).is_empty(),
        "other channel got nothing"
    );
    // Unsubscribed connections stop receiving.
    h.send(
        "s1=",
        json!({"action":"unsubscribe","channel":"room:lobby"}),
    )
    .await;
    let r = h
        .send(
            "s2=",
            json!({"action":"publish","channel":"room:lobby","data":4}),
        )
        .await;
    assert_eq!(messages(&r).len(), 1);
    assert!(messages(&h.received("s1=")).is_empty());
}

async fn personal_channel(b: Backend) {
    let h = Harness::new(b, &[]);
    h.connect("a1=", &token("alice", &[], &[])).await;
    h.connect("a2=", &token("alice", &[], &[])).await;
    h.connect("srv=", &token("backend", &[], &["user:*"])).await;
    let r = h
        .send(
            "srv=",
            json!({"action":"publish","channel":"user:alice","data":"hi"}),
        )
        .await;
    assert!(error_code(&r).is_none(), "{r:?}");
    for id in ["a1=", "a2="] {
        assert_eq!(
            messages(&h.received(id)).len(),
            1,
            "auto-subscribed at connect: {id}"
        );
    }
    // Alice may subscribe to her own channel but not Bob's.
    assert!(error_code(
        &h.send("a1=", json!({"action":"subscribe","channel":"user:alice"}))
            .await
    )
    .is_none());
    let r = h
        .send(
            "a1=",
            json!({"action":"subscribe","channel":"user:bob","id":"q"}),
        )
        .await;
    assert_eq!(
        error_code(&r),
        Some((Some("q".into()), ErrorCode::Forbidden))
    );
}

async fn forbidden_publish_and_subscribe(b: Backend) {
    let h = Harness::new(b, &[]);
    h.connect("f1=", &token("alice", &["room:*"], &["room:mine"]))
        .await;
    h.connect("f2=", &token("bob", &["room:*"], &[])).await;
    h.send("f2=", json!({"action":"subscribe","channel":"room:lobby"}))
        .await;
    let r = h
        .send(
            "f1=",
            json!({"action":"publish","channel":"room:lobby","data":1,"id":"a"}),
        )
        .await;
    assert_eq!(
        error_code(&r),
        Some((Some("a".into()), ErrorCode::Forbidden))
    );
    let r = h
        .send(
            "f1=",
            json!({"action":"subscribe","channel":"news:x","id":"b"}),
        )
        .await;
    assert_eq!(
        error_code(&r),
        Some((Some("b".into()), ErrorCode::Forbidden))
    );
    assert!(
        messages(&h.received("f2=")).is_empty(),
        "forbidden publish delivered nothing"
    );
    // Nothing was stored for the refused subscription: a publish there reaches nobody.
    h.connect("g=", &token("gov", &[], &["news:*"])).await;
    h.send(
        "g=",
        json!({"action":"publish","channel":"news:x","data":1}),
    )
    .await;
    assert!(messages(&h.received("f1=")).is_empty());
    // The allowed ones work.
    assert!(error_code(
        &h.send(
            "f1=",
            json!({"action":"publish","channel":"room:mine","data":1})
        )
        .await
    )
    .is_none());
}

async fn bad_input_answered_and_connection_keeps_working(b: Backend) {
    let h = Harness::new(b, &[("MAX_MESSAGE_BYTES", "1024")]);
    h.connect("e1=", &token("alice", &["room:*"], &["room:*"]))
        .await;
    let cases: Vec<(String, Option<&str>, ErrorCode)> = vec![
        ("not json".into(), None, ErrorCode::BadRequest),
        ("[1]".into(), None, ErrorCode::BadRequest),
        (
            r#"{"id":"1","action":"dance"}"#.into(),
            Some("1"),
            ErrorCode::BadRequest,
        ),
        (r#"{"id":"2"}"#.into(), Some("2"), ErrorCode::BadRequest),
        (
            r#"{"id":"3","action":"subscribe"}"#.into(),
            Some("3"),
            ErrorCode::BadRequest,
        ),
        (
            r#"{"id":"4","action":"publish","channel":"room:a"}"#.into(),
            Some("4"),
            ErrorCode::BadRequest,
        ),
        (
            r#"{"id":"5","action":"subscribe","channel":"no spaces"}"#.into(),
            Some("5"),
            ErrorCode::BadRequest,
        ),
        (
            format!(
                r#"{{"id":"6","action":"subscribe","channel":"{}"}}"#,
                "a".repeat(129)
            ),
            Some("6"),
            ErrorCode::BadRequest,
        ),
        (
            r#"{"id":"7","action":"history","channel":"room:a","limit":500}"#.into(),
            Some("7"),
            ErrorCode::BadRequest,
        ),
        (
            format!(
                r#"{{"id":"8","action":"publish","channel":"room:a","data":"{}"}}"#,
                "x".repeat(2000)
            ),
            Some("8"),
            ErrorCode::TooLarge,
        ),
    ];
    for (body, id, code) in cases {
        let r = h.send_raw("e1=", &body).await;
        assert_eq!(r.len(), 1, "{body}: {r:?}");
        assert_eq!(
            error_code(&r),
            Some((id.map(str::to_string), code)),
            "{body}"
        );
        let pong = h.send("e1=", json!({"action":"ping"})).await;
        assert!(
            matches!(&pong[..], [ServerFrame::Pong { .. }]),
            "still works after {body}"
        );
    }
    // No junk: the bad subscribe/publish frames stored no subscription or message.
    let r = h
        .send("e1=", json!({"action":"subscribe","channel":"room:a"}))
        .await;
    assert!(
        matches!(&r[..], [ServerFrame::Subscribed { seq: 0, .. }]),
        "{r:?}"
    );
    let room = wsfn::channel::ChannelName::parse("room:a").unwrap();
    let subs = h.app.store.subscribers(&room, None, 100).await.unwrap();
    assert_eq!(
        subs.items.len(),
        1,
        "only the good subscribe stored: {subs:?}"
    );
}

async fn gone_subscriber_removed_others_delivered(b: Backend) {
    let h = Harness::new(b, &[]);
    h.connect("pub=", &token("p", &[], &["room:*"])).await;
    for id in ["g1=", "g2=", "g3="] {
        h.connect(id, &token(id, &["room:*"], &[])).await;
        h.send(id, json!({"action":"subscribe","channel":"room:lobby"}))
            .await;
    }
    h.pusher.mark_gone("g2=");
    h.pusher.throttle("g3=", 2);
    let r = h
        .send(
            "pub=",
            json!({"action":"publish","channel":"room:lobby","data":"x"}),
        )
        .await;
    assert!(error_code(&r).is_none());
    assert_eq!(messages(&h.received("g1=")).len(), 1);
    assert_eq!(
        messages(&h.received("g3=")).len(),
        1,
        "throttled push retried, not lost"
    );
    assert_eq!(
        h.backend.leftovers("g2=").await,
        0,
        "gone connection fully removed"
    );
    assert!(h.app.store.get_connection("g2=").await.unwrap().is_none());
    // The next publish does not even try the gone connection.
    h.send(
        "pub=",
        json!({"action":"publish","channel":"room:lobby","data":"y"}),
    )
    .await;
    assert_eq!(messages(&h.received("g1=")).len(), 1);
}

async fn disconnect_leaves_nothing(b: Backend) {
    let h = Harness::new(b, &[]);
    h.connect("d1=", &token("alice", &["room:*"], &["room:*"]))
        .await;
    for c in ["room:a", "room:b", "room:c"] {
        h.send("d1=", json!({"action":"subscribe","channel":c}))
            .await;
    }
    h.send(
        "d1=",
        json!({"action":"publish","channel":"room:a","data":1}),
    )
    .await;
    assert!(h.backend.leftovers("d1=").await >= 5);
    h.disconnect("d1=").await;
    assert_eq!(h.backend.leftovers("d1=").await, 0);
    // Idempotent: a second $disconnect (or one for an unknown id) is fine.
    h.disconnect("d1=").await;
    h.disconnect("never=").await;
    // A frame from the disconnected id is refused, and stores nothing.
    let r = h
        .send("d1=", json!({"action":"subscribe","channel":"room:a"}))
        .await;
    assert_eq!(error_code(&r).map(|e| e.1), Some(ErrorCode::Unauthorized));
    assert_eq!(h.backend.leftovers("d1=").await, 0);
}

async fn subscription_limit(b: Backend) {
    let h = Harness::new(b, &[("MAX_SUBSCRIPTIONS_PER_CONNECTION", "2")]);
    h.connect("m1=", &token("alice", &["room:*"], &[])).await;
    for c in ["room:a", "room:b"] {
        assert!(error_code(
            &h.send("m1=", json!({"action":"subscribe","channel":c}))
                .await
        )
        .is_none());
    }
    let r = h
        .send(
            "m1=",
            json!({"action":"subscribe","channel":"room:c","id":"z"}),
        )
        .await;
    assert_eq!(
        error_code(&r),
        Some((Some("z".into()), ErrorCode::LimitExceeded))
    );
    // Re-subscribing to a held channel is not a new subscription.
    assert!(error_code(
        &h.send("m1=", json!({"action":"subscribe","channel":"room:a"}))
            .await
    )
    .is_none());
}

both_backends!(
    handshake_401_cases,
    handshake_transports_and_subprotocol,
    handshake_403_origin,
    handshake_429_limit,
    pubsub_delivers_with_increasing_seq,
    personal_channel,
    forbidden_publish_and_subscribe,
    bad_input_answered_and_connection_keeps_working,
    gone_subscriber_removed_others_delivered,
    disconnect_leaves_nothing,
    subscription_limit,
);
