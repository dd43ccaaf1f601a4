//! Presence events (`PRESENCE_EVENTS` channels): a `join` when a user's
//! first connection subscribes, a `leave` when the last one leaves
//! (unsubscribe, `$disconnect`, cleanup after a 410). The store's member
//! calls see each transition exactly once; here they become frames to
//! deliver. Channels not listed pay nothing: no call is made.

use super::Fanout;
use crate::app::App;
use crate::channel::ChannelName;
use crate::config::matches_any;
use crate::protocol::ServerFrame;
use crate::store::{ConnectionRecord, Removed};

fn watched(app: &App, channel: &ChannelName) -> bool {
    matches_any(&app.config.presence_events, channel)
}

/// The `join` to deliver when `conn` is its user's first connection in `channel`.
pub(crate) async fn join(
    app: &App,
    conn: &ConnectionRecord,
    channel: &ChannelName,
) -> Option<Fanout> {
    if !watched(app, channel) {
        return None;
    }
    let user = &conn.principal.sub;
    match app
        .store
        .member_in(channel, user, &conn.id, app.config.connection_ttl)
        .await
    {
        Ok(true) => {
            presence_event("presence.joined", &conn.id, user, channel);
            Some(Fanout {
                channel: channel.clone(),
                payload: ServerFrame::Join {
                    channel: channel.to_string(),
                    user: user.clone(),
                    info: conn.principal.info.clone(),
                }
                .to_json(),
                // Its own reply (`subscribed`) already told the joiner.
                skip: Some(conn.id.clone()),
                ephemeral: false,
            })
        }
        Ok(false) => None,
        Err(e) => {
            tracing::warn!(%channel, user, error = %e, "could not record the member; no join sent");
            None
        }
    }
}

/// The `leave` to deliver when `connection` was its user's last in `channel`.
pub(crate) async fn leave(
    app: &App,
    user: &str,
    connection: &str,
    channel: &ChannelName,
) -> Option<Fanout> {
    if !watched(app, channel) {
        return None;
    }
    match app.store.member_out(channel, user, connection).await {
        Ok(true) => {
            presence_event("presence.left", connection, user, channel);
            Some(Fanout {
                channel: channel.clone(),
                payload: ServerFrame::Leave {
                    channel: channel.to_string(),
                    user: user.to_string(),
                }
                .to_json(),
                skip: None,
                ephemeral: false,
            })
        }
        Ok(false) => None,
        Err(e) => {
            tracing::warn!(%channel, user, error = %e, "could not remove the member; no leave sent");
            None
        }
    }
}

/// A member transition as an event (`EVENT_BUS`).
fn presence_event(kind: &'static str, connection: &str, user: &str, channel: &ChannelName) {
    crate::bus::emit(
        kind,
        || serde_json::json!({"connection": connection, "user": user, "channel": channel.as_str()}),
    );
}

/// The `leave`s a removed connection causes.
pub(crate) async fn leaves(app: &App, connection: &str, removed: &Removed) -> Vec<Fanout> {
    let Some(user) = &removed.user else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in &removed.channels {
        if let Ok(channel) = ChannelName::parse(c) {
            out.extend(leave(app, user, connection, &channel).await);
        }
    }
    out
}
