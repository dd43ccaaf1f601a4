//! Channels as a state machine: subscribe and resubscribe with `since`,
//! ordered delivery, gap filling from `history`, recovery reports — the same
//! rules as `clients/js/channel.js`. Each step pushes what the actor must do
//! (frames to send, events to emit) onto `out`; messages go straight to the
//! subscriptions' streams.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

mod history;

use crate::out::{Out, Pending};
use crate::sequencer::Sequencer;
use crate::{Ack, Error, Event, Lost, Message};

/// One channel's state.
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

/// Every channel this client follows.
pub(crate) struct Channels {
    map: HashMap<String, Chan>,
    gap_wait: Duration,
}

impl Channels {
    pub(crate) fn new(gap_wait: Duration) -> Self {
        Self {
            map: HashMap::new(),
            gap_wait,
        }
    }

    /// Resubscribes every wanted channel (a new socket is usable).
    pub(crate) fn resubscribe(&mut self, out: &mut Vec<Out>) {
        let wanted: Vec<String> = self
            .map
            .iter()
            .filter(|(_, c)| c.wanted)
            .map(|(n, _)| n.clone())
            .collect();
        for name in wanted {
            self.send_subscribe(&name, out);
        }
    }

    /// The socket is gone: nothing is subscribed or in flight any more.
    pub(crate) fn disconnected(&mut self) {
        for c in self.map.values_mut() {
            c.subscribed = false;
            c.subscribing = false;
            c.filling = false;
        }
    }

    /// A subscribe or history request got no reply; a timed-out subscribe
    /// is tried again.
    pub(crate) fn abandoned(&mut self, channel: &str, timed_out: bool) {
        if let Some(c) = self.map.get_mut(channel) {
            c.subscribing = false;
            c.filling = false;
            if timed_out {
                c.retry_subscribe = !c.subscribed;
            }
        }
    }

    /// A publish on `channel` was acknowledged with `seq`; with `echo:
    /// false` its message never arrives, so the seq counts as delivered.
    pub(crate) fn acked(&mut self, ack: &Ack, echo: bool, out: &mut Vec<Out>) {
        let mut freed = Vec::new();
        if let Some(c) = self.map.get_mut(&ack.channel) {
            if c.subscribed {
                if echo {
                    c.seqr.see(ack.seq);
                } else {
                    freed = c.seqr.own(ack.seq);
                }
                c.arm_gap(self.gap_wait);
            }
        }
        self.deliver(&ack.channel, freed, out);
    }

    /// The client closed: every waiting subscribe fails.
    pub(crate) fn close(&mut self) {
        for c in self.map.values_mut() {
            for w in c.waiters.drain(..) {
                let _ = w.send(Err(Error::Closed));
            }
        }
    }

    pub(crate) fn subscribe(
        &mut self,
        name: String,
        sink: mpsc::UnboundedSender<Message>,
        done: oneshot::Sender<Result<(), Error>>,
        connected: bool,
        out: &mut Vec<Out>,
    ) {
        let c = self.map.entry(name.clone()).or_default();
        c.sinks.push(sink);
        c.wanted = true;
        if c.subscribed {
            let _ = done.send(Ok(()));
            return;
        }
        c.waiters.push(done);
        if connected {
            self.send_subscribe(&name, out);
        }
    }

    pub(crate) fn send_subscribe(&mut self, name: &str, out: &mut Vec<Out>) {
        let Some(c) = self.map.get_mut(name) else {
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
        out.push(Out::Send(
            frame,
            Pending::Subscribe {
                channel: name.to_string(),
            },
        ));
    }

    pub(crate) fn on_subscribed(
        &mut self,
        name: &str,
        reply: Result<Value, Error>,
        out: &mut Vec<Out>,
    ) {
        let gap_wait = self.gap_wait;
        let Some(c) = self.map.get_mut(name) else {
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
                return out.push(Out::Emit(Event::Error(format!("subscribe {name}: {e}"))));
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
            self.deliver(name, ready, out);
        } else if c.seqr.is_other_epoch(&epoch) {
            self.restart_stream(name, &epoch, head, out);
        } else {
            c.seqr.see(head);
            c.recovery = Some((head, Vec::new()));
            c.arm_gap(gap_wait);
            self.check_recovered(name, out);
        }
    }

    /// The stream restarted: report it, then read the new stream from its start.
    fn restart_stream(&mut self, name: &str, epoch: &str, head: u64, out: &mut Vec<Out>) {
        out.push(Out::Emit(Event::Recovered {
            channel: name.to_string(),
            recovered: false,
            lost: Vec::new(),
            epoch_changed: true,
        }));
        let Some(c) = self.map.get_mut(name) else {
            return;
        };
        c.recovery = None;
        let ready = c.seqr.start(epoch, 0);
        c.seqr.see(head);
        self.deliver(name, ready, out);
        self.fill(name, out);
    }

    /// `subscribed`/`unsubscribed` without an id: the backend's doing.
    pub(crate) fn on_server_subscription(&mut self, f: &Value, out: &mut Vec<Out>) {
        let channel = f["channel"].as_str().unwrap_or_default().to_string();
        if f["type"] == "subscribed" {
            // Followed from the reply's head, so a later `Client::subscribe`
            // attaches at once, without a frame.
            let c = self.map.entry(channel.clone()).or_default();
            if !c.subscribed {
                c.subscribed = true;
                let epoch = f["epoch"].as_str().unwrap_or_default();
                if c.seqr.epoch.is_none() || c.seqr.is_other_epoch(epoch) {
                    c.seqr.start(epoch, f["seq"].as_u64().unwrap_or(0));
                }
            }
            return out.push(Out::Emit(Event::ServerSubscribed { channel }));
        }
        if let Some(c) = self.map.get_mut(&channel) {
            c.subscribed = false;
            c.wanted = false;
        }
        out.push(Out::Emit(Event::ServerUnsubscribed { channel }));
    }

    pub(crate) fn on_message(&mut self, m: Message, out: &mut Vec<Out>) {
        let name = m.channel.clone();
        let gap_wait = self.gap_wait;
        let Some(c) = self.map.get_mut(&name) else {
            return;
        };
        if m.ephemeral {
            // At once, unordered: no seq to order by, nothing to recover.
            return c.sinks.retain(|s| s.send(m.clone()).is_ok());
        }
        if c.seqr.is_other_epoch(&m.epoch) {
            let (epoch, seq) = (m.epoch.clone(), m.seq);
            return self.restart_stream(&name, &epoch, seq, out);
        }
        c.active = true;
        let ready = c.seqr.push(m);
        c.arm_gap(gap_wait);
        self.deliver(&name, ready, out);
    }

    pub(crate) fn deliver(&mut self, name: &str, list: Vec<Message>, out: &mut Vec<Out>) {
        let Some(c) = self.map.get_mut(name) else {
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
            out.push(Out::Send(
                json!({"action": "unsubscribe", "channel": name}),
                Pending::Unsubscribe,
            ));
            return;
        }
        self.check_recovered(name, out);
    }

    fn check_recovered(&mut self, name: &str, out: &mut Vec<Out>) {
        let Some(c) = self.map.get_mut(name) else {
            return;
        };
        if let Some((target, _)) = &c.recovery {
            if c.seqr.seq >= *target {
                let (_, lost) = c.recovery.take().unwrap_or_default();
                out.push(Out::Emit(Event::Recovered {
                    channel: name.to_string(),
                    recovered: lost.is_empty(),
                    lost,
                    epoch_changed: false,
                }));
            }
        }
    }
}
