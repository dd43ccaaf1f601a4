//! Streams, history and idempotency of the embedded store.

use std::collections::VecDeque;

use async_trait::async_trait;

use super::{Idempotent, MemoryStore, State, Stream};
use crate::channel::ChannelName;
use crate::protocol::MessageFrame;
use crate::store::{
    new_epoch, Appended, HistoryLimits, NewMessage, StoreError, StreamHead, StreamStore, STREAM_TTL,
};
use crate::time::now_secs;

/// Purge expired idempotency records every this many appends.
const PURGE_EVERY: usize = 1024;

#[async_trait]
impl StreamStore for MemoryStore {
    async fn recorded(
        &self,
        scope: &crate::store::IdemScope,
        id: &str,
    ) -> Result<Option<Appended>, StoreError> {
        let now = now_secs();
        let key = (crate::store::keys::idem_pk(scope), id.to_string());
        Ok(self
            .lock()
            .idempotency
            .get(&key)
            .filter(|r| r.expires > now)
            .map(|r| Appended::Duplicate {
                channel: r.channel.clone(),
                seq: r.seq,
                fingerprint: r.fingerprint.clone(),
            }))
    }

    async fn stream_head(&self, channel: &ChannelName) -> Result<StreamHead, StoreError> {
        let now = now_secs();
        let mut s = self.lock();
        let stream = live_stream(&mut s, channel.as_str(), now);
        Ok(StreamHead {
            seq: stream.seq,
            epoch: stream.epoch.clone(),
        })
    }

    async fn read_head(&self, channel: &ChannelName) -> Result<Option<StreamHead>, StoreError> {
        let now = now_secs();
        let s = self.lock();
        Ok(s.streams
            .get(channel.as_str())
            .filter(|st| st.expires > now)
            .map(|st| StreamHead {
                seq: st.seq,
                epoch: st.epoch.clone(),
            }))
    }

    async fn append(&self, msg: NewMessage, limits: HistoryLimits) -> Result<Appended, StoreError> {
        let now = now_secs();
        let mut s = self.lock();
        s.since_purge += 1;
        if s.since_purge >= PURGE_EVERY {
            s.since_purge = 0;
            s.idempotency.retain(|_, r| r.expires > now);
        }
        let idem = msg
            .idempotency
            .as_ref()
            .map(|k| ((crate::store::keys::idem_pk(&k.scope), k.id.clone()), k));
        if let Some((key, _)) = &idem {
            if let Some(r) = s.idempotency.get(key).filter(|r| r.expires > now) {
                return Ok(Appended::Duplicate {
                    channel: r.channel.clone(),
                    seq: r.seq,
                    fingerprint: r.fingerprint.clone(),
                });
            }
        }
        let stream = live_stream(&mut s, msg.channel.as_str(), now);
        stream.seq += 1;
        stream.expires = now + STREAM_TTL.as_secs();
        let frame = MessageFrame {
            channel: msg.channel.to_string(),
            seq: stream.seq,
            epoch: stream.epoch.clone(),
            data: msg.data,
            from: msg.from,
            ts: msg.ts,
            id: msg.id,
            ephemeral: false,
        };
        if limits.max > 0 {
            stream
                .history
                .push_back((frame.clone(), now + limits.ttl.as_secs()));
            while stream.history.len() > limits.max as usize {
                stream.history.pop_front();
            }
        }
        if let Some((key, k)) = idem {
            let record = Idempotent {
                channel: frame.channel.clone(),
                seq: frame.seq,
                fingerprint: k.fingerprint.clone(),
                expires: now + k.ttl.as_secs(),
            };
            s.idempotency.insert(key, record);
        }
        Ok(Appended::New(frame))
    }

    async fn history(
        &self,
        channel: &ChannelName,
        head: &StreamHead,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<MessageFrame>, StoreError> {
        let now = now_secs();
        let s = self.lock();
        let Some(stream) = s
            .streams
            .get(channel.as_str())
            .filter(|st| st.expires > now && st.epoch == head.epoch)
        else {
            return Ok(Vec::new());
        };
        let live = stream
            .history
            .iter()
            .filter(|(_, e)| *e > now)
            .map(|(m, _)| m);
        let limit = limit as usize;
        Ok(match after {
            Some(a) => live.filter(|m| m.seq > a).take(limit).cloned().collect(),
            None => {
                let all: Vec<&MessageFrame> = live.collect();
                all[all.len().saturating_sub(limit)..]
                    .iter()
                    .map(|m| (*m).clone())
                    .collect()
            }
        })
    }
}

/// The channel's live stream, replacing an expired one with a fresh epoch.
fn live_stream<'a>(s: &'a mut State, channel: &str, now: u64) -> &'a mut Stream {
    let fresh = || Stream {
        seq: 0,
        epoch: new_epoch(),
        expires: now + STREAM_TTL.as_secs(),
        history: VecDeque::new(),
    };
    let stream = s.streams.entry(channel.to_string()).or_insert_with(fresh);
    if stream.expires <= now {
        *stream = fresh();
    }
    stream
}
