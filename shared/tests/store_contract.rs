//! The store contract: every backend (in-memory and DynamoDB Local) must pass
//! exactly these tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::Backend;
use serde_json::json;
use wsfn::auth::Principal;
use wsfn::channel::ChannelName;
use wsfn::store::{
    Admission, Admit, Appended, ConnectionRecord, Gcra, HistoryLimits, IdemScope, IdempotencyKey,
    NewConnection, NewMessage, Quota, Store, StoreError, Subscribed,
};

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
            iat: 0,
            info: None,
            granted: None,
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
        idempotency: None,
    }
}

/// Registers a connection (limit 100, no personal channel); asserts admission.
async fn open(s: &dyn Store, c: &ConnectionRecord, ttl: Duration) {
    let new = NewConnection {
        record: c,
        personal: None,
        max_per_user: 100,
        ttl,
        revoke_window: HOUR,
    };
    assert_eq!(s.open_connection(new).await.unwrap(), Admission::Admitted);
}

async fn sub(s: &dyn Store, c: &ConnectionRecord, channel: &str, ttl: Duration) -> Subscribed {
    s.subscribe(c, &ch(channel), Quota::Limited(100), ttl)
        .await
        .unwrap()
}

async fn subscriber_ids(s: &dyn Store, channel: &str) -> Vec<String> {
    let mut ids: Vec<String> = s
        .subscribers(&ch(channel), None, 1000)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|x| x.connection_id)
        .collect();
    ids.sort();
    ids
}

const KEEP: HistoryLimits = HistoryLimits {
    ttl: Duration::from_secs(600),
    max: 1000,
};

async fn connections_round_trip(b: Backend) {
    let s = b.store();
    let c = conn("a=", "alice");
    assert_eq!(s.get_connection("a=").await.unwrap(), None);
    open(&*s, &c, HOUR).await;
    assert_eq!(s.get_connection("a=").await.unwrap(), Some(c.clone()));
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
    let again = s.remove_connection("a=").await.unwrap();
    assert!(!again.connection, "remove is idempotent");
    assert_eq!(b.leftovers("a=").await, 0);
}

/// 10 simultaneous handshakes of one user with a limit of 3: exactly 3 are
/// admitted, always; the connection, its slot and its personal subscription
/// are written together or not at all.
async fn connection_limit_holds_under_simultaneous_opens(b: Backend) {
    let s = b.store();
    let personal = ch("user:alice");
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let s = s.clone();
            let personal = personal.clone();
            tokio::spawn(async move {
                let c = conn(&format!("l{i}="), "alice");
                let new = NewConnection {
                    record: &c,
                    personal: Some(&personal),
                    max_per_user: 3,
                    ttl: HOUR,
                    revoke_window: HOUR,
                };
                (c.id.clone(), s.open_connection(new).await.unwrap())
            })
        })
        .collect();
    let mut admitted = Vec::new();
    let mut refused = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (id, Admission::Admitted) => admitted.push(id),
            (id, Admission::AtLimit(holders)) => {
                assert_eq!(holders.len(), 3, "{holders:?}");
                refused.push(id)
            }
            (_, Admission::Revoked) => panic!("nobody was revoked"),
        }
    }
    admitted.sort();
    assert_eq!((admitted.len(), refused.len()), (3, 7));
    assert_eq!(subscriber_ids(&*s, "user:alice").await, admitted);
    for id in &refused {
        assert_eq!(b.leftovers(id).await, 0, "a refused open writes nothing");
    }
    // A removed connection frees its slot once, however often it is removed.
    s.remove_connection(&admitted[0]).await.unwrap();
    s.remove_connection(&admitted[0]).await.unwrap();
    let open_one = |id: &str| {
        let s = s.clone();
        let c = conn(id, "alice");
        async move {
            let new = NewConnection {
                record: &c,
                personal: None,
                max_per_user: 3,
                ttl: HOUR,
                revoke_window: HOUR,
            };
            s.open_connection(new).await.unwrap()
        }
    };
    assert_eq!(open_one("n1=").await, Admission::Admitted);
    assert!(matches!(open_one("n2=").await, Admission::AtLimit(_)));
    // A slot whose record is gone can be forgotten.
    s.forget_user_connection("alice", "n1=").await.unwrap();
    assert_eq!(open_one("n3=").await, Admission::Admitted);
}

