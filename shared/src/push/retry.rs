//! Pushing one payload to one connection, retried: throttles and transient
//! failures are retried with exponential backoff and full jitter, never past
//! the invocation's stop time. Fan-out, replies and the server API all push
//! through [`push_with_retry`].

use super::{PushError, Pusher};
use crate::retry::Backoff;

/// How a push is retried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts for 5xx and network failures (1 = no retry); throttles get
    /// four times as many.
    pub max_attempts: u32,
    /// Sleep between attempts.
    pub backoff: Backoff,
    /// No retry starts after this instant.
    pub stop_at: Option<tokio::time::Instant>,
}

/// Pushes with retry; the sleep is full jitter over an exponential ceiling.
/// Returns the final result and how many retries it took.
pub async fn push_with_retry(
    pusher: &dyn Pusher,
    id: &str,
    payload: &[u8],
    policy: &Retry,
) -> (Result<(), PushError>, u32) {
    let mut attempt = 0u32;
    loop {
        match pusher.post(id, payload).await {
            Err(e) if e.retryable() && attempt + 1 < policy.attempts(&e) => {
                policy.backoff.sleep(attempt).await;
                attempt += 1;
            }
            other => return (other, attempt),
        }
    }
}

impl Retry {
    /// How many attempts a failure earns. A throttle (the account's
    /// @connections rate, shared by every invocation) earns four times as many
    /// as a server error: it says "later", not "broken". Past `stop_at` nothing
    /// is retried, so the deadline still bounds the fan-out.
    fn attempts(&self, e: &PushError) -> u32 {
        if self
            .stop_at
            .is_some_and(|t| tokio::time::Instant::now() >= t)
        {
            return 1;
        }
        match e {
            PushError::Throttled => self.max_attempts.max(1) * 4,
            _ => self.max_attempts.max(1),
        }
    }
}
