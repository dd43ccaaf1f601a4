//! Limits and invariants under concurrency and at the size edges (issue 8),
//! through the handlers, on both stores.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::{error_code, messages, token, Backend, Harness};
use serde_json::json;
use wsfn::channel::ChannelName;
use wsfn::protocol::{ErrorCode, ServerFrame, MAX_REPLY_BYTES};

fn ch(s: &str) -> ChannelName {
    ChannelName::parse(s).unwrap()
}

/// 10 simultaneous handshakes of one user with MAX_CONNECTIONS_PER_USER=3:
/// 3 admitted, 7 refused with 429, every time.
async fn simultaneous_handshakes_respect_the_limit(b: Backend) {
    let h = Arc::new(Harness::new(b, &[("MAX_CONNECTIONS_PER_USER", "3")]));
    let t = token("alice", &[], &[]);
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let h = h.clone();
            let auth = format!("Bearer {t}");
            tokio::spawn(async move {
                h.connect_with(&format!("s{i}="), &[("Authorization", &auth)], &[])
                    .await
                    .0
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [vec![200; 3], vec![429; 7]].concat());
}

/// A user at the limit whose connections were dropped without `$disconnect`
/// is not locked out: gone holders (410 on GetConnection) are reaped.
async fn missed_disconnect_does_not_lock_the_user_out(b: Backend) {
    let h = Harness::new(b, &[("MAX_CONNECTIONS_PER_USER", "2")]);
    let t = token("bob", &[], &[]);
    let old = Duration::from_secs(120);
    assert_eq!(h.connect_aged("o1=", &t, old).await, 200);
    assert_eq!(h.connect_aged("o2=", &t, old).await, 200);
    // Both alive: the third is refused, and nobody was removed.
    assert_eq!(h.connect_aged("o3=", &t, Duration::ZERO).await, 429);
    assert!(h.app.store.get_connection("o1=").await.unwrap().is_some());
    // o1 crashed without $disconnect: the gateway answers 410 for it.
    h.pusher.mark_gone("o1=");
    assert_eq!(h.connect_aged("o4=", &t, Duration::ZERO).await, 200);
    assert_eq!(
        h.backend.leftovers("o1=").await,
        0,
        "the gone holder is cleaned up"
    );
    assert!(h.app.store.get_connection("o2=").await.unwrap().is_some());
    // A fresh holder (maybe still in its own handshake) is never reaped.
    h.pusher.mark_gone("o4=");
    assert_eq!(h.connect_aged("o5=", &t, Duration::ZERO).await, 429);
    assert!(h.app.store.get_connection("o4=").await.unwrap().is_some());
}

/// 15 connections × 10 pipelined publishes on one channel: every publish is
/// acked, none is `internal`, seqs are 1..=150 without gaps.
async fn hot_channel_publishes_never_fail(b: Backend) {
    let h = Arc::new(Harness::new(
        b,
        &[
            ("RATE_LIMIT_PER_SECOND", "100000"),
            ("RATE_LIMIT_BURST", "100000"),
        ],
    ));
    for p in 0..15 {
        h.connect(
            &format!("p{p}="),
            &token(&format!("u{p}"), &[], &["room:*"]),
        )
        .await;
    }
    let tasks: Vec<_> = (0..15)
        .map(|p| {
            let h = h.clone();
            tokio::spawn(async move {
                let id = format!("p{p}=");
                let sends = (0..10).map(|i| {
                    let h = h.clone();
                    let id = id.clone();
                    async move {
                        h.send_quiet(
                            &id,
                            json!({"action":"publish","channel":"room:hot","data":i}),
                        )
                        .await
                    }
                });
                futures::future::join_all(sends).await;
                h.received(&id)
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        for f in task.await.unwrap() {
            match f {
                ServerFrame::Ack { seq, .. } => seqs.push(seq),
                ServerFrame::Error { code, .. } => panic!("publish failed: {code:?}"),
                _ => {}
            }
        }
    }
    seqs.sort();
    assert_eq!(seqs, (1..=150).collect::<Vec<_>>());
}

/// Pipelined subscribes hold the limit; unsubscribing the personal channel
/// does not make room for one more.
async fn subscription_limit_under_pipelining(b: Backend) {
    let h = Arc::new(Harness::new(
        b,
        &[("MAX_SUBSCRIPTIONS_PER_CONNECTION", "2")],
    ));
    h.connect("m=", &token("alice", &["room:*"], &[])).await;
    let r = h
        .send("m=", json!({"action":"unsubscribe","channel":"user:alice"}))
        .await;
    assert!(
        matches!(&r[..], [ServerFrame::Unsubscribed { .. }]),
        "{r:?}"
    );
    let sends = (0..8).map(|i| {
        let h = h.clone();
        async move {
            h.send_quiet(
                "m=",
                json!({"action":"subscribe","channel":format!("room:{i}")}),
            )
            .await
        }
    });
    futures::future::join_all(sends).await;
    let frames = h.received("m=");
    let ok = frames
        .iter()
        .filter(|f| matches!(f, ServerFrame::Subscribed { .. }))
        .count();
    let refused = frames
        .iter()
        .filter(|f| {
            matches!(
                f,
                ServerFrame::Error {
                    code: ErrorCode::LimitExceeded,
                    ..
                }
            )
        })
        .count();
    assert_eq!((ok, refused), (2, 6), "{frames:?}");
    let mut held = 0;
    for i in 0..8 {
        let page = h
            .app
            .store
            .subscribers(&ch(&format!("room:{i}")), None, 10)
            .await
            .unwrap();
        held += page.items.len();
    }
    assert_eq!(held, 2);
    // The personal channel is free again.
    let r = h
        .send("m=", json!({"action":"subscribe","channel":"user:alice"}))
        .await;
    assert!(matches!(&r[..], [ServerFrame::Subscribed { .. }]), "{r:?}");
}

/// A reused publish id acks the original message, or is refused when the
/// channel or payload differ.
async fn duplicate_publish_acks_the_original(b: Backend) {
    let h = Harness::new(b, &[]);
    h.connect("d=", &token("alice", &[], &["room:*"])).await;
    let ack = |frames: Vec<ServerFrame>| match &frames[..] {
        [ServerFrame::Ack {
            channel,
            seq,
            duplicate,
            ..
        }] => (
            channel.clone(),
            *seq,
            duplicate.expect("a sequenced ack says whether"),
        ),
        other => panic!("{other:?}"),
    };
    let first = ack(h
        .send(
            "d=",
            json!({"action":"publish","channel":"room:a","data":{"x":1},"id":"k"}),
        )
        .await);
    assert_eq!(first, ("room:a".into(), 1, false));
    let again = ack(h
        .send(
            "d=",
            json!({"action":"publish","channel":"room:a","data":{"x":1},"id":"k"}),
        )
        .await);
    assert_eq!(again, ("room:a".into(), 1, true));
    let other_channel = h
        .send(
            "d=",
            json!({"action":"publish","channel":"room:b","data":{"x":1},"id":"k"}),
        )
        .await;
    assert_eq!(
        error_code(&other_channel),
        Some((Some("k".into()), ErrorCode::BadRequest))
    );
    let other_payload = h
        .send(
            "d=",
            json!({"action":"publish","channel":"room:a","data":{"x":2},"id":"k"}),
        )
        .await;
    assert_eq!(
        error_code(&other_payload),
        Some((Some("k".into()), ErrorCode::BadRequest))
    );
    assert!(
        h.app
            .store
            .read_head(&ch("room:b"))
            .await
            .unwrap()
            .is_none(),
        "the refused publish stored nothing"
    );
}

/// History of large messages pages by bytes: every reply fits 128 KB, and
/// paging with `since` until `complete` returns every message once.
async fn history_replies_fit_the_management_api(b: Backend) {
    let h = Harness::new(b, &[("RATE_LIMIT_BURST", "100")]);
    h.connect("hp=", &token("alice", &["room:*"], &["room:*"]))
        .await;
    let big = "x".repeat(30_000);
    for i in 0..8 {
        let r = h
            .send(
                "hp=",
                json!({"action":"publish","channel":"room:big","data":{"i":i,"pad":big}}),
            )
            .await;
        assert!(error_code(&r).is_none(), "{r:?}");
    }
    let first = h
        .send("hp=", json!({"action":"history","channel":"room:big"}))
        .await;
    assert_eq!(h.pusher.oversized(), 0, "no reply over 128 KB");
    let (epoch, latest, complete) = match &first[..] {
        [ServerFrame::History {
            epoch,
            messages,
            complete,
            ..
        }] => (epoch.clone(), messages.len(), *complete),
        other => panic!("no history reply: {other:?}"),
    };
    assert!(
        (1..8).contains(&latest) && !complete,
        "latest page cut by bytes: {latest}"
    );
    let mut seen = Vec::new();
    let mut since = 0;
    for _ in 0..10 {
        let r = h
            .send("hp=", json!({"action":"history","channel":"room:big","since":{"seq":since,"epoch":epoch}}))
            .await;
        let [ServerFrame::History {
            messages: page,
            complete,
            ..
        }] = &r[..]
        else {
            panic!("{r:?}")
        };
        for m in page {
            if let ServerFrame::Message(m) = m {
                seen.push(m.seq);
                since = m.seq;
            }
        }
        if *complete {
            break;
        }
    }
    assert_eq!(seen, (1..=8).collect::<Vec<_>>());
    assert_eq!(h.pusher.oversized(), 0);
}

/// Presence of a channel too big for one reply pages with a cursor.
async fn presence_pages_by_bytes(b: Backend) {
    let h = Harness::new(b, &[]);
    let n = 600;
    let long = "u".repeat(240);
    for i in 0..n {
        let id = format!("pr{i:04}=");
        h.connect(&id, &token(&format!("{long}{i:04}"), &["room:*"], &[]))
            .await;
        h.send(&id, json!({"action":"subscribe","channel":"room:crowd"}))
            .await;
    }
    let mut users = BTreeSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut frame = json!({"action":"presence","channel":"room:crowd"});
        if let Some(c) = &cursor {
            frame["cursor"] = json!(c);
        }
        let r = h.send("pr0000=", frame).await;
        let [ServerFrame::Presence {
            members,
            complete,
            cursor: next,
            ..
        }] = &r[..]
        else {
            panic!("no presence reply: {r:?}")
        };
        pages += 1;
        users.extend(members.iter().map(|m| m.user.clone()));
        if *complete {
            break;
        }
        cursor = next.clone();
        assert!(pages < 20);
    }
    assert_eq!(users.len(), n);
    assert!(pages >= 2, "{pages}");
    assert_eq!(h.pusher.oversized(), 0);
}

/// Recovery replays at most 100 messages inside `subscribe`; the rest comes
/// from `history`.
async fn recovery_replay_is_capped(b: Backend) {
    let h = Harness::new(
        b,
        &[
            ("RATE_LIMIT_PER_SECOND", "100000"),
            ("RATE_LIMIT_BURST", "100000"),
        ],
    );
    h.connect("rc=", &token("alice", &["room:*"], &["room:*"]))
        .await;
    let sub = h
        .send("rc=", json!({"action":"subscribe","channel":"room:r"}))
        .await;
    let [ServerFrame::Subscribed { epoch, .. }] = &sub[..] else {
        panic!("{sub:?}")
    };
    let epoch = epoch.clone();
    let publishes = (0..130).map(|i| {
        h.send_quiet(
            "rc=",
            json!({"action":"publish","channel":"room:r","data":i}),
        )
    });
    futures::future::join_all(publishes).await;
    h.received("rc=");
    let r = h
        .send(
            "rc=",
            json!({"action":"subscribe","channel":"room:r","since":{"seq":0,"epoch":epoch}}),
        )
        .await;
    let replayed = messages(&r);
    assert_eq!(replayed.len(), 100);
    assert!(
        matches!(
            &r[0],
            ServerFrame::Subscribed {
                recovered: Some(false),
                seq: 130,
                ..
            }
        ),
        "{:?}",
        r[0]
    );
    assert_eq!(replayed.last().map(|m| m.seq), Some(100));
}

/// Over-long `sub` gets 401, not a store error.
async fn overlong_sub_is_401(b: Backend) {
    let h = Harness::new(b, &[]);
    let auth = format!("Bearer {}", token(&"a".repeat(3000), &[], &[]));
    assert_eq!(
        h.connect_with("long=", &[("Authorization", &auth)], &[])
            .await
            .0,
        401
    );
    assert_eq!(h.backend.leftovers("long=").await, 0);
}

/// A subprotocol list sent on two header lines is read whole.
async fn multi_line_headers_are_read(b: Backend) {
    let h = Harness::new(b, &[]);
    let bearer = format!("bearer.{}", token("alice", &[], &[]));
    let (status, proto) = h
        .connect_with(
            "ml=",
            &[
                ("Sec-WebSocket-Protocol", "wsfn.v1"),
                ("Sec-WebSocket-Protocol", &bearer),
            ],
            &[],
        )
        .await;
    assert_eq!((status, proto.as_deref()), (200, Some("wsfn.v1")));
}

/// Reading a channel nobody published to writes nothing.
async fn reading_never_creates_a_stream(b: Backend) {
    let h = Harness::new(b, &[]);
    h.connect("rd=", &token("alice", &["room:*"], &[])).await;
    let r = h
        .send("rd=", json!({"action":"history","channel":"room:ghost"}))
        .await;
    assert!(
        matches!(&r[..], [ServerFrame::History { messages, complete: true, epoch, .. }] if messages.is_empty() && epoch.is_empty()),
        "{r:?}"
    );
    let r = h
        .send("rd=", json!({"action":"presence","channel":"room:ghost"}))
        .await;
    assert!(
        matches!(&r[..], [ServerFrame::Presence { complete: true, .. }]),
        "{r:?}"
    );
    assert!(h
        .app
        .store
        .read_head(&ch("room:ghost"))
        .await
        .unwrap()
        .is_none());
}

/// A frame the JSON parser gives up on still gets its id back.
async fn unparseable_frames_echo_their_id(b: Backend) {
    let h = Harness::new(b, &[]);
    h.connect("up=", &token("alice", &[], &[])).await;
    let deep = format!(
        r#"{{"id":"n1","action":"publish","data":{}0{}}}"#,
        "[".repeat(300),
        "]".repeat(300)
    );
    for (body, id) in [
        (deep.as_str(), "n1"),
        (r#"{"action":"ping","x":1e400,"id":"n2"}"#, "n2"),
    ] {
        let r = h.send_raw("up=", body).await;
        assert_eq!(
            error_code(&r),
            Some((Some(id.to_string()), ErrorCode::BadRequest))
        );
    }
}

both_backends!(
    simultaneous_handshakes_respect_the_limit,
    missed_disconnect_does_not_lock_the_user_out,
    hot_channel_publishes_never_fail,
    subscription_limit_under_pipelining,
    duplicate_publish_acks_the_original,
    history_replies_fit_the_management_api,
    presence_pages_by_bytes,
    recovery_replay_is_capped,
    overlong_sub_is_401,
    multi_line_headers_are_read,
    reading_never_creates_a_stream,
    unparseable_frames_echo_their_id,
);

const _: usize = MAX_REPLY_BYTES;
