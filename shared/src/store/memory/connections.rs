//! Connections, the per-user set, and rate state of the embedded store.

use async_trait::async_trait;

use super::{expiry, MemoryStore, Sub};
use crate::auth::Principal;
use crate::store::{
    Admission, Admit, ConnectionRecord, ConnectionStore, Gcra, NewConnection, RateStore, Removed,
    StoreError,
};
use crate::time::now_secs;

#[async_trait]
impl ConnectionStore for MemoryStore {
    async fn open_connection(&self, new: NewConnection<'_>) -> Result<Admission, StoreError> {
        let exp = expiry(new.ttl);
        let conn = new.record;
        let mut s = self.lock();
        let revoked = s
            .revoked
            .get(&conn.principal.sub)
            .is_some_and(|&(before, until)| until >= now_secs() && conn.principal.iat < before);
        if revoked {
            return Ok(Admission::Revoked);
        }
        let held = s.by_user.entry(conn.principal.sub.clone()).or_default();
        if held.len() >= new.max_per_user as usize && !held.contains(&conn.id) {
            return Ok(Admission::AtLimit(held.iter().cloned().collect()));
        }
        held.insert(conn.id.clone());
        s.connections.insert(conn.id.clone(), (conn.clone(), exp));
        if let Some(personal) = new.personal {
            let sub = Sub {
                expires: exp,
                counted: false,
            };
            s.conn_subs
                .entry(conn.id.clone())
                .or_default()
                .insert(personal.to_string(), sub);
            s.chan_subs
                .entry(personal.to_string())
                .or_default()
                .insert(conn.id.clone(), (conn.principal.sub.clone(), exp));
        }
        Ok(Admission::Admitted)
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
            removed.user = Some(c.principal.sub.clone());
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
            removed.channels.push(channel.clone());
            if let Some(m) = s.chan_subs.get_mut(&channel) {
                m.remove(id);
                if m.is_empty() {
                    s.chan_subs.remove(&channel);
                }
            }
        }
        Ok(removed)
    }

    async fn forget_user_connection(&self, user: &str, id: &str) -> Result<(), StoreError> {
        let mut s = self.lock();
        if let Some(m) = s.by_user.get_mut(user) {
            m.remove(id);
            if m.is_empty() {
                s.by_user.remove(user);
            }
        }
        Ok(())
    }

    async fn user_connections(&self, user: &str) -> Result<Vec<String>, StoreError> {
        let s = self.lock();
        Ok(s.by_user
            .get(user)
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn revoke(&self, user: &str, before: u64, until: u64) -> Result<(), StoreError> {
        let mut s = self.lock();
        let now = now_secs();
        // Watermarks that ran out go (what TTL does for the table).
        s.revoked.retain(|_, (_, until)| *until >= now);
        let e = s.revoked.entry(user.to_string()).or_insert((0, 0));
        if e.1 < now || e.0 <= before {
            *e = (before, until);
        }
        Ok(())
    }

    async fn revoked_before(&self, user: &str) -> Result<Option<u64>, StoreError> {
        let now = now_secs();
        Ok(self
            .lock()
            .revoked
            .get(user)
            .filter(|(_, until)| *until >= now)
            .map(|(before, _)| *before))
    }
}

#[async_trait]
impl RateStore for MemoryStore {
    async fn admit(
        &self,
        connection_id: &str,
        limit: Gcra,
        now_us: u64,
    ) -> Result<Admit, StoreError> {
        let now = now_secs();
        let mut s = self.lock();
        // The state lives as long as the connection's record, and only then.
        if s.connections
            .get(connection_id)
            .is_none_or(|(_, e)| *e <= now)
        {
            return Ok(Admit::Gone);
        }
        let stored = s.rate.get(connection_id).copied();
        match limit.next_tat(stored, now_us) {
            Some(tat) => {
                s.rate.insert(connection_id.to_string(), tat);
                Ok(Admit::Counted)
            }
            None => Ok(Admit::Refused { tat: stored }),
        }
    }
}
