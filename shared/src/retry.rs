//! The one retry policy: exponential backoff with full jitter (AWS
//! Architecture Blog, "Exponential Backoff And Jitter"), used by fan-out
//! pushes, replies to the sender and store transactions alike.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with full jitter: the `n`th retry sleeps a uniform
/// random time in `[0, min(cap, base × 2ⁿ)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Ceiling of the first retry's sleep.
    pub base: Duration,
    /// Largest ceiling.
    pub cap: Duration,
}

impl Backoff {
    /// Management API pushes: 25 ms doubling to 1 s.
    pub const PUSH: Self = Self {
        base: Duration::from_millis(25),
        cap: Duration::from_secs(1),
    };
    /// Store transactions that lost a race: 5 ms doubling to 200 ms (a
    /// contended item is free again within a round trip).
    pub const STORE: Self = Self {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(200),
    };

    /// The ceiling for retry number `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.base.saturating_mul(1 << attempt.min(16)).min(self.cap)
    }

    /// A full-jitter delay for retry number `attempt`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt).as_micros() as u64;
        Duration::from_micros(rand::rng().random_range(0..=ceiling))
    }

    /// Sleeps for [`Backoff::delay`].
    pub async fn sleep(&self, attempt: u32) {
        tokio::time::sleep(self.delay(attempt)).await;
    }
}

/// A retry loop bounded by time: each [`Budget::pause`] sleeps the next
/// backoff, until the budget is spent.
#[derive(Debug)]
pub(crate) struct Budget {
    backoff: Backoff,
    until: std::time::Instant,
    attempt: u32,
}

impl Budget {
    /// Retries with `backoff` for up to `budget` from now.
    pub(crate) fn new(backoff: Backoff, budget: Duration) -> Self {
        Self {
            backoff,
            until: std::time::Instant::now() + budget,
            attempt: 0,
        }
    }

    /// Sleeps before the next attempt; `false` (without sleeping) once the
    /// budget is spent.
    pub(crate) async fn pause(&mut self) -> bool {
        if std::time::Instant::now() > self.until {
            return false;
        }
        self.backoff.sleep(self.attempt).await;
        self.attempt += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let b = Backoff::PUSH;
        assert_eq!(b.ceiling(0), Duration::from_millis(25));
        assert_eq!(b.ceiling(2), Duration::from_millis(100));
        assert_eq!(b.ceiling(30), Duration::from_secs(1));
        for attempt in 0..10 {
            assert!(b.delay(attempt) <= b.ceiling(attempt));
        }
    }

    #[tokio::test]
    async fn a_budget_ends() {
        let mut budget = Budget::new(Backoff::STORE, Duration::from_millis(30));
        let mut pauses = 0;
        while budget.pause().await {
            pauses += 1;
            assert!(pauses < 1000);
        }
        assert!(pauses >= 1);
        assert!(!budget.pause().await, "stays spent");
    }
}