async fn expired_items_are_invisible(b: Backend) {
    let s = b.store();
    open(&*s, &conn("x=", "alice"), Duration::ZERO).await;
    assert_eq!(s.get_connection("x=").await.unwrap(), None);
    // An expired connection cannot gain subscriptions.
    assert!(matches!(
        s.subscribe(&conn("x=", "alice"), &ch("room:a"), Quota::Free, HOUR)
            .await,
        Err(StoreError::NoConnection(_))
    ));
    open(&*s, &conn("y=", "bob"), HOUR).await;
    sub(&*s, &conn("y=", "bob"), "room:a", Duration::ZERO).await;
    assert!(subscriber_ids(&*s, "room:a").await.is_empty());
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
        open(&*s, &c, HOUR).await;
        assert_eq!(sub(&*s, &c, "room:lobby", HOUR).await, Subscribed::New);
        assert_eq!(sub(&*s, &c, "room:lobby", HOUR).await, Subscribed::Already);
    }
    sub(&*s, &conn("c0=", "u0"), "room:other", HOUR).await;
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
    // A cursor is a connection id: reading resumes after any subscriber.
    let after_c3 = s
        .subscribers(&lobby, Some("c3=".into()), 100)
        .await
        .unwrap();
    assert_eq!(
        after_c3
            .items
            .iter()
            .map(|x| x.connection_id.as_str())
            .collect::<Vec<_>>(),
        vec!["c4=", "c5=", "c6="]
    );
    let limited = Quota::Limited(100);
    assert!(s.unsubscribe("c1=", &lobby, limited).await.unwrap());
    assert!(!s.unsubscribe("c1=", &lobby, limited).await.unwrap());
    let removed = s.remove_connection("c0=").await.unwrap();
    assert_eq!(removed.subscriptions, 2);
    let left = subscriber_ids(&*s, "room:lobby").await;
    assert_eq!(left, vec!["c2=", "c3=", "c4=", "c5=", "c6="]);
    assert_eq!(b.leftovers("c0=").await, 0);
}

/// Subscribers by id range: ranges that partition the id space give every
/// subscriber exactly once, paged or not, and never a neighbouring item of
/// the channel (its stream head and history share the partition).
async fn subscribers_by_id_range(b: Backend) {
    use wsfn::fanout::shard::IdRange;
    let s = b.store();
    let big = ch("room:ranges");
    let mut ids: Vec<String> = ["A1=", "Aq=", "M0=", "Mz=", "b7=", "z9=", "+x=", "_k="]
        .iter()
        .map(|x| x.to_string())
        .collect();
    for id in &ids {
        let c = conn(id, id);
        open(&*s, &c, HOUR).await;
        sub(&*s, &c, "room:ranges", HOUR).await;
    }
    // History and a stream head in the same partition.
    s.stream_head(&big).await.unwrap();
    let cut = |from: Option<&str>, to: Option<&str>| IdRange {
        from: from.map(str::to_string),
        to: to.map(str::to_string),
    };
    let ranges = [
        cut(None, Some("M")),
        cut(Some("M"), Some("Mz=")),
        cut(Some("Mz="), Some("c")),
        cut(Some("c"), None),
    ];
    let mut seen = Vec::new();
    for r in &ranges {
        let mut cursor = None;
        for _ in 0..20 {
            let page = s.subscribers_in(&big, r, cursor, 1).await.unwrap();
            for x in page.items {
                assert!(
                    r.contains(&x.connection_id),
                    "{} outside {r:?}",
                    x.connection_id
                );
                seen.push(x.connection_id);
            }
            match page.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
    }
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids, "each subscriber once over the partition");
    // A cursor inside a range resumes there; an empty range is empty.
    let rest = s
        .subscribers_in(&big, &ranges[0], Some("A1=".into()), 10)
        .await
        .unwrap();
    assert_eq!(
        rest.items
            .iter()
            .map(|x| x.connection_id.as_str())
            .collect::<Vec<_>>(),
        vec!["Aq="]
    );
    let empty = s
        .subscribers_in(&big, &cut(Some("N"), Some("N0")), None, 10)
        .await
        .unwrap();
    assert!(empty.items.is_empty() && empty.next.is_none());
}

