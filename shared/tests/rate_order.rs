//! The rate limit is exact for pipelined frames at any rate: frames within a
//! connection's budget are never refused because of the order their
//! invocations reach the store, and frames over it still are. Run at
//! `rate` 1000 (1 ms per frame: the reordering of concurrent invocations is
//! larger than the tolerance of a small burst) and at the default (20/s,
//! burst 40), on both stores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{token, Backend, Harness};
use serde_json::json;
use wsfn::protocol::{ErrorCode, ServerFrame};

/// Sends `n` frames of one connection at once; returns how many were
/// refused with `rate_limited` and how long the sending took.
async fn pipelined(h: &Arc<Harness>, id: &str, n: usize) -> (usize, Duration) {
    let started = Instant::now();
    let sends: Vec<_> = (0..n)
        .map(|i| {
            let h = h.clone();
            let id = id.to_string();
            tokio::spawn(async move {
                h.send_quiet(&id, json!({"action":"ping","id":format!("p{i}")}))
                    .await
            })
        })
        .collect();
    for s in sends {
        s.await.unwrap();
    }
    let took = started.elapsed();
    let refused = h
        .received(id)
        .iter()
        .filter(|f| {
            matches!(
                f,
                ServerFrame::Error {
                    code: ErrorCode::RateLimited,
                    ..
                }
            )
        })
        .count();
    (refused, took)
}

async fn within_the_budget_never_refused_over_it_always(b: Backend) {
    for (rate, burst) in [(1000u32, 10u32), (20, 40)] {
        let h = Arc::new(Harness::new(
            b.clone(),
            &[
                ("RATE_LIMIT_PER_SECOND", &rate.to_string()),
                ("RATE_LIMIT_BURST", &burst.to_string()),
            ],
        ));
        let id = format!("rate{rate}=");
        h.connect(&id, &token(&format!("u{rate}"), &[], &[])).await;
        h.received(&id);
        for round in 0..3 {
            // A full burst at once: within the budget, whatever the order.
            let (refused, _) = pipelined(&h, &id, burst as usize).await;
            assert_eq!(
                refused, 0,
                "rate {rate}, round {round}: a burst within the budget"
            );
            // Let the budget refill.
            tokio::time::sleep(Duration::from_secs_f64(
                f64::from(burst) / f64::from(rate) + 0.05,
            ))
            .await;
        }
        // Over it: never more than the burst plus what the rate allows while sending.
        let n = 3 * burst as usize;
        let (refused, took) = pipelined(&h, &id, n).await;
        let allowed = f64::from(burst) + took.as_secs_f64() * f64::from(rate) + 1.0;
        assert!(
            (n - refused) as f64 <= allowed,
            "rate {rate}: {} admitted in {took:?}, at most {allowed}",
            n - refused
        );
    }
}

both_backends!(within_the_budget_never_refused_over_it_always);
