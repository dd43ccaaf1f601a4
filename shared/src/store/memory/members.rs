//! Channel membership by user (presence events) in the embedded store.

use std::time::Duration;

use async_trait::async_trait;

use super::{expiry, MemoryStore};
use crate::channel::ChannelName;
use crate::store::{MemberStore, StoreError};
use crate::time::now_secs;

#[async_trait]
impl MemberStore for MemoryStore {
    async fn member_in(
        &self,
        channel: &ChannelName,
        user: &str,
        connection: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = now_secs();
        let mut s = self.lock();
        let e = s
            .members
            .entry((channel.to_string(), user.to_string()))
            .or_default();
        if e.1 <= now {
            e.0.clear();
        }
        let first = e.0.is_empty();
        e.0.insert(connection.to_string());
        e.1 = expiry(ttl);
        Ok(first)
    }

    async fn member_out(
        &self,
        channel: &ChannelName,
        user: &str,
        connection: &str,
    ) -> Result<bool, StoreError> {
        let now = now_secs();
        let mut s = self.lock();
        let k = (channel.to_string(), user.to_string());
        let Some(e) = s.members.get_mut(&k) else {
            return Ok(false);
        };
        let last = e.1 > now && e.0.len() == 1 && e.0.contains(connection);
        e.0.remove(connection);
        if e.0.is_empty() {
            s.members.remove(&k);
        }
        Ok(last)
    }
}
