//! Subscriptions of the embedded store.

use std::ops::Bound;
use std::time::Duration;

use async_trait::async_trait;

use super::{expiry, MemoryStore, Sub};
use crate::channel::ChannelName;
use crate::store::IdRange;
use crate::store::{
    ConnectionRecord, Page, Quota, StoreError, Subscribed, Subscriber, SubscriptionStore,
};
use crate::time::now_secs;

#[async_trait]
impl SubscriptionStore for MemoryStore {
    async fn is_subscribed(
        &self,
        connection_id: &str,
        channel: &ChannelName,
    ) -> Result<bool, StoreError> {
        let now = now_secs();
        Ok(self
            .lock()
            .conn_subs
            .get(connection_id)
            .and_then(|m| m.get(channel.as_str()))
            .is_some_and(|s| s.expires > now))
    }

    async fn subscribe(
        &self,
        conn: &ConnectionRecord,
        channel: &ChannelName,
        quota: Quota,
        ttl: Duration,
    ) -> Result<Subscribed, StoreError> {
        let now = now_secs();
        let exp = expiry(ttl);
        let mut s = self.lock();
        if s.connections.get(&conn.id).is_none_or(|(_, e)| *e <= now) {
            return Err(StoreError::NoConnection(conn.id.clone()));
        }
        let mine = s.conn_subs.entry(conn.id.clone()).or_default();
        if mine
            .get(channel.as_str())
            .is_some_and(|sub| sub.expires > now)
        {
            return Ok(Subscribed::Already);
        }
        if let Quota::Limited(max) = quota {
            let counted = mine.values().filter(|sub| sub.counted).count();
            if counted >= max as usize {
                return Ok(Subscribed::LimitReached);
            }
        }
        let counted = matches!(quota, Quota::Limited(_));
        mine.insert(
            channel.to_string(),
            Sub {
                expires: exp,
                counted,
            },
        );
        s.chan_subs
            .entry(channel.to_string())
            .or_default()
            .insert(conn.id.clone(), (conn.principal.sub.clone(), exp));
        Ok(Subscribed::New)
    }

    async fn unsubscribe(
        &self,
        connection_id: &str,
        channel: &ChannelName,
        _quota: Quota,
    ) -> Result<bool, StoreError> {
        let now = now_secs();
        let mut s = self.lock();
        let existed = s
            .conn_subs
            .get_mut(connection_id)
            .and_then(|m| m.remove(channel.as_str()))
            .is_some_and(|sub| sub.expires > now);
        if let Some(m) = s.chan_subs.get_mut(channel.as_str()) {
            m.remove(connection_id);
            if m.is_empty() {
                s.chan_subs.remove(channel.as_str());
            }
        }
        Ok(existed)
    }

    async fn subscribers_in(
        &self,
        channel: &ChannelName,
        range: &IdRange,
        after: Option<String>,
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
        let lowest = after.as_ref().or(range.from.as_ref());
        if let (Some(low), Some(to)) = (lowest, &range.to) {
            if low >= to {
                // Nothing lies there (and BTreeMap::range would panic).
                return Ok(Page {
                    items: vec![],
                    next: None,
                });
            }
        }
        let start = match (after, &range.from) {
            (Some(c), _) => Bound::Excluded(c),
            (None, Some(f)) => Bound::Included(f.clone()),
            (None, None) => Bound::Unbounded,
        };
        let end = match &range.to {
            Some(t) => Bound::Excluded(t.clone()),
            None => Bound::Unbounded,
        };
        let mut range = m.range((start, end));
        let mut items = Vec::new();
        let mut last = None;
        for (id, (user, e)) in range.by_ref().take(page_size.max(1) as usize) {
            last = Some(id.clone());
            if *e > now {
                items.push(Subscriber {
                    connection_id: id.clone(),
                    user: user.clone(),
                    info: s
                        .connections
                        .get(id)
                        .and_then(|(c, _)| c.principal.info.clone()),
                });
            }
        }
        let next = if range.next().is_some() { last } else { None };
        Ok(Page { items, next })
    }
}
