//! Per-connection rate limiting shared by every function instance: the count
//! lives in the store, one atomic increment per frame. A fixed window of
//! `burst / rate` seconds (at least 1 s) admits `max(burst, rate × window)`
//! frames, so the long-run rate is `rate` and a quiet client may burst.

use std::time::Duration;

/// A connection's limit, from configuration or its token's `rate` claim.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained frames per second.
    pub per_second: f64,
    /// Frames a quiet client may send at once.
    pub burst: u32,
}

impl RateLimit {
    /// Window length in ms.
    pub fn window_ms(&self) -> u64 {
        let secs = f64::from(self.burst) / self.per_second.max(f64::MIN_POSITIVE);
        ((secs * 1000.0).ceil() as u64).max(1000)
    }

    /// Frames admitted per window.
    pub fn allowance(&self) -> u32 {
        let by_rate = (self.per_second * self.window_ms() as f64 / 1000.0).floor();
        self.burst.max(by_rate.min(f64::from(u32::MAX)) as u32)
    }

    /// The window a frame at `now_ms` falls in.
    pub fn window(&self, now_ms: u64) -> u64 {
        now_ms / self.window_ms()
    }

    /// How long a window's counter must be kept.
    pub fn counter_ttl(&self) -> Duration {
        Duration::from_millis(self.window_ms()) + Duration::from_secs(60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_allowance() {
        let d = RateLimit {
            per_second: 20.0,
            burst: 40,
        };
        assert_eq!((d.window_ms(), d.allowance()), (2000, 40));
        let slow = RateLimit {
            per_second: 5.0,
            burst: 40,
        };
        assert_eq!((slow.window_ms(), slow.allowance()), (8000, 40));
        let fast = RateLimit {
            per_second: 100.0,
            burst: 40,
        };
        assert_eq!((fast.window_ms(), fast.allowance()), (1000, 100));
        assert_eq!(d.window(3999), 1);
        assert_eq!(d.window(4000), 2);
    }
}
