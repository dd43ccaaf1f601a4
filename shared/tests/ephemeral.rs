//! Ephemeral messages and `echo: false` (PROTOCOL §10) on both stores:
//! delivered without seq, epoch, history or idempotency, no stream write;
//! refused on channels outside `EPHEMERAL_CHANNELS`; rate limited like any
//! publish; `echo: false` skips only the publishing connection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{error_code, messages, token, Backend, Harness};
use serde_json::json;
use wsfn::channel::ChannelName;
use wsfn::protocol::{ErrorCode, ServerFrame};

fn harness(b: Backend, extra: &[(&str, &str)]) -> Harness {
    let mut env = vec![("EPHEMERAL_CHANNELS", "typing:*,cursor:doc1")];
    env.extend_from_slice(extra);
    Harness::new(b, &env)
}

/// The stream's last seq (0: nothing was ever appended).
async fn head_seq(h: &Harness, channel: &str) -> u64 {
    let channel = ChannelName::parse(channel).unwrap();
    h.app
        .store
        .read_head(&channel)
        .await
        .unwrap()
        .map_or(0, |head| head.seq)
}

async fn two_subscribers(h: &Harness, channel: &str) {
    for (id, user) in [("p1=", "pat"), ("q1=", "quinn")] {
        h.connect(
            id,
            &token(
                user,
                &["typing:*", "room:*", "cursor:*"],
                &["typing:*", "room:*", "cursor:*"],
            ),
        )
        .await;
        h.send(id, json!({"action":"subscribe","channel":channel}))
            .await;
    }
}

async fn ephemeral_is_delivered_and_not_stored(b: Backend) {
    let h = harness(b, &[]);
    two_subscribers(&h, "typing:room1").await;
    let reply = h
        .send(
            "p1=",
            json!({"action":"publish","channel":"typing:room1","data":{"typing":true},"ephemeral":true,"id":"t1"}),
        )
        .await;
    let ack = reply
        .iter()
        .find(|f| matches!(f, ServerFrame::Ack { .. }))
        .expect("an ack");
    assert_eq!(
        serde_json::to_value(ack).unwrap(),
        json!({"type":"ack","id":"t1","channel":"typing:room1","ephemeral":true}),
        "no seq, no duplicate"
    );
    let got = messages(&h.received("q1="));
    assert_eq!(got.len(), 1);
    let wire = serde_json::to_value(ServerFrame::Message(got[0].clone())).unwrap();
    assert_eq!(wire["ephemeral"], true);
    assert_eq!(wire["from"], "pat");
    assert_eq!(wire["data"], json!({"typing": true}));
    assert!(
        wire.get("seq").is_none() && wire.get("epoch").is_none(),
        "{wire}"
    );
    // The publisher (echo by default) gets it too.
    assert_eq!(messages(&reply).len(), 1);
    // Not sequenced, no history; the same id again is delivered again
    // (nothing is deduplicated).
    // (A subscribe creates the head; no publish moved it.)
    assert_eq!(head_seq(&h, "typing:room1").await, 0);
    h.send(
        "p1=",
        json!({"action":"publish","channel":"typing:room1","data":1,"ephemeral":true,"id":"t1"}),
    )
    .await;
    assert_eq!(messages(&h.received("q1=")).len(), 1);
    let hist = h
        .send("q1=", json!({"action":"history","channel":"typing:room1"}))
        .await;
    match hist.as_slice() {
        [ServerFrame::History { messages, .. }] => assert!(messages.is_empty()),
        other => panic!("{other:?}"),
    }
    // A sequenced publish on the same channel starts the stream at 1.
    let r = h
        .send(
            "p1=",
            json!({"action":"publish","channel":"typing:room1","data":2}),
        )
        .await;
    assert!(
        r.iter().any(|f| matches!(
            f,
            ServerFrame::Ack {
                seq: 1,
                ephemeral: false,
                ..
            }
        )),
        "{r:?}"
    );
}

