//! Embedded in-memory store: the local gateway's default and the unit tests'
//! backend. Same semantics as DynamoDB, including TTL (expired entries are
//! invisible to reads).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use super::{
    new_epoch, Appended, ConnectionRecord, HistoryLimits, NewMessage, Page, Removed, Store,
    StoreError, StreamHead, Subscriber, STREAM_TTL,
};
use crate::auth::Principal;
use crate::channel::ChannelName;
use crate::protocol::MessageFrame;
use crate::time::now_secs;

struct Stream {
    seq: u64,
    epoch: String,
    expires: u64,
    history: VecDeque<(MessageFrame, u64)>,
}

#[derive(Default)]
struct State {
    connections: HashMap<String, (ConnectionRecord, u64)>,
    by_user: HashMap<String, BTreeMap<String, u64>>,
    conn_subs: HashMap<String, BTreeMap<String, u64>>,
    chan_subs: HashMap<String, BTreeMap<String, (String, u64)>>,
    streams: HashMap<String, Stream>,
    idempotency: HashMap<(String, String), (String, u64, u64)>,
    rate: HashMap<String, (u64, u32, u64)>,
}

/// In-process store behind a mutex; cheap to create per test.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

fn expiry(ttl: Duration) -> u64 {
    now_secs() + ttl.as_secs()
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many entries of any kind it holds (expired included), apart from
    /// channel streams and history: zero once every connection is cleaned up.
    pub fn connection_entries(&self) -> usize {
        let s = self.lock();
        s.connections.len()
            + s.by_user.values().map(BTreeMap::len).sum::<usize>()
            + s.conn_subs.values().map(BTreeMap::len).sum::<usize>()
            + s.chan_subs.values().map(BTreeMap::len).sum::<usize>()
            + s.rate.len()
    }

    /// Entries that mention `connection_id` anywhere (expired ones included):
    /// lets tests prove that nothing of a connection is left.
    pub fn entries_of_connection(&self, connection_id: &str) -> usize {
        let s = self.lock();
        s.connections.contains_key(connection_id) as usize
            + s.by_user
                .values()
                .filter(|m| m.contains_key(connection_id))
                .count()
            + s.conn_subs.get(connection_id).map_or(0, BTreeMap::len)
            + s.chan_subs
                .values()
                .filter(|m| m.contains_key(connection_id))
                .count()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn count_user_connections(&self, user: &str) -> Result<u32, StoreError> {
        let now = now_secs();
        let s = self.lock();
        Ok(s.by_user
            .get(user)
            .map_or(0, |m| m.values().filter(|&&e| e > now).count() as u32))
    }

    async fn put_connection(
        &self,
        conn: &ConnectionRecord,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let exp = expiry(ttl);
        let mut s = self.lock();
        s.connections.insert(conn.id.clone(), (conn.clone(), exp));
        s.by_user
            .entry(conn.principal.sub.clone())
            .or_default()
            .insert(conn.id.clone(), exp);
        Ok(())
    }

    async fn get_connection(&self, id: &str) -> Result<Option<ConnectionRecord>, StoreError> {
        let now = now_secs();
        let s = self.lock();
        Ok(s.connections
            .get(id)
            .filter(|(_, e)| *e > now)
            .map(|(c, _)| c.clone()))
    }

    async fn update_principal(&self, id: &str, principal: &Principal) -> Result<(), StoreError> {
        let now = now_secs();
        let mut s = self.lock();
        match s.connections.get_mut(id).filter(|(_, e)| *e > now) {
            Some((c, _)) => {
                c.principal = principal.clone();
                Ok(())
            }
            None => Err(StoreError::NoConnection(id.into())),
        }
    }

    async fn remove_connection(&self, id: &str) -> Result<Removed, StoreError> {
        let mut s = self.lock();
        let mut removed = Removed::default();
        if let Some((c, _)) = s.connections.remove(id) {
            removed.connection = true;
            if let Some(m) = s.by_user.get_mut(&c.principal.sub) {
                m.remove(id);
                if m.is_empty() {
                    s.by_user.remove(&c.principal.sub);
                }
            }
        }
        s.rate.remove(id);
        for channel in s.conn_subs.remove(id).unwrap_or_default().into_keys() {
            removed.subscriptions += 1;
            if let Some(m) = s.chan_subs.get_mut(&channel) {
                m.remove(id);
                if m.is_empty() {
                    s.chan_subs.remove(&channel);
                }
            }
        }
        Ok(removed)
    }

    async fn count_subscriptions(&self, connection_id: &str) -> Result<u32, StoreError> {
        let now = now_secs();
        let s = self.lock();
        Ok(s.conn_subs
            .get(connection_id)
            .map_or(0, |m| m.values().filter(|&&e| e > now).count() as u32))
    }

    async fn subscribe(
        &self,
        conn: &ConnectionRecord,
        channel: &ChannelName,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = now_secs();
        let exp = expiry(ttl);
        let mut s = self.lock();
        if s.connections.get(&conn.id).is_none_or(|(_, e)| *e <= now) {
            return Err(StoreError::NoConnection(conn.id.clone()));
        }
        s.conn_subs
            .entry(conn.id.clone())
            .or_default()
            .insert(channel.to_string(), exp);
        s.chan_subs
            .entry(channel.to_string())
            .or_default()
            .insert(conn.id.clone(), (conn.principal.sub.clone(), exp));
        Ok(())
    }

    async fn is_subscribed(
        &self,
        connection_id: &str,
        channel: &ChannelName,
    ) -> Result<bool, StoreError> {
        let now = now_secs();
        let s = self.lock();
        Ok(s.conn_subs
            .get(connection_id)
            .and_then(|m| m.get(channel.as_str()))
            .is_some_and(|&e| e > now))
    }

    async fn unsubscribe(
        &self,
        connection_id: &str,
        channel: &ChannelName,
    ) -> Result<bool, StoreError> {
        let now = now_secs();
        let mut s = self.lock();
        let existed = s
            .conn_subs
            .get_mut(connection_id)
            .and_then(|m| m.remove(channel.as_str()))
            .is_some_and(|e| e > now);
        if let Some(m) = s.chan_subs.get_mut(channel.as_str()) {
            m.remove(connection_id);
            if m.is_empty() {
                s.chan_subs.remove(channel.as_str());
            }
        }
        Ok(existed)
    }

    async fn subscribers(
        &self,
        channel: &ChannelName,
        cursor: Option<String>,
        page_size: u32,
    ) -> Result<Page<Subscriber>, StoreError> {
        let now = now_secs();
        let s = self.lock();
        let Some(m) = s.chan_subs.get(channel.as_str()) else {
            return Ok(Page {
                items: vec![],
                next: None,
            });
        };
        let start = match &cursor {
            Some(c) => std::ops::Bound::Excluded(c.clone()),
            None => std::ops::Bound::Unbounded,
        };
        let mut range = m.range((start, std::ops::Bound::Unbounded));
        let mut items = Vec::new();
        let mut last = None;
        for (id, (user, e)) in range.by_ref().take(page_size.max(1) as usize) {
            last = Some(id.clone());
            if *e > now {
                items.push(Subscriber {
                    connection_id: id.clone(),
                    user: user.clone(),
                });
            }
        }
        let next = if range.next().is_some() { last } else { None };
        Ok(Page { items, next })
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

    async fn append(&self, msg: NewMessage, limits: HistoryLimits) -> Result<Appended, StoreError> {
        let now = now_secs();
        let mut s = self.lock();
        let idem_key = match (&msg.id, msg.idempotency_ttl) {
            (Some(id), Some(ttl)) => Some(((msg.from.clone(), id.clone()), now + ttl.as_secs())),
            _ => None,
        };
        if let Some((key, _)) = &idem_key {
            if let Some((channel, seq, exp)) = s.idempotency.get(key) {
                if *exp > now {
                    return Ok(Appended::Duplicate {
                        channel: channel.clone(),
                        seq: *seq,
                    });
                }
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
        };
        if limits.max > 0 {
            stream
                .history
                .push_back((frame.clone(), now + limits.ttl.as_secs()));
            while stream.history.len() > limits.max as usize {
                stream.history.pop_front();
            }
        }
        if let Some((key, exp)) = idem_key {
            s.idempotency
                .insert(key, (frame.channel.clone(), frame.seq, exp));
        }
        Ok(Appended::New(frame))
    }

    async fn rate_hit(
        &self,
        connection_id: &str,
        window: u64,
        ttl: Duration,
    ) -> Result<u32, StoreError> {
        let now = now_secs();
        let mut s = self.lock();
        s.rate.retain(|_, (_, _, exp)| *exp > now);
        let entry =
            s.rate
                .entry(connection_id.to_string())
                .or_insert((window, 0, now + ttl.as_secs()));
        if entry.0 != window {
            *entry = (window, 0, now + ttl.as_secs());
        }
        entry.1 += 1;
        Ok(entry.1)
    }

    async fn history(
        &self,
        channel: &ChannelName,
        head: &StreamHead,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<MessageFrame>, StoreError> {
        let now = now_secs();
        let mut s = self.lock();
        let stream = live_stream(&mut s, channel.as_str(), now);
        if stream.epoch != head.epoch {
            return Ok(Vec::new());
        }
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
    let stream = s
        .streams
        .entry(channel.to_string())
        .or_insert_with(|| Stream {
            seq: 0,
            epoch: new_epoch(),
            expires: now + STREAM_TTL.as_secs(),
            history: VecDeque::new(),
        });
    if stream.expires <= now {
        *stream = Stream {
            seq: 0,
            epoch: new_epoch(),
            expires: now + STREAM_TTL.as_secs(),
            history: VecDeque::new(),
        };
    }
    stream
}
