//! Frames in, and per-channel logic: subscribe and resubscribe with
//! `since`, ordered delivery, gap filling from `history`, recovery reports.
//! The same rules as `clients/js/channel.js`.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::actor::{Actor, Pending};
use crate::sequencer::Sequencer;
use crate::{Ack, Error, Event, HistoryPage, Lost, Message};

/// One channel's state in the actor.
#[derive(Default)]
pub(crate) struct Chan {
    pub(crate) seqr: Sequencer,
    pub(crate) sinks: Vec<mpsc::UnboundedSender<Message>>,
    pub(crate) waiters: Vec<oneshot::Sender<Result<(), Error>>>,
    pub(crate) wanted: bool,
    pub(crate) subscribed: bool,
    pub(crate) subscribing: bool,
    pub(crate) retry_subscribe: bool,
    pub(crate) filling: bool,
    /// Messages arrived in the current heartbeat interval.
    pub(crate) active: bool,
    /// Messages arrived in the interval before.
    pub(crate) had_traffic: bool,
    /// After a resubscribe: the head to reach, and what was lost on the way.
    pub(crate) recovery: Option<(u64, Vec<Lost>)>,
    pub(crate) gap_at: Option<Instant>,
}

impl Chan {
    /// Reads history if the gap is still there after `wait`.
    pub(crate) fn arm_gap(&mut self, wait: Duration) {
        if self.seqr.behind() && !self.filling && self.gap_at.is_none() {
            self.gap_at = Some(Instant::now() + wait);
        }
    }
}

fn server_error(f: &Value) -> Error {
    Error::Server {
        code: f["code"].as_str().unwrap_or("internal").to_string(),
        message: f["message"].as_str().unwrap_or_default().to_string(),
    }
}

impl Actor {
    pub(crate) fn subscribe(
        &mut self,
        name: String,
        sink: mpsc::UnboundedSender<Message>,
        done: oneshot::Sender<Result<(), Error>>,
    ) {
        let c = self.channels.entry(name.clone()).or_default();
        c.sinks.push(sink);
        c.wanted = true;
        if c.subscribed {
            let _ = done.send(Ok(()));
            return;
        }
        c.waiters.push(done);
        if self.connected {
            self.send_subscribe(&name);
        }
    }

    pub(crate) fn send_subscribe(&mut self, name: &str) {
        let Some(c) = self.channels.get_mut(name) else {
            return;
        };
        if c.subscribing {
            return;
        }
        let mut frame = json!({"action": "subscribe", "channel": name});
        if let Some(epoch) = &c.seqr.epoch {
            frame["since"] = json!({"seq": c.seqr.seq, "epoch": epoch});
        }
        c.subscribing = true;
        c.retry_subscribe = false;
        self.send(
            frame,
            Pending::Subscribe {
                channel: name.to_string(),
            },
        );
    }

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
        match f["type"].as_str() {
            Some("pong") => return,
            Some("message") => {
                if let Ok(m) = serde_json::from_value::<Message>(f) {
                    self.on_message(m);
                }
                return;
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
                return self.on_server_subscription(&f)
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
            Pending::Subscribe { channel } => self.on_subscribed(&channel, reply),
            Pending::Fill { channel } => self.on_fill(&channel, reply),
            Pending::Unsubscribe => {}
        }
    }

    fn on_subscribed(&mut self, name: &str, reply: Result<Value, Error>) {
        let gap_wait = self.opts.gap_wait;
        let Some(c) = self.channels.get_mut(name) else {
            return;
        };
        c.subscribing = false;
        let f = match reply {
            Ok(f) => f,
            Err(Error::Server { code, .. })
                if code == "rate_limited" || code == "internal" || code == "unavailable" =>
            {
                c.retry_subscribe = true;
                return;
            }
            Err(e) => {
                c.wanted = false;
                for w in c.waiters.drain(..) {
                    let _ = w.send(Err(e.clone()));
                }
                return self.emit(Event::Error(format!("subscribe {name}: {e}")));
            }
        };
        let epoch = f["epoch"].as_str().unwrap_or_default().to_string();
        let head = f["seq"].as_u64().unwrap_or(0);
        c.subscribed = true;
        for w in c.waiters.drain(..) {
            let _ = w.send(Ok(()));
        }
        if c.seqr.epoch.is_none() {
            let ready = c.seqr.start(&epoch, head);
            self.deliver(name, ready);
        } else if c.seqr.is_other_epoch(&epoch) {
            self.restart_stream(name, &epoch, head);
        } else {
            c.seqr.see(head);
            c.recovery = Some((head, Vec::new()));
            c.arm_gap(gap_wait);
            self.check_recovered(name);
        }
    }

