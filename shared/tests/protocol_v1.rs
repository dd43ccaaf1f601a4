//! Protocol v1 semantics on both stores: recovery, history paging,
//! idempotent publish across reconnects, presence, rate limits and in-band
//! token refresh.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{error_code, messages, token, Backend, Harness};
use serde_json::{json, Value};
use wsfn::protocol::{ErrorCode, ServerFrame};

fn subscribed(frames: &[ServerFrame]) -> (u64, String, Option<bool>) {
    match frames.first() {
        Some(ServerFrame::Subscribed {
            seq,
            epoch,
            recovered,
            ..
        }) => (*seq, epoch.clone(), *recovered),
        other => panic!("expected subscribed, got {other:?}"),
    }
}

async fn publish(
    h: &Harness,
    conn: &str,
    channel: &str,
    data: Value,
    id: Option<&str>,
) -> (u64, bool) {
    let mut frame = json!({"action":"publish","channel":channel,"data":data});
    if let Some(id) = id {
        frame["id"] = json!(id);
    }
    let r = h.send(conn, frame).await;
    r.iter()
        .find_map(|f| match f {
            ServerFrame::Ack { seq, duplicate, .. } => Some((*seq, duplicate.expect("sequenced"))),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no ack: {r:?}"))
}

async fn recovery_replays_exactly_the_missed(b: Backend) {
    let h = Harness::new(b, &[]);
    let alice = token("alice", &["room:*"], &[]);
    h.connect("a1=", &alice).await;
    h.connect("pub=", &token("bob", &[], &["room:*"])).await;
    let (seq0, epoch, _) = subscribed(
        &h.send("a1=", json!({"action":"subscribe","channel":"room:r"}))
            .await,
    );
    publish(&h, "pub=", "room:r", json!("seen"), None).await;
    let seen = messages(&h.received("a1="));
    assert_eq!(seen.len(), 1);
    let last = seen[0].seq;
    assert_eq!(last, seq0 + 1);
    h.disconnect("a1=").await;
    for i in 0..3 {
        publish(&h, "pub=", "room:r", json!(i), None).await;
    }
    h.connect("a2=", &alice).await;
    let r = h
        .send(
            "a2=",
            json!({"action":"subscribe","channel":"room:r","since":{"seq":last,"epoch":epoch}}),
        )
        .await;
    let (head, e2, recovered) = subscribed(&r);
    assert_eq!(
        (head, e2.as_str(), recovered),
        (last + 3, epoch.as_str(), Some(true))
    );
    let replayed = messages(&r);
    assert_eq!(
        replayed.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![last + 1, last + 2, last + 3]
    );
    assert_eq!(
        replayed.iter().map(|m| m.data.clone()).collect::<Vec<_>>(),
        vec![json!(0), json!(1), json!(2)]
    );
    // A wrong epoch is another stream: recovered false.
    let r = h
        .send(
            "a2=",
            json!({"action":"subscribe","channel":"room:r","since":{"seq":last,"epoch":"other"}}),
        )
        .await;
    assert_eq!(subscribed(&r).2, Some(false));
}

async fn recovery_after_history_expiry_is_not_recovered(b: Backend) {
    let h = Harness::new(b, &[("HISTORY_TTL_SECONDS", "1")]);
    h.connect("a=", &token("alice", &["room:*"], &["room:*"]))
        .await;
    let (_, epoch, _) = subscribed(
        &h.send("a=", json!({"action":"subscribe","channel":"room:x"}))
            .await,
    );
    for i in 0..3 {
        publish(&h, "a=", "room:x", json!(i), None).await;
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = h
        .send(
            "a=",
            json!({"action":"subscribe","channel":"room:x","since":{"seq":0,"epoch":epoch}}),
        )
        .await;
    assert_eq!(subscribed(&r).2, Some(false));
    assert!(messages(&r).is_empty(), "expired history is not replayed");
}

async fn history_pages_with_limit_and_complete(b: Backend) {
    let h = Harness::new(b, &[("HISTORY_MAX", "5")]);
    h.connect("a=", &token("alice", &["room:*"], &["room:*"]))
        .await;
    for i in 1..=7 {
        publish(&h, "a=", "room:h", json!(i), None).await;
    }
    let hist = |r: Vec<ServerFrame>| match r.into_iter().next() {
        Some(ServerFrame::History {
            messages,
            complete,
            id,
            ..
        }) => (
            messages
                .into_iter()
                .map(|m| match m {
                    ServerFrame::Message(m) => m.seq,
                    _ => panic!("history holds message frames"),
                })
                .collect::<Vec<_>>(),
            complete,
            id,
        ),
        other => panic!("expected history, got {other:?}"),
    };
    let epoch = match h
        .send("a=", json!({"action":"subscribe","channel":"room:h"}))
        .await
        .remove(0)
    {
        ServerFrame::Subscribed { epoch, .. } => epoch,
        _ => unreachable!(),
    };
    let (seqs, complete, id) = hist(
        h.send(
            "a=",
            json!({"action":"history","channel":"room:h","limit":2,"id":"h1"}),
        )
        .await,
    );
    assert_eq!(
        (seqs, complete, id.as_deref()),
        (vec![6, 7], true, Some("h1"))
    );
    let (seqs, complete, _) = hist(h.send("a=", json!({"action":"history","channel":"room:h","since":{"seq":4,"epoch":epoch},"limit":2})).await);
    assert_eq!(
        (seqs, complete),
        (vec![5, 6], false),
        "cut by limit: continue"
    );
    let (seqs, complete, _) = hist(h.send("a=", json!({"action":"history","channel":"room:h","since":{"seq":6,"epoch":epoch},"limit":2})).await);
    assert_eq!((seqs, complete), (vec![7], true), "reaches the head");
    // Seqs 1-2 were trimmed by HISTORY_MAX: from 0 the page is incomplete.
    let (seqs, complete, _) = hist(
        h.send(
            "a=",
            json!({"action":"history","channel":"room:h","since":{"seq":0,"epoch":epoch}}),
        )
        .await,
    );
    assert_eq!((seqs, complete), (vec![3, 4, 5, 6, 7], false));
    let (_, complete, _) = hist(
        h.send("a=", json!({"action":"history","channel":"room:h"}))
            .await,
    );
    assert!(!complete, "latest 100 asked, 5 kept");
    let r = h
        .send(
            "a=",
            json!({"action":"history","channel":"news:x","id":"n"}),
        )
        .await;
    assert_eq!(
        error_code(&r),
        Some((Some("n".into()), ErrorCode::Forbidden))
    );
}

async fn idempotent_publish_across_reconnect(b: Backend) {
    let h = Harness::new(b, &[]);
    let bob = token("bob", &[], &["room:*"]);
    h.connect("s=", &token("alice", &["room:*"], &[])).await;
    h.send("s=", json!({"action":"subscribe","channel":"room:i"}))
        .await;
    h.connect("b1=", &bob).await;
    let (seq, dup) = publish(&h, "b1=", "room:i", json!("once"), Some("msg-42")).await;
    assert!(!dup);
    h.disconnect("b1=").await;
    h.connect("b2=", &bob).await;
    let (seq2, dup2) = publish(&h, "b2=", "room:i", json!("once"), Some("msg-42")).await;
    assert_eq!((seq2, dup2), (seq, true));
    let got = messages(&h.received("s="));
    assert_eq!(got.len(), 1, "delivered once: {got:?}");
    let (seq3, dup3) = publish(&h, "b2=", "room:i", json!("twice"), Some("msg-43")).await;
    assert_eq!((seq3, dup3), (seq + 1, false));
}

async fn presence_before_and_after_disconnect(b: Backend) {
    let h = Harness::new(b, &[]);
    let alice = token("alice", &["room:*"], &[]);
    for id in ["a1=", "a2="] {
        h.connect(id, &alice).await;
        h.send(id, json!({"action":"subscribe","channel":"room:p"}))
            .await;
    }
    h.connect("b=", &token("bob", &["room:*"], &[])).await;
    h.send("b=", json!({"action":"subscribe","channel":"room:p"}))
        .await;
    let members = |r: Vec<ServerFrame>| match r.into_iter().next() {
        Some(ServerFrame::Presence { members, .. }) => serde_json::to_value(members).unwrap(),
        other => panic!("expected presence, got {other:?}"),
    };
    let p = members(
        h.send("b=", json!({"action":"presence","channel":"room:p"}))
            .await,
    );
    assert_eq!(
        p,
        json!([{"user":"alice","connections":2},{"user":"bob","connections":1}])
    );
    h.disconnect("a1=").await;
    let p = members(
        h.send("b=", json!({"action":"presence","channel":"room:p"}))
            .await,
    );
    assert_eq!(
        p,
        json!([{"user":"alice","connections":1},{"user":"bob","connections":1}])
    );
    h.pusher.mark_gone("a2=");
    h.connect("pub=", &token("srv", &[], &["room:*"])).await;
    publish(&h, "pub=", "room:p", json!(1), None).await;
    assert_eq!(messages(&h.received("b=")).len(), 1);
    let p = members(
        h.send("b=", json!({"action":"presence","channel":"room:p"}))
            .await,
    );
    assert_eq!(
        p,
        json!([{"user":"bob","connections":1}]),
        "410 cleanup updates presence"
    );
}

async fn flood_is_rate_limited_per_connection(b: Backend) {
    // 1/s with burst 3: a 3 s window admitting 3 frames. A flood may straddle
    // two windows, so at most 6 of 10 get through.
    let h = Harness::new(
        b,
        &[("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "3")],
    );
    h.connect("f=", &token("flood", &["room:*"], &["room:*"]))
        .await;
    h.connect("q=", &token("quiet", &["room:*"], &[])).await;
    h.send("q=", json!({"action":"subscribe","channel":"room:f"}))
        .await;
    let mut limited = 0;
    let mut published = 0;
    for i in 0..10 {
        let r = h
            .send(
                "f=",
                json!({"action":"publish","channel":"room:f","data":i,"id":format!("f{i}")}),
            )
            .await;
        match error_code(&r) {
            Some((id, ErrorCode::RateLimited)) => {
                assert_eq!(id, Some(format!("f{i}")));
                limited += 1;
            }
            None => published += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!(
        limited >= 4,
        "a 10-frame flood against burst 3 is limited: {limited}"
    );
    assert!((3..=6).contains(&published), "{published}");
    assert_eq!(
        messages(&h.received("q=")).len(),
        published,
        "limited frames were not processed"
    );
    // The quiet connection is unaffected.
    let r = h.send("q=", json!({"action":"ping"})).await;
    assert!(matches!(&r[..], [ServerFrame::Pong { .. }]));
}

async fn rate_claim_overrides_default(b: Backend) {
    let h = Harness::new(
        b,
        &[("RATE_LIMIT_PER_SECOND", "100"), ("RATE_LIMIT_BURST", "3")],
    );
    let mut c = wsfn::auth::TokenClaims {
        sub: "slow".into(),
        exp: wsfn::time::now_secs() + 600,
        subscribe: vec![],
        publish: vec![],
        rate: Some(0.5),
        nbf: None,
        iss: None,
        aud: None,
        ..Default::default()
    };
    h.connect(
        "slow=",
        &wsfn::auth::sign_hs256(common::SECRET, &c).unwrap(),
    )
    .await;
    c.sub = "fast".into();
    c.rate = None;
    h.connect(
        "fast=",
        &wsfn::auth::sign_hs256(common::SECRET, &c).unwrap(),
    )
    .await;
    let count =
        |frames: Vec<Vec<ServerFrame>>| frames.iter().filter(|r| error_code(r).is_none()).count();
    let mut slow = vec![];
    let mut fast = vec![];
    let started = std::time::Instant::now();
    for _ in 0..6 {
        slow.push(h.send("slow=", json!({"action":"ping"})).await);
        fast.push(h.send("fast=", json!({"action":"ping"})).await);
        // 15 ms apart: within 100/s, far beyond 0.5/s.
        tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    }
    // 0.5/s with burst 3: the burst, then one more only after 2 s.
    let slow = count(slow);
    if started.elapsed() < std::time::Duration::from_secs(2) {
        assert_eq!(slow, 3, "rate claim applies");
    }
    assert_eq!(count(fast), 6, "default 100/s");
}

async fn expired_token_refused_until_auth(b: Backend) {
    let h = Harness::new(b, &[("JWT_LEEWAY_SECONDS", "0")]);
    let short = wsfn::auth::sign_hs256(
        common::SECRET,
        &wsfn::auth::TokenClaims {
            sub: "alice".into(),
            exp: wsfn::time::now_secs() + 1,
            subscribe: vec!["room:*".into()],
            publish: vec!["room:*".into()],
            rate: None,
            nbf: None,
            iss: None,
            aud: None,
            ..Default::default()
        },
    )
    .unwrap();
    h.connect("t=", &short).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for frame in [
        json!({"action":"ping","id":"p"}),
        json!({"action":"publish","channel":"room:a","data":1,"id":"p"}),
    ] {
        let r = h.send("t=", frame).await;
        assert_eq!(
            error_code(&r),
            Some((Some("p".into()), ErrorCode::Unauthorized))
        );
    }
    // Refresh with another user's token is refused; a bad token too.
    let r = h
        .send(
            "t=",
            json!({"action":"auth","token":token("mallory", &[], &[]),"id":"x"}),
        )
        .await;
    assert_eq!(error_code(&r).map(|e| e.1), Some(ErrorCode::Unauthorized));
    let r = h
        .send("t=", json!({"action":"auth","token":"garbage"}))
        .await;
    assert_eq!(error_code(&r).map(|e| e.1), Some(ErrorCode::Unauthorized));
    let fresh = token("alice", &["room:*"], &["room:*"]);
    let r = h
        .send("t=", json!({"action":"auth","token":fresh,"id":"a"}))
        .await;
    assert!(
        matches!(&r[..], [ServerFrame::Authed { id: Some(i), exp }] if i == "a" && *exp > wsfn::time::now_secs()),
        "{r:?}"
    );
    let r = h.send("t=", json!({"action":"ping"})).await;
    assert!(matches!(&r[..], [ServerFrame::Pong { .. }]));
}

both_backends!(
    recovery_replays_exactly_the_missed,
    recovery_after_history_expiry_is_not_recovered,
    history_pages_with_limit_and_complete,
    idempotent_publish_across_reconnect,
    presence_before_and_after_disconnect,
    flood_is_rate_limited_per_connection,
    rate_claim_overrides_default,
    expired_token_refused_until_auth,
);
