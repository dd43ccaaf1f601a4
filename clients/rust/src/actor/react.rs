//! What the actor does with a frame and with a tick: hands them to the
//! state machines and performs what they return (frames to send, events to
//! emit).

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::{Actor, PING};
use crate::heartbeat::Beat;
use crate::out::{server_error, Out, Pending};
use crate::publishes::Reply;
use crate::{Ack, Cmd, Error, Event, Message};

impl Actor {
    /// Sends and emits what a state machine asked for, in order.
    pub(crate) fn perform(&mut self, out: Vec<Out>) {
        for o in out {
            match o {
                Out::Send(frame, pending) => {
                    self.send(frame, pending);
                }
                Out::Emit(e) => self.emit(e),
            }
        }
    }

    /// Sends publish `key` when connected (and not already out).
    pub(crate) fn send_publish(&mut self, key: u64) {
        if !self.connected {
            return;
        }
        if let Some((frame, pending)) = self.publishes.send(key) {
            self.send(frame, pending);
        }
    }

    /// A publish's reply: the ack reaches the channel first, then the caller.
    fn on_publish_reply(&mut self, key: u64, reply: Result<Ack, Error>) {
        match self.publishes.on_reply(key, reply) {
            Reply::Acked { ack, echo, done } => {
                let mut out = Vec::new();
                self.channels.acked(&ack, echo, &mut out);
                self.perform(out);
                if let Some(done) = done {
                    let _ = done.send(Ok(ack));
                }
            }
            Reply::Unauthorized => {
                // A stale token or a connection the server forgot: a new connection fixes both.
                self.token = None;
                self.leave = Some(Duration::ZERO);
            }
            Reply::Handled => {}
        }
    }

    /// One frame from the server.
    pub(crate) fn on_frame(&mut self, text: &str) {
        self.heartbeat.seen(Instant::now());
        let parsed = serde_json::from_str::<Value>(text);
        if let Ok(f) = &parsed {
            if f["type"] == "pong" {
                self.set_connection_id(f["connection"].as_str().map(str::to_string));
            }
        }
        // Any answer proves the new socket usable (a throttled ping's included).
        self.on_connected();
        let Ok(f) = parsed else {
            return self.emit(Event::Error("a frame that is not JSON".into()));
        };
        let mut out = Vec::new();
        match f["type"].as_str() {
            Some("pong") => return,
            Some("message") => {
                if let Ok(m) = serde_json::from_value::<Message>(f) {
                    self.channels.on_message(m, &mut out);
                }
                return self.perform(out);
            }
            Some("reconnect") => {
                return self.on_reconnect_frame(f["after_ms"].as_u64().unwrap_or(0))
            }
            Some("disconnect") => return self.on_disconnect_frame(&f),
            Some("join") => {
                return self.emit(Event::Join {
                    channel: f["channel"].as_str().unwrap_or_default().to_string(),
                    user: f["user"].as_str().unwrap_or_default().to_string(),
                    info: f.get("info").cloned(),
                })
            }
            Some("leave") => {
                return self.emit(Event::Leave {
                    channel: f["channel"].as_str().unwrap_or_default().to_string(),
                    user: f["user"].as_str().unwrap_or_default().to_string(),
                })
            }
            Some("subscribed" | "unsubscribed") if f.get("id").is_none() => {
                self.channels.on_server_subscription(&f, &mut out);
                return self.perform(out);
            }
            _ => {}
        }
        let Some((kind, _)) = f["id"].as_str().and_then(|id| self.pending.remove(id)) else {
            if f["type"] == "error" {
                self.emit(Event::Error(server_error(&f).to_string()));
            }
            return;
        };
        let reply = if f["type"] == "error" {
            Err(server_error(&f))
        } else {
            Ok(f)
        };
        match kind {
            Pending::Auth => match reply {
                Ok(_) => self.on_authed(),
                Err(e) => {
                    self.emit(Event::Error(format!("token refresh refused: {e}")));
                    self.token = None;
                    self.leave = Some(Duration::ZERO);
                }
            },
            Pending::User(done) => {
                let _ = done.send(reply);
            }
            Pending::Publish { key } => {
                let ack = reply.and_then(|f| {
                    serde_json::from_value::<Ack>(f).map_err(|e| Error::BadReply(e.to_string()))
                });
                self.on_publish_reply(key, ack);
            }
            Pending::Subscribe { channel } => {
                self.channels.on_subscribed(&channel, reply, &mut out);
                self.perform(out);
            }
            Pending::Fill { channel } => {
                self.channels.on_fill(&channel, reply, &mut out);
                self.perform(out);
            }
            Pending::Unsubscribe => {}
        }
    }

    /// Time-driven work, every 50 ms: the heartbeat (a ping when idle,
    /// dead-socket detection), request timeouts, the backoff reset, channel
    /// syncs, token refresh, publish expiry and retries, the channels'
    /// gap timers.
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
        let mut out = Vec::new();
        // Channels with traffic look for a lost tail every interval; every
        // Nth time quiet ones do too.
        if now >= self.next_sync {
            self.next_sync = now + self.opts.ping_interval;
            self.syncs += 1;
            let all = self.syncs.checked_rem(self.opts.sync_every_pings.max(1)) == Some(0);
            self.channels.sync(all, &mut out);
            self.perform(std::mem::take(&mut out));
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
        self.publishes.expire(now);
        for k in self.publishes.due(now) {
            self.send_publish(k);
        }
        self.channels.timers(now, &mut out);
        self.perform(out);
    }
}