/// Pipelined subscribes of one connection with a quota of 2: exactly 2 are
/// stored; the free personal channel never counts, subscribed or not; an
/// unsubscribe gives its slot back.
async fn subscription_quota_holds_under_concurrency(b: Backend) {
    let s = b.store();
    let c = conn("q=", "alice");
    let new = NewConnection {
        record: &c,
        personal: Some(&ch("user:alice")),
        max_per_user: 10,
        ttl: HOUR,
        revoke_window: HOUR,
    };
    s.open_connection(new).await.unwrap();
    s.unsubscribe("q=", &ch("user:alice"), Quota::Free)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            let c = c.clone();
            tokio::spawn(async move {
                s.subscribe(&c, &ch(&format!("room:{i}")), Quota::Limited(2), HOUR)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut new = 0;
    for t in tasks {
        match t.await.unwrap() {
            Subscribed::New => new += 1,
            Subscribed::LimitReached => {}
            Subscribed::Already => panic!("distinct channels"),
        }
    }
    assert_eq!(new, 2, "exactly the quota, under concurrency");
    // The personal channel is free, and does not use up the quota.
    assert_eq!(
        s.subscribe(&c, &ch("user:alice"), Quota::Free, HOUR)
            .await
            .unwrap(),
        Subscribed::New
    );
    assert_eq!(
        s.subscribe(&c, &ch("room:x"), Quota::Limited(2), HOUR)
            .await
            .unwrap(),
        Subscribed::LimitReached
    );
    let mut held = Vec::new();
    for i in 0..8 {
        let channel = format!("room:{i}");
        if subscriber_ids(&*s, &channel).await == vec!["q=".to_string()] {
            held.push(channel);
        }
    }
    assert_eq!(held.len(), 2, "{held:?}");
    assert!(s
        .unsubscribe("q=", &ch(&held[0]), Quota::Limited(2))
        .await
        .unwrap());
    assert_eq!(
        s.subscribe(&c, &ch("room:x"), Quota::Limited(2), HOUR)
            .await
            .unwrap(),
        Subscribed::New
    );
    assert_eq!(
        s.subscribe(&c, &ch("room:y"), Quota::Limited(2), HOUR)
            .await
            .unwrap(),
        Subscribed::LimitReached
    );
}

async fn streams_assign_gapless_seq(b: Backend) {
    let s = b.store();
    assert_eq!(
        s.read_head(&ch("room:s")).await.unwrap(),
        None,
        "reading creates nothing"
    );
    assert_eq!(s.read_head(&ch("room:s")).await.unwrap(), None);
    let head = s.stream_head(&ch("room:s")).await.unwrap();
    assert_eq!(head.seq, 0);
    assert_eq!(
        s.read_head(&ch("room:s")).await.unwrap(),
        Some(head.clone())
    );
    assert_eq!(
        s.stream_head(&ch("room:s")).await.unwrap(),
        head,
        "head is stable"
    );
    for n in 1..=5 {
        let Appended::New(m) = s.append(msg("room:s", n), KEEP).await.unwrap() else {
            panic!("not new")
        };
        assert_eq!((m.seq, m.epoch.as_str()), (n, head.epoch.as_str()));
        assert_eq!(m.id.as_deref(), Some(format!("m{n}").as_str()));
    }
    assert_eq!(s.stream_head(&ch("room:s")).await.unwrap().seq, 5);
    // Other channels have their own streams.
    let Appended::New(other) = s.append(msg("room:t", 1), KEEP).await.unwrap() else {
        panic!("not new")
    };
    assert_eq!(other.seq, 1);
    assert_ne!(other.epoch, head.epoch);
}

fn seq_of(a: &Appended) -> u64 {
    match a {
        Appended::New(m) => m.seq,
        Appended::Duplicate { seq, .. } => *seq,
    }
}

/// 15 publishers × 10 pipelined appends on one channel, spread over 5
/// store instances (5 Lambda instances racing on the stream head): every
/// one succeeds (contention costs latency, not errors) and seq is gap-free.
async fn hot_channel_appends_all_succeed(b: Backend) {
    let s = b.store();
    let instances = b.instances(5).await;
    let tasks: Vec<_> = (0..15)
        .map(|p| {
            let s = instances[p as usize % instances.len()].clone();
            tokio::spawn(async move {
                let pipelined = (0..10).map(|i| {
                    let s = s.clone();
                    async move { s.append(msg("room:hot", p * 10 + i), KEEP).await }
                });
                futures::future::join_all(pipelined).await
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        for r in t.await.unwrap() {
            seqs.push(seq_of(&r.expect("no publish fails under contention")));
        }
    }
    seqs.sort();
    assert_eq!(seqs, (1..=150).collect::<Vec<_>>());
    let all = s
        .history(
            &ch("room:hot"),
            &s.stream_head(&ch("room:hot")).await.unwrap(),
            Some(0),
            1000,
        )
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=150).collect::<Vec<_>>()
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
        idempotency: Some(IdempotencyKey {
            scope: IdemScope::User(from.into()),
            id: id.into(),
            fingerprint: format!("fp-{channel}"),
            ttl: Duration::from_secs(300),
        }),
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
            seq: 1,
            fingerprint: "fp-room:i".into(),
        }
    );
    // Reused on another channel: the original channel and seq come back,
    // with the original fingerprint for the caller to compare.
    assert_eq!(
        s.append(keyed("room:other", "p1", "alice"), KEEP)
            .await
            .unwrap(),
        Appended::Duplicate {
            channel: "room:i".into(),
            seq: 1,
            fingerprint: "fp-room:i".into(),
        }
    );
    assert_eq!(s.read_head(&ch("room:other")).await.unwrap(), None);
    // Another user, or another id, is a new message.
    assert_eq!(
        s.append(keyed("room:i", "p1", "bob"), KEEP)
            .await
            .map(|a| seq_of(&a))
            .unwrap(),
        2
    );
    assert_eq!(
        s.append(keyed("room:i", "p2", "alice"), KEEP)
            .await
            .map(|a| seq_of(&a))
            .unwrap(),
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
        seqs.insert(seq_of(&a));
    }
    assert_eq!((new, seqs.len()), (1, 1));
    // An expired record no longer deduplicates.
    let mut short = keyed("room:i", "p4", "alice");
    if let Some(k) = short.idempotency.as_mut() {
        k.ttl = Duration::ZERO;
    }
    s.append(short.clone(), KEEP).await.unwrap();
    assert!(matches!(
        s.append(short, KEEP).await.unwrap(),
        Appended::New(_)
    ));
}

/// GCRA at explicit instants: the burst, then the rate, and no window edge
/// lets a second burst through (the fixed window admitted 2× the burst
/// across a boundary).
async fn rate_limit_is_exact(b: Backend) {
    let s = b.store();
    for id in ["r1=", "r2=", "r3=", "r4="] {
        open(&*s, &conn(id, "alice"), HOUR).await;
    }
    let g = Gcra::new(1.0, 3); // 1 per second, 3 at once
    let t0 = 1_800_000_002_999_000u64; // 2.999 s into a (3 s) window
    let admitted = |n: u32, at: u64| {
        let s = s.clone();
        async move {
            let mut ok = 0;
            for _ in 0..n {
                ok += s.admit("r1=", g, at).await.unwrap().counted() as u32;
            }
            ok
        }
    };
    assert_eq!(admitted(5, t0).await, 3, "the burst");
    assert_eq!(
        admitted(5, t0 + 2_000).await,
        0,
        "no second burst across the edge"
    );
    assert_eq!(admitted(5, t0 + 1_000_000).await, 1, "one per interval");
    assert_eq!(admitted(5, t0 + 1_500_000).await, 0);
    assert_eq!(
        admitted(5, t0 + 100_000_000).await,
        3,
        "burst back after a pause"
    );
    assert!(
        s.admit("r2=", g, t0).await.unwrap().counted(),
        "per connection"
    );
    // Out of order: a frame stamped 100 ms later reaches the store first; the
    // earlier-stamped one is refused against the TAT it left, which the
    // refusal reports, and a clock read after that refusal admits it.
    let fast = Gcra::new(1000.0, 10); // 1 ms per frame, 9 ms of tolerance
    assert!(s.admit("r4=", fast, t0 + 100_000).await.unwrap().counted());
    let tat = match s.admit("r4=", fast, t0).await.unwrap() {
        Admit::Refused { tat: Some(tat) } => tat,
        other => panic!("{other:?}"),
    };
    assert_eq!(tat, t0 + 101_000);
    assert!(fast.admits_at(tat, t0 + 100_000));
    assert!(s.admit("r4=", fast, t0 + 100_000).await.unwrap().counted());
    s.remove_connection("r4=").await.unwrap();
    // Simultaneous frames of one connection: exactly the burst.
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.admit("r3=", g, t0).await.unwrap().counted() })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap() as u32;
    }
    assert_eq!(ok, 3);
    s.remove_connection("r1=").await.unwrap();
    // A frame that reaches the store after its connection's cleanup (a
    // disconnect racing a pipelined frame) counts nothing and writes
    // nothing; so does one for a connection never opened.
    for id in ["r1=", "never="] {
        assert_eq!(s.admit(id, g, t0 + 200_000_000).await.unwrap(), Admit::Gone);
    }
    for id in ["r1=", "never="] {
        assert_eq!(
            b.leftovers(id).await,
            0,
            "rate state goes with the connection"
        );
    }
    for id in ["r2=", "r3="] {
        s.remove_connection(id).await.unwrap();
    }
    // A second cleanup of a removed connection (a 410 racing its
    // `$disconnect`) does not bring its user's set back.
    s.forget_user_connection("alice", "r1=").await.unwrap();
    assert_eq!(
        b.leftovers("user#alice").await,
        0,
        "the user's set came back"
    );
}

