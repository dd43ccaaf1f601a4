//! What a function instance may reuse for a second on the best-effort path
//! (ephemeral publishes, PROTOCOL §10): a channel's subscriber list (when
//! it fits one Query page) and a publishing connection's record. A stream
//! of typing indicators or cursor positions then costs about one read of
//! each per second per instance instead of one per message. Sequenced
//! messages and every other action never use them.
//!
//! What that allows, and why it is acceptable for ephemeral messages (no
//! seq, no recovery, best effort by contract): a connection that subscribed
//! within the last second through another instance may miss one; one that
//! left may be sent one it ignores; a capability removed by an in-band
//! `auth` on another instance applies to ephemeral publishes a second late.
//! This instance drops an entry at once when it handles the change itself
//! (subscribe, unsubscribe, `auth`, `$disconnect`, a push that finds a
//! subscriber gone, the server API's operations).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::{ConnectionRecord, Page, Subscriber};

/// Entries used for [`TtlCache::TTL`], at most [`TtlCache::MAX`] of them.
#[derive(Debug)]
pub struct TtlCache<V> {
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V> Default for TtlCache<V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone> TtlCache<V> {
    /// How long an entry is used.
    pub const TTL: Duration = Duration::from_secs(1);
    /// Entries kept at most (a bound on memory).
    pub const MAX: usize = 4096;

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, V)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry, if stored within the TTL.
    pub fn get(&self, key: &str) -> Option<V> {
        let entries = self.lock();
        let (at, v) = entries.get(key)?;
        (at.elapsed() < Self::TTL).then(|| v.clone())
    }

    /// Stores an entry.
    pub fn put(&self, key: &str, value: V) {
        let mut entries = self.lock();
        if entries.len() >= Self::MAX {
            entries.retain(|_, (at, _)| at.elapsed() < Self::TTL);
            if entries.len() >= Self::MAX {
                entries.clear();
            }
        }
        entries.insert(key.to_string(), (Instant::now(), value));
    }

    /// Drops an entry (what it holds changed).
    pub fn forget(&self, key: &str) {
        self.lock().remove(key);
    }
}

/// The instance's caches for ephemeral publishes.
#[derive(Debug, Default)]
pub struct InstanceCache {
    /// Channel → its whole subscriber list.
    pub subscribers: TtlCache<Page<Subscriber>>,
    /// Connection id → its record.
    pub connections: TtlCache<ConnectionRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_last_the_ttl_and_go_when_forgotten() {
        let c: TtlCache<u32> = TtlCache::default();
        assert!(c.get("a").is_none());
        c.put("a", 1);
        assert_eq!(c.get("a"), Some(1));
        c.forget("a");
        assert!(c.get("a").is_none());
        c.put("a", 2);
        c.lock().get_mut("a").unwrap().0 -= TtlCache::<u32>::TTL;
        assert!(c.get("a").is_none(), "stale after the TTL");
    }

    #[test]
    fn memory_is_bounded() {
        let c: TtlCache<u32> = TtlCache::default();
        for i in 0..TtlCache::<u32>::MAX + 10 {
            c.put(&i.to_string(), 0);
        }
        assert!(c.lock().len() <= TtlCache::<u32>::MAX);
    }
}
