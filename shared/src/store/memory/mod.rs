//! Embedded in-memory store: the local gateway's default and the unit tests'
//! backend. Same semantics as DynamoDB, including TTL (expired entries are
//! invisible to reads) and atomicity (one lock per call).

mod connections;
mod members;
mod streams;
mod subscriptions;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::protocol::MessageFrame;
use crate::time::now_secs;

struct Stream {
    seq: u64,
    epoch: String,
    expires: u64,
    history: VecDeque<(MessageFrame, u64)>,
}

/// A connection's subscription: expiry and whether it counts toward the quota.
#[derive(Clone, Copy)]
struct Sub {
    expires: u64,
    counted: bool,
}

struct Idempotent {
    channel: String,
    seq: u64,
    fingerprint: String,
    expires: u64,
}

#[derive(Default)]
struct State {
    connections: HashMap<String, (crate::store::ConnectionRecord, u64)>,
    by_user: HashMap<String, BTreeSet<String>>,
    conn_subs: HashMap<String, BTreeMap<String, Sub>>,
    chan_subs: HashMap<String, BTreeMap<String, (String, u64)>>,
    streams: HashMap<String, Stream>,
    idempotency: HashMap<(String, String), Idempotent>,
    /// Appends since the idempotency map was last purged of expired records.
    since_purge: usize,
    /// connection → TAT (µs); only while its record exists.
    rate: HashMap<String, u64>,
    /// (channel, user) → the user's connections in it, and expiry.
    members: HashMap<(String, String), (BTreeSet<String>, u64)>,
    /// user → (revoked before, until).
    revoked: HashMap<String, (u64, u64)>,
}

/// In-process store behind a mutex; cheap to create per test.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
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
}

#[cfg(feature = "emulator")]
impl MemoryStore {
    /// How many entries of any kind it holds (expired included), apart from
    /// channel streams and history: zero once every connection is cleaned up.
    pub fn connection_entries(&self) -> usize {
        let s = self.lock();
        s.connections.len()
            + s.by_user.values().map(BTreeSet::len).sum::<usize>()
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
                .filter(|m| m.contains(connection_id))
                .count()
            + s.conn_subs.get(connection_id).map_or(0, BTreeMap::len)
            + s.chan_subs
                .values()
                .filter(|m| m.contains_key(connection_id))
                .count()
            + s.rate.contains_key(connection_id) as usize
    }

    /// Idempotency records held, expired ones included (purged by TTL).
    pub fn idempotency_records(&self) -> usize {
        self.lock().idempotency.len()
    }
}