async fn ephemeral_only_where_configured(b: Backend) {
    let h = harness(b, &[]);
    two_subscribers(&h, "room:a").await;
    let r = h
        .send(
            "p1=",
            json!({"action":"publish","channel":"room:a","data":1,"ephemeral":true,"id":"e1"}),
        )
        .await;
    assert_eq!(
        error_code(&r),
        Some((Some("e1".into()), ErrorCode::BadRequest))
    );
    assert!(h.received("q1=").is_empty());
    let r = h
        .send(
            "p1=",
            json!({"action":"publish","channel":"typing:x","data":1,"ephemeral":"yes","id":"e2"}),
        )
        .await;
    assert_eq!(
        error_code(&r),
        Some((Some("e2".into()), ErrorCode::BadRequest))
    );
    // An exact pattern and the capability check still apply.
    let r = h
        .send(
            "p1=",
            json!({"action":"publish","channel":"cursor:doc2","data":1,"ephemeral":true,"id":"e3"}),
        )
        .await;
    assert_eq!(
        error_code(&r),
        Some((Some("e3".into()), ErrorCode::BadRequest))
    );
    h.connect("r1=", &token("ro", &["typing:*"], &[])).await;
    let r = h
        .send(
            "r1=",
            json!({"action":"publish","channel":"typing:x","data":1,"ephemeral":true,"id":"e4"}),
        )
        .await;
    assert_eq!(
        error_code(&r),
        Some((Some("e4".into()), ErrorCode::Forbidden))
    );
}

