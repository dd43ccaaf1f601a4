//! Publishing: an outbox of publishes, each with one generated id, sent
//! whenever connected and retried (same id: the server stores it once)
//! until acknowledged or `publish_timeout` passes.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::actor::{Actor, Pending};
use crate::timers::backoff;
use crate::{Ack, Error};

/// Codes after which a publish is sent again.
const RETRYABLE: [&str; 3] = ["rate_limited", "internal", "unavailable"];

pub(crate) fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

pub(crate) struct Pub {
    pub(crate) id: String,
    pub(crate) channel: String,
    pub(crate) data: Value,
    /// false: `echo: false` (the ack's seq is this client's own).
    pub(crate) echo: bool,
    pub(crate) done: Option<oneshot::Sender<Result<Ack, Error>>>,
    pub(crate) deadline: Instant,
    pub(crate) in_flight: bool,
    pub(crate) retry_at: Option<Instant>,
    pub(crate) tries: u32,
}

impl Actor {
    pub(crate) fn enqueue_publish(
        &mut self,
        channel: String,
        data: Value,
        echo: bool,
        done: oneshot::Sender<Result<Ack, Error>>,
    ) {
        self.next_key += 1;
        let key = self.next_key;
        self.outbox.insert(
            key,
            Pub {
                id: new_id(),
                channel,
                data,
                echo,
                done: Some(done),
                deadline: Instant::now() + self.opts.publish_timeout,
                in_flight: false,
                retry_at: None,
                tries: 0,
            },
        );
        self.send_publish(key);
    }

    pub(crate) fn send_publish(&mut self, key: u64) {
        if !self.connected {
            return;
        }
        let Some(p) = self.outbox.get_mut(&key) else {
            return;
        };
        if p.in_flight {
            return;
        }
        p.in_flight = true;
        p.retry_at = None;
        let mut frame =
            json!({"action": "publish", "id": p.id, "channel": p.channel, "data": p.data});
        if !p.echo {
            frame["echo"] = json!(false);
        }
        self.send(frame, Pending::Publish { key });
    }

    /// A publish's reply: the ack, or an error that is retried or returned.
    pub(crate) fn on_publish_reply(&mut self, key: u64, reply: Result<Ack, Error>) {
        let Some(p) = self.outbox.get_mut(&key) else {
            return;
        };
        p.in_flight = false;
        let err = match reply {
            Ok(ack) => {
                let echo = p.echo;
                let mut freed = Vec::new();
                if let Some(c) = self.channels.get_mut(&ack.channel) {
                    if c.subscribed {
                        // With `echo: false` its own message never arrives:
                        // the seq counts as delivered, not as a gap.
                        if echo {
                            c.seqr.see(ack.seq);
                        } else {
                            freed = c.seqr.own(ack.seq);
                        }
                        c.arm_gap(self.opts.gap_wait);
                    }
                }
                let channel = ack.channel.clone();
                self.deliver(&channel, freed);
                if let Some(done) = self.outbox.remove(&key).and_then(|p| p.done) {
                    let _ = done.send(Ok(ack));
                }
                return;
            }
            Err(e) => e,
        };
        match &err {
            Error::Server { code, .. } if code == "unauthorized" => {
                // A stale token or a connection the server forgot: a new connection fixes both.
                self.token = None;
                self.leave = Some(Duration::ZERO);
            }
            Error::Server { code, .. } if RETRYABLE.contains(&code.as_str()) => {
                p.retry_at = Some(
                    Instant::now()
                        + backoff(p.tries, self.opts.backoff_base, self.opts.backoff_cap),
                );
                p.tries += 1;
            }
            _ => {
                if let Some(done) = self.outbox.remove(&key).and_then(|p| p.done) {
                    let _ = done.send(Err(err));
                }
            }
        }
    }

    pub(crate) fn expire_publishes(&mut self) {
        let now = Instant::now();
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
}
