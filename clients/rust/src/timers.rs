//! Time-driven work, checked every 50 ms: the heartbeat (a ping when idle,
//! dead-socket detection), channel syncs, request timeouts, the backoff reset, token refresh, publish retries and
//! the channels' gap timers.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::actor::{Actor, PING};
use crate::heartbeat::Beat;
use crate::{Cmd, Error};

/// A JWT's `exp` (seconds), read without verifying.
pub(crate) fn token_exp(token: &str) -> Option<u64> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<Value>(&bytes).ok()?["exp"].as_u64()
}

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

impl Actor {
    pub(crate) fn tick(&mut self) {
        let now = Instant::now();
        match self.heartbeat.poll(now) {
            // A socket that stopped answering: leave it at once.
            Beat::Dead => {
                self.leave = Some(Duration::ZERO);
                return;
            }
            Beat::Ping => self.out.push(PING.to_string()),
            Beat::Quiet => {}
        }
        let timeout = self.opts.request_timeout;
        let late: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, (_, at))| *at + timeout <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in late {
            if let Some((p, _)) = self.pending.remove(&id) {
                self.abandon(p, Error::Timeout(format!("no reply to {id}")));
            }
        }
        if !self.connected {
            return;
        }
        if self.stable_at.is_some_and(|t| t <= now) {
            self.stable_at = None;
            self.attempt = 0;
        }
        // Channels with traffic look for a lost tail every interval; every
        // Nth time quiet ones do too.
        if now >= self.next_sync {
            self.next_sync = now + self.opts.ping_interval;
            self.syncs += 1;
            let all = self.syncs.checked_rem(self.opts.sync_every_pings.max(1)) == Some(0);
            self.sync_channels(all);
        }
        if self.refresh_at.is_some_and(|t| t <= now) {
            self.refresh_at = None;
            if let Some(tx) = self.links.tx.upgrade() {
                let fetch = self.opts.token.fetch();
                tokio::spawn(async move {
                    let _ = tx.send(Cmd::Token(fetch.await));
                });
            }
        }
        self.expire_publishes();
        let due: Vec<u64> = self
            .outbox
            .iter()
            .filter(|(_, p)| !p.in_flight && p.retry_at.is_some_and(|t| t <= now))
            .map(|(k, _)| *k)
            .collect();
        for k in due {
            self.send_publish(k);
        }
        self.channel_timers(now);
    }
}
