//! Reserved identities and checked inputs, on both stores: a `sub` beginning
//! with `@` (the backend's names: `@server`) is refused at the handshake and
//! in band; a presence cursor the server did not give is a `bad_request`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{error_code, token, Backend, Harness};
use serde_json::json;
use wsfn::protocol::{ErrorCode, ServerFrame};

async fn reserved_subs_are_refused(b: Backend) {
    let h = Harness::new(b, &[]);
    for sub in ["@server", "@anything", "@"] {
        let auth = format!("Bearer {}", token(sub, &["room:*"], &["room:*"]));
        let id = format!("r{}=", sub.len());
        assert_eq!(
            h.connect_with(&id, &[("Authorization", &auth)], &[])
                .await
                .0,
            401,
            "{sub}"
        );
        assert_eq!(h.backend.leftovers(&id).await, 0, "{sub}: nothing stored");
    }
    // An `@` elsewhere is an ordinary user id.
    h.connect(
        "mail=",
        &token("alice@example.com", &["room:*"], &["room:*"]),
    )
    .await;
    // In band: a connected user cannot switch to a reserved name.
    let reply = h
        .send(
            "mail=",
            json!({"action":"auth","id":"a1","token":token("@server", &["room:*"], &["room:*"])}),
        )
        .await;
    assert_eq!(
        error_code(&reply),
        Some((Some("a1".into()), ErrorCode::Unauthorized)),
        "{reply:?}"
    );
    // And its publishes still come from its own name.
    h.send("mail=", json!({"action":"subscribe","channel":"room:a"}))
        .await;
    h.send(
        "mail=",
        json!({"action":"publish","channel":"room:a","data":1}),
    )
    .await;
    let from: Vec<String> = h
        .received("mail=")
        .into_iter()
        .chain(
            h.send("mail=", json!({"action":"history","channel":"room:a"}))
                .await,
        )
        .filter_map(|f| match f {
            ServerFrame::History { messages, .. } => Some(messages),
            _ => None,
        })
        .flatten()
        .filter_map(|m| match m {
            ServerFrame::Message(m) => Some(m.from),
            _ => None,
        })
        .collect();
    assert_eq!(from, vec!["alice@example.com".to_string()]);
}

async fn invented_presence_cursors_are_bad_requests(b: Backend) {
    let h = Harness::new(b, &[]);
    for i in 0..5 {
        let id = format!("p{i}=");
        h.connect(&id, &token(&format!("u{i}"), &["room:*"], &[]))
            .await;
        h.send(&id, json!({"action":"subscribe","channel":"room:p"}))
            .await;
    }
    for cursor in ["x", "!!!!", "p1=", "cDE9.AAAAAAAAAAAA", ""] {
        let reply = h
            .send(
                "p0=",
                json!({"action":"presence","id":"q","channel":"room:p","cursor":cursor}),
            )
            .await;
        assert_eq!(
            error_code(&reply),
            Some((Some("q".into()), ErrorCode::BadRequest)),
            "cursor {cursor:?}: {reply:?}"
        );
    }
    // Without one: everybody, complete.
    let reply = h
        .send("p0=", json!({"action":"presence","channel":"room:p"}))
        .await;
    match &reply[..] {
        [ServerFrame::Presence {
            members, complete, ..
        }] => assert_eq!((members.len(), *complete), (5, true)),
        other => panic!("{other:?}"),
    }
}

both_backends!(
    reserved_subs_are_refused,
    invented_presence_cursors_are_bad_requests,
);
