//! Fan-out never runs past the invocation's deadline silently: past the stop
//! instant no push starts, and what was left is counted (and logged).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use wsfn::auth::Principal;
use wsfn::channel::ChannelName;
use wsfn::fanout::{fan_out, FanoutOptions};
use wsfn::push::{PushError, Pusher};
use wsfn::store::{
    ConnectionRecord, ConnectionStore, MemoryStore, NewConnection, Quota, SubscriptionStore,
};

/// A pusher that takes 20 ms per push.
#[derive(Debug)]
struct Slow;

#[async_trait]
impl Pusher for Slow {
    async fn post(&self, _: &str, _: &[u8]) -> Result<(), PushError> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(())
    }
    async fn delete(&self, _: &str) -> Result<(), PushError> {
        Ok(())
    }
    async fn alive(&self, _: &str) -> Result<bool, PushError> {
        Ok(true)
    }
}

#[tokio::test]
async fn pushes_stop_at_the_deadline_and_the_rest_is_counted() {
    let store = Arc::new(MemoryStore::new());
    let channel = ChannelName::parse("room:big").unwrap();
    for i in 0..300 {
        let c = ConnectionRecord {
            id: format!("c{i:03}="),
            principal: Principal {
                sub: format!("u{i}"),
                exp: u64::MAX / 2,
                subscribe: vec!["room:*".into()],
                publish: vec![],
                rate: None,
                iat: 0,
                info: None,
                granted: None,
            },
            connected_at: 0,
        };
        let new = NewConnection {
            record: &c,
            personal: None,
            max_per_user: 10,
            ttl: Duration::from_secs(3600),
            revoke_window: Duration::from_secs(3600),
        };
        store.open_connection(new).await.unwrap();
        store
            .subscribe(&c, &channel, Quota::Free, Duration::from_secs(3600))
            .await
            .unwrap();
    }
    let opts = FanoutOptions {
        concurrency: 4,
        page_size: 50,
        stop_at: Some(tokio::time::Instant::now() + Duration::from_millis(300)),
        ..FanoutOptions::default()
    };
    let started = std::time::Instant::now();
    let r = fan_out(store.as_ref(), &Slow, &channel, b"{}", opts)
        .await
        .unwrap();
    // 4 at a time × 20 ms: about 60 pushes fit in 300 ms, not 300.
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    assert!(r.delivered > 0 && r.delivered < 300, "{r:?}");
    assert!(r.undelivered > 0, "{r:?}");
    assert!(r.truncated, "pages were left unread: {r:?}");
    // Without a deadline every subscriber is reached.
    let all = fan_out(
        store.as_ref(),
        &Slow,
        &channel,
        b"{}",
        FanoutOptions {
            concurrency: 64,
            ..FanoutOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (all.delivered, all.undelivered, all.truncated),
        (300, 0, false)
    );
}