async fn ephemeral_publishes_are_rate_limited(b: Backend) {
    let h = harness(
        b,
        &[("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "3")],
    );
    two_subscribers(&h, "typing:r").await;
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let mut limited = 0;
    for n in 0..6 {
        let r = h
            .send(
                "p1=",
                json!({"action":"publish","channel":"typing:r","data":n,"ephemeral":true}),
            )
            .await;
        if error_code(&r).is_some_and(|(_, c)| c == ErrorCode::RateLimited) {
            limited += 1;
        }
    }
    assert!(limited >= 2, "{limited} of 6 refused at burst 3");
}

async fn echo_false_skips_only_the_publisher(b: Backend) {
    let h = harness(b, &[]);
    two_subscribers(&h, "room:e").await;
    // The same user on a second connection still gets it.
    h.connect("p2=", &token("pat", &["room:*"], &["room:*"]))
        .await;
    h.send("p2=", json!({"action":"subscribe","channel":"room:e"}))
        .await;
    let r = h
        .send(
            "p1=",
            json!({"action":"publish","channel":"room:e","data":1,"echo":false,"id":"x1"}),
        )
        .await;
    assert!(messages(&r).is_empty(), "no echo: {r:?}");
    assert!(
        r.iter()
            .any(|f| matches!(f, ServerFrame::Ack { seq: 1, .. })),
        "{r:?}"
    );
    assert_eq!(messages(&h.received("q1=")).len(), 1);
    assert_eq!(messages(&h.received("p2=")).len(), 1);
    // Ephemeral with echo false.
    h.send("p1=", json!({"action":"subscribe","channel":"typing:e"}))
        .await;
    h.send("q1=", json!({"action":"subscribe","channel":"typing:e"}))
        .await;
    let r = h
        .send(
            "p1=",
            json!({"action":"publish","channel":"typing:e","data":1,"echo":false,"ephemeral":true}),
        )
        .await;
    assert!(messages(&r).is_empty(), "{r:?}");
    assert_eq!(messages(&h.received("q1=")).len(), 1);
    // The message is in history all the same (the publisher's client
    // knows its seq from the ack).
    let hist = h
        .send("q1=", json!({"action":"history","channel":"room:e"}))
        .await;
    match hist.as_slice() {
        [ServerFrame::History { messages, .. }] => assert_eq!(messages.len(), 1),
        other => panic!("{other:?}"),
    }
    // echo must be a boolean.
    let r = h
        .send(
            "p1=",
            json!({"action":"publish","channel":"room:e","data":1,"echo":0,"id":"x2"}),
        )
        .await;
    assert_eq!(
        error_code(&r),
        Some((Some("x2".into()), ErrorCode::BadRequest))
    );
}

/// Many publishers of ephemeral messages at once: every subscriber gets
/// every one, and nothing is written to the channel's stream.
async fn many_ephemeral_publishers(b: Backend) {
    let h = Arc::new(harness(
        b,
        &[
            ("RATE_LIMIT_PER_SECOND", "1000"),
            ("RATE_LIMIT_BURST", "1000"),
        ],
    ));
    h.connect("sub=", &token("reader", &["typing:*"], &[]))
        .await;
    h.send(
        "sub=",
        json!({"action":"subscribe","channel":"typing:many"}),
    )
    .await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let h = h.clone();
            tokio::spawn(async move {
                let id = format!("w{i}=");
                h.connect(&id, &token(&format!("w{i}"), &[], &["typing:*"])).await;
                for n in 0..10 {
                    h.send_quiet(
                        &id,
                        json!({"action":"publish","channel":"typing:many","data":n,"ephemeral":true}),
                    )
                    .await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(messages(&h.received("sub=")).len(), 80);
    assert_eq!(head_seq(&h, "typing:many").await, 0);
}

/// An ephemeral fan-out may use the instance's cached subscriber list, but
/// a subscribe or unsubscribe in the instance takes effect at once.
async fn ephemeral_subscriber_list_follows_changes(b: Backend) {
    let h = harness(b, &[]);
    let typing =
        |n: u32| json!({"action":"publish","channel":"typing:c","data":n,"ephemeral":true});
    let sub = json!({"action":"subscribe","channel":"typing:c"});
    let tok = |u: &str| token(u, &["typing:*"], &["typing:*"]);
    h.connect("p1=", &tok("pat")).await;
    h.connect("q1=", &tok("quinn")).await;
    h.send("p1=", sub.clone()).await;
    h.send("p1=", typing(1)).await;
    h.send("q1=", sub).await;
    h.send("p1=", typing(2)).await;
    assert_eq!(
        messages(&h.received("q1=")).len(),
        1,
        "the new subscriber got 2"
    );
    h.send("q1=", json!({"action":"unsubscribe","channel":"typing:c"}))
        .await;
    h.send("p1=", typing(3)).await;
    // (`received` hands over what arrived since it was last asked.)
    assert_eq!(
        messages(&h.received("q1=")).len(),
        0,
        "nothing after leaving"
    );
    assert_eq!(head_seq(&h, "typing:c").await, 0);
}

/// An ephemeral publish may use the instance's record of the connection,
/// but an `auth` or `$disconnect` handled by the instance applies at once.
async fn ephemeral_publishes_see_auth_and_disconnect_at_once(b: Backend) {
    let h = harness(b, &[]);
    let typing =
        json!({"action":"publish","channel":"typing:d","data":1,"ephemeral":true,"id":"e"});
    h.connect("p1=", &token("pat", &["typing:*"], &["typing:*"]))
        .await;
    let first = h.send("p1=", typing.clone()).await;
    assert_eq!(error_code(&first), None, "{first:?}");
    // A new token without the publish capability.
    let reply = h
        .send(
            "p1=",
            json!({"action":"auth","token":token("pat", &["typing:*"], &[])}),
        )
        .await;
    assert!(
        reply
            .iter()
            .any(|f| matches!(f, ServerFrame::Authed { .. })),
        "{reply:?}"
    );
    let refused = h.send("p1=", typing.clone()).await;
    assert_eq!(
        error_code(&refused),
        Some((Some("e".into()), ErrorCode::Forbidden))
    );
    h.disconnect("p1=").await;
    let gone = h.send("p1=", typing).await;
    assert_eq!(
        error_code(&gone),
        Some((Some("e".into()), ErrorCode::Unauthorized))
    );
}

both_backends!(
    ephemeral_publishes_see_auth_and_disconnect_at_once,
    ephemeral_subscriber_list_follows_changes,
    ephemeral_is_delivered_and_not_stored,
    ephemeral_only_where_configured,
    ephemeral_publishes_are_rate_limited,
    echo_false_skips_only_the_publisher,
    many_ephemeral_publishers,
);
