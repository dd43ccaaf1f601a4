//! Per-channel ordering: each seq is delivered once, in order; early
//! messages are held until their gap is filled (from `history`) or declared
//! lost. The same logic as `clients/js/sequencer.js`.

use std::collections::BTreeMap;

use crate::types::Message;

/// Orders one channel's messages by `seq` within one `epoch`.
#[derive(Debug, Default)]
pub(crate) struct Sequencer {
    /// The stream's epoch; `None` before the first `subscribed`.
    pub(crate) epoch: Option<String>,
    /// Everything up to here was delivered (or declared lost).
    pub(crate) seq: u64,
    /// The highest seq known to exist.
    pub(crate) head: u64,
    held: BTreeMap<u64, Message>,
}

impl Sequencer {
    /// Follows `epoch` after `seq`; held messages of that epoch past it are
    /// kept. Returns what is now deliverable.
    pub(crate) fn start(&mut self, epoch: &str, seq: u64) -> Vec<Message> {
        self.held.retain(|s, m| *s > seq && m.epoch == epoch);
        self.epoch = Some(epoch.to_string());
        self.seq = seq;
        self.head = self
            .held
            .keys()
            .next_back()
            .copied()
            .unwrap_or(seq)
            .max(seq);
        self.drain()
    }

    /// Whether `epoch` is another stream than the one followed.
    pub(crate) fn is_other_epoch(&self, epoch: &str) -> bool {
        matches!(&self.epoch, Some(e) if !e.is_empty() && !epoch.is_empty() && e != epoch)
    }

    /// Records that `seq` exists.
    pub(crate) fn see(&mut self, seq: u64) {
        self.head = self.head.max(seq);
    }

    /// Accepts one message; returns the messages now deliverable, in order.
    pub(crate) fn push(&mut self, m: Message) -> Vec<Message> {
        let seq = m.seq;
        if seq <= self.seq || self.held.contains_key(&seq) {
            return Vec::new();
        }
        match &self.epoch {
            None => {
                self.held.insert(seq, m);
                return Vec::new();
            }
            Some(e) if e.is_empty() => self.epoch = Some(m.epoch.clone()),
            _ => {}
        }
        self.see(seq);
        if seq != self.seq + 1 {
            self.held.insert(seq, m);
            return Vec::new();
        }
        self.seq = seq;
        let mut out = vec![m];
        out.extend(self.drain());
        out
    }

    /// Declares everything up to `seq` lost; returns what that frees.
    pub(crate) fn skip_to(&mut self, seq: u64) -> Vec<Message> {
        if seq <= self.seq {
            return Vec::new();
        }
        self.held.retain(|s, _| *s > seq);
        self.seq = seq;
        self.see(seq);
        self.drain()
    }

    /// Whether some known seq has not been delivered.
    pub(crate) fn behind(&self) -> bool {
        self.head > self.seq
    }

    /// The lowest held seq.
    pub(crate) fn next_held(&self) -> Option<u64> {
        self.held.keys().next().copied()
    }

    fn drain(&mut self) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(m) = self.held.remove(&(self.seq + 1)) {
            self.seq += 1;
            out.push(m);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: u64) -> Message {
        Message {
            channel: "c".into(),
            seq,
            epoch: "e1".into(),
            data: serde_json::json!(seq),
            from: "u".into(),
            ts: 0,
            id: None,
        }
    }

    fn seqs(v: Vec<Message>) -> Vec<u64> {
        v.into_iter().map(|m| m.seq).collect()
    }

    #[test]
    fn orders_dedupes_and_fills() {
        let mut s = Sequencer::default();
        assert!(s.push(msg(2)).is_empty(), "held before start");
        assert_eq!(seqs(s.start("e1", 1)), vec![2]);
        assert!(s.push(msg(4)).is_empty());
        assert!(s.behind());
        assert_eq!(s.next_held(), Some(4));
        assert_eq!(seqs(s.push(msg(3))), vec![3, 4]);
        assert!(s.push(msg(3)).is_empty(), "duplicate");
        assert!(!s.behind());
    }

    #[test]
    fn skip_declares_loss_and_releases() {
        let mut s = Sequencer::default();
        s.start("e1", 0);
        s.push(msg(5));
        assert_eq!(seqs(s.skip_to(4)), vec![5]);
        assert!(s.skip_to(2).is_empty());
        assert!(s.is_other_epoch("e2"));
        assert!(!s.is_other_epoch("e1"));
    }
}
