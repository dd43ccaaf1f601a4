//! Small helpers: full-jitter backoff, a JWT's `exp`, the clock, ids.

use std::time::Duration;

use serde_json::Value;

/// A JWT's `exp` (seconds), read without verifying.
pub(crate) fn token_exp(token: &str) -> Option<u64> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<Value>(&bytes).ok()?["exp"].as_u64()
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Full jitter: uniform in [0, min(cap, base × 2^attempt)).
pub(crate) fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(1 << attempt.min(20)).min(cap);
    ceiling.mul_f64(rand::random::<f64>())
}

/// A publish id: 128 random bits.
pub(crate) fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}
