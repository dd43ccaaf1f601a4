//! Publishing as a state machine: an outbox of publishes, each with one
//! generated id, sent whenever connected and retried (same id: the server
//! stores it once) until acknowledged or `publish_timeout` passes. It says
//! which frames to send and what a reply means; the actor sends them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::out::Pending;
use crate::util::{backoff, new_id};
use crate::{Ack, Error};

/// Codes after which a publish is sent again.
const RETRYABLE: [&str; 3] = ["rate_limited", "internal", "unavailable"];

struct Pub {
    id: String,
    channel: String,
    data: Value,
    /// false: `echo: false` (the ack's seq is this client's own).
    echo: bool,
    done: Option<oneshot::Sender<Result<Ack, Error>>>,
    deadline: Instant,
    in_flight: bool,
    retry_at: Option<Instant>,
    tries: u32,
}

/// What a publish's reply means.
pub(crate) enum Reply {
    /// Acknowledged: the channel sees its seq (its own, with `echo: false`);
    /// then `done` gets the ack.
    Acked {
        ack: Ack,
        echo: bool,
        done: Option<oneshot::Sender<Result<Ack, Error>>>,
    },
    /// Refused as `unauthorized`: the connection must be replaced.
    Unauthorized,
    /// Retried later, or finished (the caller told), or unknown.
    Handled,
}

/// The outbox.
pub(crate) struct Publishes {
    outbox: BTreeMap<u64, Pub>,
    next_key: u64,
    timeout: Duration,
    backoff: (Duration, Duration),
}

impl Publishes {
    pub(crate) fn new(timeout: Duration, backoff_base: Duration, backoff_cap: Duration) -> Self {
        Self {
            outbox: BTreeMap::new(),
            next_key: 0,
            timeout,
            backoff: (backoff_base, backoff_cap),
        }
    }

    /// Queues a publish; its key.
    pub(crate) fn enqueue(
        &mut self,
        channel: String,
        data: Value,
        echo: bool,
        done: oneshot::Sender<Result<Ack, Error>>,
    ) -> u64 {
        self.next_key += 1;
        let key = self.next_key;
        let publish = Pub {
            id: new_id(),
            channel,
            data,
            echo,
            done: Some(done),
            deadline: Instant::now() + self.timeout,
            in_flight: false,
            retry_at: None,
            tries: 0,
        };
        self.outbox.insert(key, publish);
        key
    }

    /// The frame that sends publish `key` (now in flight), unless it is
    /// already out or gone.
    pub(crate) fn send(&mut self, key: u64) -> Option<(Value, Pending)> {
        let p = self.outbox.get_mut(&key)?;
        if p.in_flight {
            return None;
        }
        p.in_flight = true;
        p.retry_at = None;
        let mut frame =
            json!({"action": "publish", "id": p.id, "channel": p.channel, "data": p.data});
        if !p.echo {
            frame["echo"] = json!(false);
        }
        Some((frame, Pending::Publish { key }))
    }

    /// Every queued publish's key, oldest first.
    pub(crate) fn keys(&self) -> Vec<u64> {
        self.outbox.keys().copied().collect()
    }

    /// Publishes whose retry time has come.
    pub(crate) fn due(&self, now: Instant) -> Vec<u64> {
        self.outbox
            .iter()
            .filter(|(_, p)| !p.in_flight && p.retry_at.is_some_and(|t| t <= now))
            .map(|(k, _)| *k)
            .collect()
    }

    /// A request that got no reply: send it again at once.
    pub(crate) fn abandoned(&mut self, key: u64) {
        if let Some(p) = self.outbox.get_mut(&key) {
            p.in_flight = false;
            p.retry_at = Some(Instant::now());
        }
    }

    /// A publish's reply: the ack, or an error that is retried or returned.
    pub(crate) fn on_reply(&mut self, key: u64, reply: Result<Ack, Error>) -> Reply {
        let Some(p) = self.outbox.get_mut(&key) else {
            return Reply::Handled;
        };
        p.in_flight = false;
        let err = match reply {
            Ok(ack) => {
                let echo = p.echo;
                let done = self.outbox.remove(&key).and_then(|p| p.done);
                return Reply::Acked { ack, echo, done };
            }
            Err(e) => e,
        };
        match &err {
            // A stale token or a connection the server forgot: a new connection fixes both.
            Error::Server { code, .. } if code == "unauthorized" => Reply::Unauthorized,
            Error::Server { code, .. } if RETRYABLE.contains(&code.as_str()) => {
                let (base, cap) = self.backoff;
                p.retry_at = Some(Instant::now() + backoff(p.tries, base, cap));
                p.tries += 1;
                Reply::Handled
            }
            _ => {
                if let Some(done) = self.outbox.remove(&key).and_then(|p| p.done) {
                    let _ = done.send(Err(err));
                }
                Reply::Handled
            }
        }
    }

    /// Fails the publishes past their deadline (never one in flight).
    pub(crate) fn expire(&mut self, now: Instant) {
        let expired: Vec<u64> = self
            .outbox
            .iter()
            .filter(|(_, p)| !p.in_flight && p.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            if let Some(done) = self.outbox.remove(&k).and_then(|p| p.done) {
                let _ = done.send(Err(Error::Timeout("publish not acknowledged".into())));
            }
        }
    }

    /// The client closed: every publish fails.
    pub(crate) fn close(&mut self) {
        for (_, p) in std::mem::take(&mut self.outbox) {
            if let Some(done) = p.done {
                let _ = done.send(Err(Error::Closed));
            }
        }
    }
}
