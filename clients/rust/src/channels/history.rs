//! Reading history: filling gaps, recovering after a resubscribe, and the
//! periodic look for a lost tail.

use serde_json::{json, Value};
use tokio::time::Instant;

use super::Channels;
use crate::out::{Out, Pending};
use crate::{Error, Event, HistoryPage, Lost};

impl Channels {
    /// Asks for the history after the last delivered seq.
    pub(super) fn fill(&mut self, name: &str, out: &mut Vec<Out>) {
        let Some(c) = self.map.get_mut(name) else {
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
        out.push(Out::Send(
            frame,
            Pending::Fill {
                channel: name.to_string(),
            },
        ));
    }

    pub(crate) fn on_fill(&mut self, name: &str, reply: Result<Value, Error>, out: &mut Vec<Out>) {
        let gap_wait = self.gap_wait;
        let Some(c) = self.map.get_mut(name) else {
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
            return self.restart_stream(name, &page.epoch, 0, out);
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
                self.report_lost(name, range, out);
            }
        }
        let more = !page.complete && !page.messages.is_empty();
        if let Some(c) = self.map.get_mut(name) {
            for m in page.messages {
                ready.extend(c.seqr.push(m));
            }
        }
        self.deliver(name, ready, out);
        if more {
            return self.fill(name, out);
        }
        self.check_recovered(name, out);
        if let Some(c) = self.map.get_mut(name) {
            c.arm_gap(gap_wait);
        }
    }

    fn report_lost(&mut self, name: &str, range: Lost, out: &mut Vec<Out>) {
        out.push(Out::Emit(Event::Recovered {
            channel: name.to_string(),
            recovered: false,
            lost: vec![range],
            epoch_changed: false,
        }));
    }

    /// Every heartbeat interval. A burst's lost last message has nothing
    /// after it to reveal the gap: once a channel's traffic has stopped
    /// (messages in the interval before, none in this one) it reads what
    /// follows its last seq, once; a busy channel reads nothing (a gap shows
    /// by itself). `all`: quiet channels check too.
    pub(crate) fn sync(&mut self, all: bool, out: &mut Vec<Out>) {
        let mut names = Vec::new();
        for (n, c) in self.map.iter_mut().filter(|(_, c)| c.subscribed) {
            let settled = c.had_traffic && !c.active;
            c.had_traffic = c.active;
            c.active = false;
            if settled || all || c.seqr.behind() {
                names.push(n.clone());
            }
        }
        for n in names {
            self.fill(&n, out);
        }
    }

    /// Gap timers and subscribe retries.
    pub(crate) fn timers(&mut self, now: Instant, out: &mut Vec<Out>) {
        let due: Vec<(String, bool)> = self
            .map
            .iter()
            .filter(|(_, c)| c.gap_at.is_some_and(|t| t <= now) || (c.retry_subscribe && c.wanted))
            .map(|(n, c)| (n.clone(), c.retry_subscribe && c.wanted))
            .collect();
        for (name, resubscribe) in due {
            if resubscribe {
                self.send_subscribe(&name, out);
            } else {
                if let Some(c) = self.map.get_mut(&name) {
                    c.gap_at = None;
                }
                self.fill(&name, out);
            }
        }
    }
}
