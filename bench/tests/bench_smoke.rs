//! The benchmark at a small N, as a correctness smoke test (no timing
//! assertions): every subscriber gets the message, throttled pushes are
//! retried rather than lost, churn leaves nothing behind — on both stores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support {
    use wsfn_local::Options;

    pub(crate) fn opts() -> Options {
        let mut o = Options::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"));
        o.listen = "127.0.0.1:0".parse().unwrap();
        o.quiet = true;
        o
    }

    pub(crate) fn dynamodb_opts() -> Options {
        let mut o = opts();
        o.dynamodb_endpoint = Some(std::env::var("WSFN_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(
            |_| {
                panic!("WSFN_TEST_DYNAMODB_ENDPOINT is not set: run the tests with scripts/test.sh")
            },
        ));
        o.environment.insert(
            "TABLE_NAME".into(),
            format!("wsfn-smoke-{:x}", rand::random::<u64>()),
        );
        o
    }
}

use std::time::Duration;

use wsfn_bench::{churn, fanout, gateway, hot, Clients};
use wsfn_local::management::Faults;
use wsfn_local::Options;

async fn smoke(mut o: Options) {
    o.faults = Faults {
        latency: Duration::from_millis(5),
        // 20 % answered 429: with 6 attempts a push is lost with p = 0.2^6.
        throttle: 0.2,
        ..Faults::default()
    };
    o.parameters.insert("FanoutConcurrency".into(), "4".into());
    let running = gateway(o.clone()).await.unwrap();
    let r = fanout(
        &running,
        &Clients::InProcess,
        10,
        Duration::from_millis(5),
        4,
    )
    .await
    .unwrap();
    assert_eq!(
        r.delivered, 10,
        "throttled pushes retried, none lost: {r:?}"
    );
    assert_eq!(r.ideal, Duration::from_micros(12_500), "10 × 5 ms ÷ 4");
    assert!(r.p50 <= r.p99 && r.p99 <= r.last_delivery);
    let c = churn(&running, 20, 5).await.unwrap();
    assert_eq!(c.leftovers, 0, "{c:?}");
    running.shutdown().await;
    // The hot-channel measure: every publish acked, seq gap-free.
    o.parameters.insert("RateLimitBurst".into(), "1000".into());
    let running = gateway(o.clone()).await.unwrap();
    let h = hot::through_gateway(&running, 4, 10, 5, false)
        .await
        .unwrap();
    assert_eq!((h.acked, h.errors, h.gap_free), (40, 0, true), "{h:?}");
    assert_eq!((h.delivered, h.no_stream), (Some(40), Some(false)), "{h:?}");
    running.shutdown().await;
    // Ephemeral publishes: all acked and delivered, the stream untouched.
    o.parameters
        .insert("EphemeralChannels".into(), "bench:*".into());
    let running = gateway(o).await.unwrap();
    let h = hot::through_gateway(&running, 4, 10, 5, true)
        .await
        .unwrap();
    assert_eq!((h.acked, h.errors), (40, 0), "{h:?}");
    assert_eq!((h.delivered, h.no_stream), (Some(40), Some(true)), "{h:?}");
    running.shutdown().await;
}

#[tokio::test]
async fn bench_smoke_embedded() {
    smoke(support::opts()).await;
}

#[tokio::test]
async fn bench_smoke_dynamodb_local() {
    smoke(support::dynamodb_opts()).await;
}

#[tokio::test]
async fn bench_smoke_subscribers_in_child_process() {
    let running = gateway(support::opts()).await.unwrap();
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_wsfn-bench"));
    let r = fanout(&running, &Clients::Process(exe), 10, Duration::ZERO, 64)
        .await
        .unwrap();
    assert_eq!(r.delivered, 10, "{r:?}");
    running.shutdown().await;
}

/// Big channel at a small N: virtual subscribers, sharded through the
/// Invoke API, under an account throttle tight enough to answer 429s —
/// every subscriber exactly once.
async fn big_smoke(mut o: Options) {
    o.faults.latency = Duration::from_millis(2);
    // Far below what even a debug build pushes, so 429s must be absorbed.
    o.management_rps = Some(150);
    let r = wsfn_bench::big::big_channel(wsfn_bench::big::BigOptions {
        gateway: o,
        subscribers: 600,
        shard_size: 100,
        concurrency: 32,
    })
    .await
    .unwrap();
    assert_eq!((r.reached, r.repeated), (600, 0), "{r:?}");
    assert_eq!(r.posts, 600);
    assert!(r.shards >= 3, "{r:?}");
    assert!(r.throttled > 0, "the throttle was never reached: {r:?}");
}

#[tokio::test]
async fn big_channel_smoke_embedded() {
    big_smoke(support::opts()).await;
}

#[tokio::test]
async fn big_channel_smoke_dynamodb_local() {
    big_smoke(support::dynamodb_opts()).await;
}

/// The hook benchmark runs, and every hooked publish called the hook once.
#[tokio::test]
async fn hooks_smoke_embedded() {
    let rows = wsfn_bench::hooks::hook_latency(&support::opts(), 20)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].hook_calls, rows[1].hook_calls), (0, 40));
    assert!(rows.iter().all(|r| r.n == 20 && r.p50_ms > 0.0));
}

/// On DynamoDB Local the Lambda hook row runs too: the example's binary
/// through the Runtime API, every publish stored by it.
#[tokio::test]
async fn hooks_smoke_dynamodb_local() {
    let rows = wsfn_bench::hooks::hook_latency(&support::dynamodb_opts(), 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[2].n, 10);
}