    /// The stream restarted: report it, then read the new stream from its start.
    fn restart_stream(&mut self, name: &str, epoch: &str, head: u64) {
        self.emit(Event::Recovered {
            channel: name.to_string(),
            recovered: false,
            lost: Vec::new(),
            epoch_changed: true,
        });
        let Some(c) = self.channels.get_mut(name) else {
            return;
        };
        c.recovery = None;
        let ready = c.seqr.start(epoch, 0);
        c.seqr.see(head);
        self.deliver(name, ready);
        self.fill(name);
    }

    /// `subscribed`/`unsubscribed` without an id: the backend's doing.
    fn on_server_subscription(&mut self, f: &Value) {
        let channel = f["channel"].as_str().unwrap_or_default().to_string();
        if f["type"] == "subscribed" {
            // Followed from the reply's head, so a later `Client::subscribe`
            // attaches at once, without a frame.
            let c = self.channels.entry(channel.clone()).or_default();
            if !c.subscribed {
                c.subscribed = true;
                let epoch = f["epoch"].as_str().unwrap_or_default();
                if c.seqr.epoch.is_none() || c.seqr.is_other_epoch(epoch) {
                    c.seqr.start(epoch, f["seq"].as_u64().unwrap_or(0));
                }
            }
            return self.emit(Event::ServerSubscribed { channel });
        }
        if let Some(c) = self.channels.get_mut(&channel) {
            c.subscribed = false;
            c.wanted = false;
        }
        self.emit(Event::ServerUnsubscribed { channel });
    }

    fn on_message(&mut self, m: Message) {
        let name = m.channel.clone();
        let gap_wait = self.opts.gap_wait;
        let Some(c) = self.channels.get_mut(&name) else {
            return;
        };
        if m.ephemeral {
            // At once, unordered: no seq to order by, nothing to recover.
            return c.sinks.retain(|s| s.send(m.clone()).is_ok());
        }
        if c.seqr.is_other_epoch(&m.epoch) {
            let (epoch, seq) = (m.epoch.clone(), m.seq);
            return self.restart_stream(&name, &epoch, seq);
        }
        c.active = true;
        let ready = c.seqr.push(m);
        c.arm_gap(gap_wait);
        self.deliver(&name, ready);
    }

    pub(crate) fn deliver(&mut self, name: &str, list: Vec<Message>) {
        let Some(c) = self.channels.get_mut(name) else {
            return;
        };
        if list.is_empty() {
            return;
        }
        for m in list {
            c.sinks.retain(|s| s.send(m.clone()).is_ok());
        }
        if c.sinks.is_empty() && c.wanted {
            // Every Subscription was dropped: stop receiving this channel.
            c.wanted = false;
            c.subscribed = false;
            self.send(
                json!({"action": "unsubscribe", "channel": name}),
                Pending::Unsubscribe,
            );
            return;
        }
        self.check_recovered(name);
    }

    fn check_recovered(&mut self, name: &str) {
        let Some(c) = self.channels.get_mut(name) else {
            return;
        };
        if let Some((target, _)) = &c.recovery {
            if c.seqr.seq >= *target {
                let (_, lost) = c.recovery.take().unwrap_or_default();
                self.emit(Event::Recovered {
                    channel: name.to_string(),
                    recovered: lost.is_empty(),
                    lost,
                    epoch_changed: false,
                });
            }
        }
    }

