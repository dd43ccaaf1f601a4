//! `publish`: capability check, idempotent seq assignment with history,
//! `ack`, fan-out.

use serde_json::Value;

use super::{Ctx, Reply};
use crate::channel::ChannelName;
use crate::error::ActionError;
use crate::protocol::ServerFrame;
use crate::store::NewMessage;

pub(super) async fn publish(
    ctx: &Ctx<'_>,
    channel: ChannelName,
    data: Value,
) -> Result<Reply, ActionError> {
    if !ctx.conn.principal.can_publish(&channel) {
        return Err(ActionError::Forbidden(format!(
            "no publish capability for `{channel}`"
        )));
    }
    let msg = NewMessage {
        channel: channel.clone(),
        data,
        from: ctx.conn.principal.sub.clone(),
        id: ctx.id.clone(),
        ts: ctx.now_ms,
        idempotency_ttl: Some(ctx.app.config.idempotency_ttl),
    };
    let appended = ctx.app.store.append(msg, ctx.app.history_limits()).await?;
    let seq = appended.seq();
    let (duplicate, fanout) = match appended.into_new() {
        Some(stored) => (
            false,
            Some((channel.clone(), ServerFrame::Message(stored).to_json())),
        ),
        // Already delivered under this id: acknowledge the original seq only.
        None => (true, None),
    };
    Ok(Reply {
        frames: vec![ServerFrame::Ack {
            id: ctx.id.clone(),
            channel: channel.to_string(),
            seq,
            duplicate,
        }],
        fanout,
    })
}
