//! The store contract: every backend (in-memory and DynamoDB Local) must pass
//! exactly these tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::Backend;
use serde_json::json;
use wsfn::auth::Principal;
use wsfn::channel::ChannelName;
use wsfn::store::{Appended, ConnectionRecord, HistoryLimits, NewMessage, StoreError};

const HOUR: Duration = Duration::from_secs(3600);

fn conn(id: &str, user: &str) -> ConnectionRecord {
    ConnectionRecord {
        id: id.into(),
        principal: Principal {
            sub: user.into(),
            exp: wsfn::time::now_secs() + 600,
            subscribe: vec!["room:*".into()],
            publish: vec![],
            rate: Some(5.0),
        },
        connected_at: 1_700_000_000_000,
    }
}

fn ch(s: &str) -> ChannelName {
    ChannelName::parse(s).unwrap()
}

fn msg(channel: &str, n: u64) -> NewMessage {
    NewMessage {
        channel: ch(channel),
        data: json!({"n": n}),
        from: "alice".into(),
        id: Some(format!("m{n}")),
        ts: 1000 + n,
        idempotency_ttl: None,
    }
}

const KEEP: HistoryLimits = HistoryLimits {
    ttl: Duration::from_secs(600),
    max: 1000,
};

async fn connections_round_trip(b: Backend) {
    let s = b.store();
    let c = conn("a=", "alice");
    assert_eq!(s.get_connection("a=").await.unwrap(), None);
    s.put_connection(&c, HOUR).await.unwrap();
    assert_eq!(s.get_connection("a=").await.unwrap(), Some(c.clone()));
    s.put_connection(&conn("b=", "alice"), HOUR).await.unwrap();
    s.put_connection(&conn("c=", "bob"), HOUR).await.unwrap();
    assert_eq!(s.count_user_connections("alice").await.unwrap(), 2);
    assert_eq!(s.count_user_connections("bob").await.unwrap(), 1);
    assert_eq!(s.count_user_connections("nobody").await.unwrap(), 0);
    let mut p = c.principal.clone();
    p.exp += 1000;
    s.update_principal("a=", &p).await.unwrap();
    assert_eq!(s.get_connection("a=").await.unwrap().unwrap().principal, p);
    assert!(matches!(
        s.update_principal("zz=", &p).await,
        Err(StoreError::NoConnection(_))
    ));
    let r = s.remove_connection("a=").await.unwrap();
    assert!(r.connection);
    assert_eq!(s.count_user_connections("alice").await.unwrap(), 1);
    let again = s.remove_connection("a=").await.unwrap();
    assert!(!again.connection, "remove is idempotent");
}