    /// Asks for the history after the last delivered seq.
    fn fill(&mut self, name: &str) {
        let Some(c) = self.channels.get_mut(name) else {
            return;
        };
        if c.filling || !c.subscribed {
            return;
        }
        let Some(epoch) = c.seqr.epoch.clone() else {
            return;
        };
        c.filling = true;
        c.gap_at = None;
        let since = json!({"seq": c.seqr.seq, "epoch": epoch});
        let frame = json!({"action": "history", "channel": name, "since": since, "limit": 100});
        self.send(
            frame,
            Pending::Fill {
                channel: name.to_string(),
            },
        );
    }

    fn on_fill(&mut self, name: &str, reply: Result<Value, Error>) {
        let gap_wait = self.opts.gap_wait;
        let Some(c) = self.channels.get_mut(name) else {
            return;
        };
        c.filling = false;
        let Ok(page) = reply.and_then(|f| {
            serde_json::from_value::<HistoryPage>(f).map_err(|e| Error::BadReply(e.to_string()))
        }) else {
            c.arm_gap(gap_wait);
            return;
        };
        if c.seqr.is_other_epoch(&page.epoch) {
            return self.restart_stream(name, &page.epoch, 0);
        }
        let since = c.seqr.seq;
        let lost_to = match page.messages.first() {
            Some(m) => m.seq.saturating_sub(1),
            None if page.complete => since,
            None => c.seqr.next_held().unwrap_or(c.seqr.head + 1) - 1,
        };
        let mut ready = Vec::new();
        if lost_to > since {
            let range = Lost {
                from: since + 1,
                to: lost_to,
            };
            let in_recovery = match &mut c.recovery {
                Some((_, lost)) => {
                    lost.push(range);
                    true
                }
                None => false,
            };
            ready.extend(c.seqr.skip_to(lost_to));
            if !in_recovery {
                self.report_lost(name, range);
            }
        }
        let more = !page.complete && !page.messages.is_empty();
        if let Some(c) = self.channels.get_mut(name) {
            for m in page.messages {
                ready.extend(c.seqr.push(m));
            }
        }
        self.deliver(name, ready);
        if more {
            return self.fill(name);
        }
        self.check_recovered(name);
        if let Some(c) = self.channels.get_mut(name) {
            c.arm_gap(gap_wait);
        }
    }

    fn report_lost(&self, name: &str, range: Lost) {
        self.emit(Event::Recovered {
            channel: name.to_string(),
            recovered: false,
            lost: vec![range],
            epoch_changed: false,
        });
    }

    /// Every heartbeat interval. A burst's lost last message has nothing
    /// after it to reveal the gap: once a channel's traffic has stopped
    /// (messages in the interval before, none in this one) it reads what
    /// follows its last seq, once; a busy channel reads nothing (a gap shows
    /// by itself). `all`: quiet channels check too.
    pub(crate) fn sync_channels(&mut self, all: bool) {
        let mut names = Vec::new();
        for (n, c) in self.channels.iter_mut().filter(|(_, c)| c.subscribed) {
            let settled = c.had_traffic && !c.active;
            c.had_traffic = c.active;
            c.active = false;
            if settled || all || c.seqr.behind() {
                names.push(n.clone());
            }
        }
        for n in names {
            self.fill(&n);
        }
    }

    /// Gap timers and subscribe retries.
    pub(crate) fn channel_timers(&mut self, now: Instant) {
        let due: Vec<(String, bool)> = self
            .channels
            .iter()
            .filter(|(_, c)| c.gap_at.is_some_and(|t| t <= now) || (c.retry_subscribe && c.wanted))
            .map(|(n, c)| (n.clone(), c.retry_subscribe && c.wanted))
            .collect();
        for (name, resubscribe) in due {
            if resubscribe {
                self.send_subscribe(&name);
            } else {
                if let Some(c) = self.channels.get_mut(&name) {
                    c.gap_at = None;
                }
                self.fill(&name);
            }
        }
    }
}
