//! What the server API's operations do to live connections: frames pushed
//! with the fan-out's retries, closes, and the store kept in step (a
//! connection found gone, or closed here, is removed at once and its
//! `leave`s delivered, not left for a `$disconnect` that may come late).

use tokio::time::Instant;

use crate::actions::members;
use crate::app::App;
use crate::channel::ChannelName;
use crate::error::ActionError;
use crate::handlers::deliver::{announce_leaves, deliver};
use crate::protocol::ServerFrame;
use crate::push::push_with_retry;
use crate::push::{PushError, Pusher};
use crate::retry::Backoff;
use crate::store::{ConnectionRecord, Quota, Subscribed};

/// What the operations share.
pub(super) struct Ops<'a> {
    pub(super) app: &'a App,
    pub(super) pusher: &'a dyn Pusher,
    /// No connection is started on after this.
    pub(super) stop_at: Option<Instant>,
}

impl Ops<'_> {
    fn check_time(&self, done: usize, of: usize) -> Result<(), ActionError> {
        if self.stop_at.is_some_and(|t| Instant::now() >= t) {
            tracing::error!(
                done,
                of,
                "server operation stopped at the invocation deadline"
            );
            return Err(ActionError::Deadline);
        }
        Ok(())
    }

    /// The user's live connections (ids in the user's set whose record is
    /// still there).
    pub(super) async fn live(&self, user: &str) -> Result<Vec<ConnectionRecord>, ActionError> {
        let mut out = Vec::new();
        for id in self.app.store.user_connections(user).await? {
            if let Some(c) = self.app.store.get_connection(&id).await? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Removes a connection that is gone or closed, with its `leave`s.
    async fn forget(&self, id: &str) {
        self.app.cache.connections.forget(id);
        match self.app.store.remove_connection(id).await {
            Ok(removed) => {
                self.app.forget_removed(id, &removed);
                announce_leaves(self.app, self.pusher, id, &removed).await
            }
            Err(e) => {
                tracing::warn!(connection = %id, error = %e, "could not remove a closed connection; its $disconnect or TTL will")
            }
        }
    }

    /// Pushes `frame`; false when the connection is gone (then removed).
    async fn push(&self, id: &str, frame: &ServerFrame) -> Result<bool, ActionError> {
        let payload = frame.to_json();
        let opts = self.app.fanout_options();
        match push_with_retry(self.pusher, id, payload.as_bytes(), &opts.retry())
            .await
            .0
        {
            Ok(()) => Ok(true),
            Err(PushError::Gone) => {
                self.forget(id).await;
                Ok(false)
            }
            Err(e) => Err(ActionError::Push(e)),
        }
    }

    /// Sends each connection the `disconnect` frame, closes it
    /// (DeleteConnection) and removes it; the number closed.
    pub(super) async fn disconnect(
        &self,
        ids: &[String],
        frame: &ServerFrame,
    ) -> Result<u32, ActionError> {
        let mut closed = 0;
        for (done, id) in ids.iter().enumerate() {
            self.check_time(done, ids.len())?;
            // The close matters more than the frame: a frame that cannot
            // be delivered is logged, the close still happens.
            let told = match self.push(id, frame).await {
                Ok(false) => continue,
                Ok(told) => told,
                Err(e) => {
                    tracing::warn!(connection = %id, error = %e, "disconnect frame not delivered");
                    false
                }
            };
            // A client that read the frame may have closed first (then
            // DeleteConnection finds it gone): it was live and is closed.
            if self.close(id).await? || told {
                closed += 1;
            }
            self.forget(id).await;
        }
        Ok(closed)
    }

    /// DeleteConnection with the push retries; false when already gone.
    async fn close(&self, id: &str) -> Result<bool, ActionError> {
        let backoff = Backoff::PUSH;
        let mut attempt = 0;
        loop {
            match self.pusher.delete(id).await {
                Ok(()) => return Ok(true),
                Err(PushError::Gone) => return Ok(false),
                Err(e) if e.retryable() && attempt < 4 => {
                    backoff.sleep(attempt).await;
                    attempt += 1;
                }
                Err(e) => return Err(ActionError::Push(e)),
            }
        }
    }

    /// Subscribes each live connection of the user (the per-connection
    /// limit holds: one at its maximum is left out) and tells it with a
    /// `subscribed` frame; the number subscribed.
    pub(super) async fn subscribe(
        &self,
        user: &str,
        channel: &ChannelName,
    ) -> Result<u32, ActionError> {
        let app = self.app;
        let conns = self.live(user).await?;
        let mut n = 0;
        for (done, conn) in conns.iter().enumerate() {
            self.check_time(done, conns.len())?;
            let outcome = app
                .store
                .subscribe(
                    conn,
                    channel,
                    quota(app, conn, channel),
                    app.config.connection_ttl,
                )
                .await?;
            if outcome == Subscribed::New {
                app.cache.subscribers.forget(channel.as_str());
            }
            if outcome == Subscribed::LimitReached {
                tracing::info!(connection = %conn.id, %channel, "server subscribe: connection at its subscription limit");
                continue;
            }
            let head = app.store.stream_head(channel).await?;
            let frame = ServerFrame::Subscribed {
                id: None,
                channel: channel.to_string(),
                seq: head.seq,
                epoch: head.epoch,
                recovered: None,
            };
            if !self.push(&conn.id, &frame).await? {
                continue;
            }
            n += 1;
            if outcome == Subscribed::New {
                subscription_event("subscription.created", &conn.id, user_of(conn), channel);
                if let Some(join) = members::join(app, conn, channel).await {
                    deliver(app, self.pusher, &join, self.stop_at).await;
                }
            }
        }
        Ok(n)
    }

    /// Unsubscribes each live connection of the user and tells it with an
    /// `unsubscribed` frame; the number of live connections told.
    pub(super) async fn unsubscribe(
        &self,
        user: &str,
        channel: &ChannelName,
    ) -> Result<u32, ActionError> {
        let app = self.app;
        let conns = self.live(user).await?;
        let mut n = 0;
        for (done, conn) in conns.iter().enumerate() {
            self.check_time(done, conns.len())?;
            let existed = app
                .store
                .unsubscribe(&conn.id, channel, quota(app, conn, channel))
                .await?;
            if existed {
                app.cache.subscribers.forget(channel.as_str());
                subscription_event("subscription.removed", &conn.id, user, channel);
                if let Some(leave) = members::leave(app, user, &conn.id, channel).await {
                    deliver(app, self.pusher, &leave, self.stop_at).await;
                }
            }
            let frame = ServerFrame::Unsubscribed {
                id: None,
                channel: channel.to_string(),
            };
            if self.push(&conn.id, &frame).await? {
                n += 1;
            }
        }
        Ok(n)
    }
}

/// As a client's own subscribe: the personal channel is free.
fn quota(app: &App, conn: &ConnectionRecord, channel: &ChannelName) -> Quota {
    if conn.principal.is_personal(channel) {
        Quota::Free
    } else {
        Quota::Limited(app.config.max_subscriptions_per_connection)
    }
}

fn user_of(conn: &crate::store::ConnectionRecord) -> &str {
    &conn.principal.sub
}

/// A subscription the backend made or removed, as an event (`EVENT_BUS`).
fn subscription_event(kind: &'static str, connection: &str, user: &str, channel: &ChannelName) {
    crate::bus::emit(
        kind,
        || serde_json::json!({"connection": connection, "user": user, "channel": channel.as_str()}),
    );
}