/// Member sets (presence events): the first connection in and the last
/// one out are each reported once, concurrent calls included; an expired
/// set (its connections vanished without cleanup) counts as empty.
async fn member_transitions(b: Backend) {
    let s = b.store();
    let c = ch("room:m");
    assert!(s.member_in(&c, "ann", "m1", HOUR).await.unwrap());
    assert!(!s.member_in(&c, "ann", "m2", HOUR).await.unwrap());
    assert!(
        !s.member_in(&c, "ann", "m2", HOUR).await.unwrap(),
        "again: no join"
    );
    assert!(!s.member_out(&c, "ann", "m1").await.unwrap());
    assert!(
        !s.member_out(&c, "ann", "m1").await.unwrap(),
        "again: no leave"
    );
    assert!(s.member_out(&c, "ann", "m2").await.unwrap());
    assert!(!s.member_out(&c, "ann", "m2").await.unwrap());
    assert!(!s.member_out(&c, "nobody", "x").await.unwrap());
    // Concurrent ins, then concurrent outs: one join, one leave.
    let ins: Vec<_> = (0..10)
        .map(|i| {
            let (s, c) = (s.clone(), c.clone());
            tokio::spawn(
                async move { s.member_in(&c, "bo", &format!("b{i}"), HOUR).await.unwrap() },
            )
        })
        .collect();
    let mut joins = 0;
    for t in ins {
        joins += usize::from(t.await.unwrap());
    }
    let outs: Vec<_> = (0..10)
        .map(|i| {
            let (s, c) = (s.clone(), c.clone());
            tokio::spawn(async move { s.member_out(&c, "bo", &format!("b{i}")).await.unwrap() })
        })
        .collect();
    let mut leaves = 0;
    for t in outs {
        leaves += usize::from(t.await.unwrap());
    }
    assert_eq!((joins, leaves), (1, 1));
    // A set that expired holds no one: the next connection joins, and
    // leaving it is the last one out.
    assert!(s
        .member_in(&c, "cy", "stale", Duration::ZERO)
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(s.member_in(&c, "cy", "c1", HOUR).await.unwrap());
    assert!(s.member_out(&c, "cy", "c1").await.unwrap());
}

/// A revocation refuses older tokens at the handshake, survives the user's
/// last connection leaving, is never moved back, and ends.
async fn revocation_watermark(b: Backend) {
    let s = b.store();
    let now = wsfn::time::now_secs();
    let open = |id: &str, iat: u64| {
        let s = s.clone();
        let mut c = conn(id, "rev");
        c.principal.iat = iat;
        async move {
            s.open_connection(NewConnection {
                record: &c,
                personal: Some(&ch("user:rev")),
                max_per_user: 5,
                ttl: HOUR,
                revoke_window: HOUR,
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(open("r1=", now - 5).await, Admission::Admitted);
    s.revoke("rev", now, now + 2).await.unwrap();
    assert_eq!(s.revoked_before("rev").await.unwrap(), Some(now));
    s.remove_connection("r1=").await.unwrap();
    assert_eq!(open("r2=", now - 5).await, Admission::Revoked);
    assert_eq!(b.leftovers("r2=").await, 0);
    assert_eq!(open("r3=", now).await, Admission::Admitted);
    s.revoke("rev", now - 100, now + 2).await.unwrap();
    assert_eq!(
        s.revoked_before("rev").await.unwrap(),
        Some(now),
        "not moved back"
    );
    assert_eq!(s.user_connections("rev").await.unwrap(), ["r3="]);
    if let Backend::Dynamo(_, table) = &b {
        // The watermark (2 s) did not shorten the life of the set that
        // holds r3='s slot (its connection's TTL plus the revoke window).
        let ttl = conn_set_ttl(table, "r3=").await;
        assert!(ttl >= now + 2 * 3600 - 60, "{ttl} vs {now}");
    }
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(s.revoked_before("rev").await.unwrap(), None);
    assert_eq!(open("r4=", now - 5).await, Admission::Admitted);
}

/// The TTL of the connection-set item holding `id` (DynamoDB only).
async fn conn_set_ttl(table: &str, id: &str) -> u64 {
    let r = common::dynamo_client()
        .await
        .scan()
        .table_name(table)
        .send()
        .await
        .expect("scan");
    let item = r
        .items()
        .iter()
        .find(|i| {
            i.get("ids")
                .and_then(|v| v.as_ss().ok())
                .is_some_and(|ids| ids.iter().any(|x| x == id))
        })
        .expect("the connection set");
    item["ttl"].as_n().unwrap().parse().unwrap()
}

both_backends!(
    member_transitions,
    revocation_watermark,
    idempotent_append,
    rate_limit_is_exact,
    connection_limit_holds_under_simultaneous_opens,
    subscription_quota_holds_under_concurrency,
    hot_channel_appends_all_succeed,
    connections_round_trip,
    expired_items_are_invisible,
    subscriptions_and_paging,
    subscribers_by_id_range,
    streams_assign_gapless_seq,
    history_reads_and_trims,
);

/// The embedded store purges expired idempotency records as it goes.
#[tokio::test]
async fn memory_idempotency_records_are_purged_by_ttl() {
    let s = wsfn::store::MemoryStore::new();
    for n in 0..2100u64 {
        let mut m = msg("room:p", n);
        m.idempotency = Some(IdempotencyKey {
            scope: IdemScope::User("alice".into()),
            id: format!("i{n}"),
            fingerprint: String::new(),
            ttl: Duration::ZERO,
        });
        wsfn::store::StreamStore::append(&s, m, KEEP).await.unwrap();
    }
    assert!(
        s.idempotency_records() < 1100,
        "expired records kept: {}",
        s.idempotency_records()
    );
}
