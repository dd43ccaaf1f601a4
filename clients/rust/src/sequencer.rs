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
    /// Early messages by seq; `None`: this client's own (`echo: false`).
    held: BTreeMap<u64, Option<Message>>,
}

impl Sequencer {
    /// Follows `epoch` after `seq`; held messages of that epoch past it are
    /// kept. Returns what is now deliverable.
    pub(crate) fn start(&mut self, epoch: &str, seq: u64) -> Vec<Message> {
        self.held
            .retain(|s, m| *s > seq && m.as_ref().is_none_or(|m| m.epoch == epoch));
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
                self.held.insert(seq, Some(m));
                return Vec::new();
            }
            Some(e) if e.is_empty() => self.epoch = Some(m.epoch.clone()),
            _ => {}
        }
        self.see(seq);
        if seq != self.seq + 1 {
            self.held.insert(seq, Some(m));
            return Vec::new();
        }
        self.seq = seq;
        let mut out = vec![m];
        out.extend(self.drain());
        out
    }

    /// This client's own message, published with `echo: false`: `seq`
    /// counts as delivered (to no one here), so it is neither a gap nor read
    /// from history. Returns what that frees.
    pub(crate) fn own(&mut self, seq: u64) -> Vec<Message> {
        if seq <= self.seq || self.epoch.is_none() {
            return Vec::new();
        }
        self.see(seq);
        self.held.insert(seq, None);
        self.drain()
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
            out.extend(m);
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
            ephemeral: false,
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
    fn own_counts_without_delivering() {
        let mut s = Sequencer::default();
        s.start("e1", 0);
        assert!(s.push(msg(2)).is_empty());
        assert_eq!(seqs(s.own(1)), vec![2]);
        assert!(s.own(4).is_empty());
        assert!(s.behind(), "3 is missing");
        assert_eq!(seqs(s.push(msg(3))), vec![3]);
        assert_eq!(s.seq, 4);
        assert!(s.push(msg(4)).is_empty(), "its own message from history");
    }

    proptest::proptest! {
        /// Any interleaving of a stream's frames — early, late, twice, some
        /// never (each of those then found in history, or declared lost) —
        /// delivers each seq at most once, in increasing order, and every
        /// seq is delivered or declared lost.
        #[test]
        fn any_interleaving_delivers_each_seq_once_in_order(
            n in 1u64..60,
            order in proptest::collection::vec(0usize..1000, 0..120),
            missing in proptest::collection::vec(proptest::bool::weighted(0.15), 60),
            recovered in proptest::collection::vec(proptest::bool::ANY, 60),
            start_after in 0u64..3,
        ) {
            let start_after = start_after.min(n);
            let mut s = Sequencer::default();
            let mut delivered = Vec::new();
            // Frames may arrive before the `subscribed` reply.
            let mut arrivals: Vec<u64> = (1..=n)
                .filter(|q| !missing[*q as usize - 1])
                .collect();
            for (i, pick) in order.iter().enumerate() {
                // Interleave: move some frames, duplicate others.
                if arrivals.is_empty() {
                    break;
                }
                let k = pick % arrivals.len();
                if i % 3 == 0 {
                    let dup = arrivals[k];
                    arrivals.push(dup);
                } else {
                    let m = arrivals.remove(k);
                    arrivals.push(m);
                }
            }
            let (early, late) = arrivals.split_at(arrivals.len() / 4);
            for &q in early {
                delivered.extend(seqs(s.push(msg(q))));
            }
            delivered.extend(seqs(s.start("e1", start_after)));
            for &q in late {
                delivered.extend(seqs(s.push(msg(q))));
            }
            s.see(n);
            // The gaps: history has some, the rest is declared lost.
            let mut lost = Vec::new();
            for q in (start_after + 1)..=n {
                if !missing[q as usize - 1] || q <= s.seq {
                    continue;
                }
                if recovered[q as usize - 1] {
                    delivered.extend(seqs(s.push(msg(q))));
                } else {
                    lost.push(q);
                    delivered.extend(seqs(s.skip_to(q)));
                }
            }
            proptest::prop_assert!(
                delivered.windows(2).all(|w| w[0] < w[1]),
                "in order, each once: {:?}", delivered
            );
            let mut all: Vec<u64> = delivered.iter().chain(&lost).copied().collect();
            all.sort_unstable();
            all.dedup();
            let want: Vec<u64> = ((start_after + 1)..=n).collect();
            proptest::prop_assert_eq!(all, want);
            proptest::prop_assert!(!s.behind());
        }
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