async fn expired_items_are_invisible(b: Backend) {
    let s = b.store();
    s.put_connection(&conn("x=", "alice"), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(s.get_connection("x=").await.unwrap(), None);
    assert_eq!(s.count_user_connections("alice").await.unwrap(), 0);
    // An expired connection cannot gain subscriptions.
    assert!(matches!(
        s.subscribe(&conn("x=", "alice"), &ch("room:a"), HOUR).await,
        Err(StoreError::NoConnection(_))
    ));
    s.put_connection(&conn("y=", "bob"), HOUR).await.unwrap();
    s.subscribe(&conn("y=", "bob"), &ch("room:a"), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(s.count_subscriptions("y=").await.unwrap(), 0);
    assert!(!s.is_subscribed("y=", &ch("room:a")).await.unwrap());
    assert!(s
        .subscribers(&ch("room:a"), None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
    // Expired history entries are not returned.
    let short = HistoryLimits {
        ttl: Duration::ZERO,
        max: 10,
    };
    s.append(msg("room:h", 1), short).await.unwrap();
    assert!(s
        .history(
            &ch("room:h"),
            &s.stream_head(&ch("room:h")).await.unwrap(),
            None,
            10
        )
        .await
        .unwrap()
        .is_empty());
    s.remove_connection("x=").await.unwrap();
    s.remove_connection("y=").await.unwrap();
    assert_eq!(b.leftovers("x=").await + b.leftovers("y=").await, 0);
}

async fn subscriptions_and_paging(b: Backend) {
    let s = b.store();
    let lobby = ch("room:lobby");
    let ids: Vec<String> = (0..7).map(|i| format!("c{i}=")).collect();
    for id in &ids {
        let c = conn(id, &format!("u{}", id.len() % 2));
        s.put_connection(&c, HOUR).await.unwrap();
        s.subscribe(&c, &lobby, HOUR).await.unwrap();
        s.subscribe(&c, &lobby, HOUR).await.unwrap(); // idempotent
    }
    s.subscribe(&conn("c0=", "u0"), &ch("room:other"), HOUR)
        .await
        .unwrap();
    assert_eq!(s.count_subscriptions("c0=").await.unwrap(), 2);
    assert!(s.is_subscribed("c0=", &lobby).await.unwrap());
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = s.subscribers(&lobby, cursor, 3).await.unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().map(|x| x.connection_id));
        pages += 1;
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
        assert!(pages < 20, "paging terminates");
    }
    seen.sort();
    assert_eq!(seen, ids);
    assert!(pages >= 3);
    assert!(s.unsubscribe("c1=", &lobby).await.unwrap());
    assert!(!s.unsubscribe("c1=", &lobby).await.unwrap());
    assert!(!s.is_subscribed("c1=", &lobby).await.unwrap());
    let removed = s.remove_connection("c0=").await.unwrap();
    assert_eq!(removed.subscriptions, 2);
    let left = s.subscribers(&lobby, None, 100).await.unwrap().items;
    assert_eq!(left.len(), 5);
    assert!(left
        .iter()
        .all(|x| x.connection_id != "c0=" && x.connection_id != "c1="));
    assert_eq!(b.leftovers("c0=").await, 0);
}

async fn streams_assign_gapless_seq(b: Backend) {
    let s = b.store();
    let head = s.stream_head(&ch("room:s")).await.unwrap();
    assert_eq!(head.seq, 0);
    assert_eq!(
        s.stream_head(&ch("room:s")).await.unwrap(),
        head,
        "head is stable"
    );
    for n in 1..=5 {
        let m = s
            .append(msg("room:s", n), KEEP)
            .await
            .unwrap()
            .into_new()
            .unwrap();
        assert_eq!((m.seq, m.epoch.as_str()), (n, head.epoch.as_str()));
        assert_eq!(m.id.as_deref(), Some(format!("m{n}").as_str()));
    }
    assert_eq!(s.stream_head(&ch("room:s")).await.unwrap().seq, 5);
    // Other channels have their own streams.
    let other = s
        .append(msg("room:t", 1), KEEP)
        .await
        .unwrap()
        .into_new()
        .unwrap();
    assert_eq!(other.seq, 1);
    assert_ne!(other.epoch, head.epoch);
}

async fn concurrent_appends_never_collide(b: Backend) {
    let s = b.store();
    let tasks: Vec<_> = (0..12)
        .map(|n| {
            let s = s.clone();
            tokio::spawn(async move { s.append(msg("room:race", n), KEEP).await.unwrap().seq() })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=12).collect::<Vec<_>>());
    let all = s
        .history(
            &ch("room:race"),
            &s.stream_head(&ch("room:race")).await.unwrap(),
            Some(0),
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<_>>()
    );
}

async fn history_reads_and_trims(b: Backend) {
    let s = b.store();
    let limits = HistoryLimits {
        ttl: Duration::from_secs(600),
        max: 5,
    };
    for n in 1..=8 {
        s.append(msg("room:h", n), limits).await.unwrap();
    }
    let c = ch("room:h");
    let seqs =
        |v: Vec<wsfn::protocol::MessageFrame>| v.into_iter().map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(
            s.history(&c, &s.stream_head(&c).await.unwrap(), None, 100)
                .await
                .unwrap()
        ),
        vec![4, 5, 6, 7, 8],
        "trimmed to max"
    );
    assert_eq!(
        seqs(
            s.history(&c, &s.stream_head(&c).await.unwrap(), None, 2)
                .await
                .unwrap()
        ),
        vec![7, 8],
        "latest, oldest first"
    );
    assert_eq!(
        seqs(
            s.history(&c, &s.stream_head(&c).await.unwrap(), Some(5), 2)
                .await
                .unwrap()
        ),
        vec![6, 7],
        "first after since"
    );
    assert_eq!(
        seqs(
            s.history(&c, &s.stream_head(&c).await.unwrap(), Some(1), 100)
                .await
                .unwrap()
        ),
        vec![4, 5, 6, 7, 8]
    );
    assert!(s
        .history(&c, &s.stream_head(&c).await.unwrap(), Some(8), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .history(
            &ch("room:none"),
            &s.stream_head(&ch("room:none")).await.unwrap(),
            None,
            10
        )
        .await
        .unwrap()
        .is_empty());
    let stale = wsfn::store::StreamHead {
        seq: 8,
        epoch: "another-epoch".into(),
    };
    assert!(
        s.history(&c, &stale, None, 10).await.unwrap().is_empty(),
        "other epoch: nothing"
    );
    let none = HistoryLimits {
        ttl: Duration::from_secs(600),
        max: 0,
    };
    s.append(msg("room:nohist", 1), none).await.unwrap();
    assert!(s
        .history(
            &ch("room:nohist"),
            &s.stream_head(&ch("room:nohist")).await.unwrap(),
            None,
            10
        )
        .await
        .unwrap()
        .is_empty());
}

async fn idempotent_append(b: Backend) {
    let s = b.store();
    let keyed = |channel: &str, id: &str, from: &str| NewMessage {
        channel: ch(channel),
        data: json!(1),
        from: from.into(),
        id: Some(id.into()),
        ts: 1,
        idempotency_ttl: Some(Duration::from_secs(300)),
    };
    let first = s
        .append(keyed("room:i", "p1", "alice"), KEEP)
        .await
        .unwrap();
    assert!(matches!(first, Appended::New(ref m) if m.seq == 1));
    let again = s
        .append(keyed("room:i", "p1", "alice"), KEEP)
        .await
        .unwrap();
    assert_eq!(
        again,
        Appended::Duplicate {
            channel: "room:i".into(),
            seq: 1
        }
    );
    // Another user, or another id, is a new message.
    assert_eq!(
        s.append(keyed("room:i", "p1", "bob"), KEEP)
            .await
            .unwrap()
            .seq(),
        2
    );
    assert_eq!(
        s.append(keyed("room:i", "p2", "alice"), KEEP)
            .await
            .unwrap()
            .seq(),
        3
    );
    assert_eq!(
        s.history(
            &ch("room:i"),
            &s.stream_head(&ch("room:i")).await.unwrap(),
            Some(0),
            10
        )
        .await
        .unwrap()
        .len(),
        3,
        "duplicate not stored"
    );
    // Concurrent retries of one publish get one seq between them.
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let s = s.clone();
            let m = keyed("room:i", "p3", "carol");
            tokio::spawn(async move { s.append(m, KEEP).await.unwrap() })
        })
        .collect();
    let mut new = 0;
    let mut seqs = std::collections::HashSet::new();
    for t in tasks {
        let a = t.await.unwrap();
        new += matches!(a, Appended::New(_)) as u32;
        seqs.insert(a.seq());
    }
    assert_eq!((new, seqs.len()), (1, 1));
    // An expired record no longer deduplicates.
    let mut short = keyed("room:i", "p4", "alice");
    short.idempotency_ttl = Some(Duration::ZERO);
    s.append(short.clone(), KEEP).await.unwrap();
    assert!(matches!(
        s.append(short, KEEP).await.unwrap(),
        Appended::New(_)
    ));
}

async fn rate_windows_count_per_connection(b: Backend) {
    let s = b.store();
    for expected in 1..=3 {
        assert_eq!(s.rate_hit("r1=", 10, HOUR).await.unwrap(), expected);
    }
    assert_eq!(
        s.rate_hit("r2=", 10, HOUR).await.unwrap(),
        1,
        "per connection"
    );
    assert_eq!(
        s.rate_hit("r1=", 11, HOUR).await.unwrap(),
        1,
        "new window starts at 1"
    );
    s.remove_connection("r1=").await.unwrap();
    assert_eq!(
        b.leftovers("r1=").await,
        0,
        "rate counters go with the connection"
    );
}

both_backends!(
    idempotent_append,
    rate_windows_count_per_connection,
    connections_round_trip,
    expired_items_are_invisible,
    subscriptions_and_paging,
    streams_assign_gapless_seq,
    concurrent_appends_never_collide,
    history_reads_and_trims,
);
