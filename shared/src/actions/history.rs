//! `history`: pages of a channel's stored messages, oldest first.

use super::{require_read, Ctx, Reply};
use crate::channel::ChannelName;
use crate::error::ActionError;
use crate::protocol::{Position, ServerFrame};

pub(super) async fn history(
    ctx: &Ctx<'_>,
    channel: ChannelName,
    since: Option<Position>,
    limit: u32,
) -> Result<Reply, ActionError> {
    require_read(ctx, &channel)?;
    let store = &ctx.app.store;
    let head = store.stream_head(&channel).await?;
    let same_epoch = since.as_ref().is_none_or(|p| p.epoch == head.epoch);
    let after = match &since {
        Some(p) if same_epoch => p.seq,
        _ => 0,
    };
    let messages = store
        .history(&channel, &head, since.as_ref().map(|_| after), limit)
        .await?;
    // Complete: nothing between the requested start and the first message
    // returned was lost (expired, trimmed, or another epoch).
    let complete = match &since {
        Some(_) if !same_epoch => false,
        Some(_) => messages
            .first()
            .map_or(head.seq == after, |m| m.seq == after + 1),
        None => {
            let window_start = head.seq.saturating_sub(u64::from(limit)) + 1;
            messages
                .first()
                .map_or(head.seq == 0, |m| m.seq == window_start)
        }
    };
    Ok(Reply::one(ServerFrame::History {
        id: ctx.id.clone(),
        channel: channel.to_string(),
        epoch: head.epoch,
        messages: messages.into_iter().map(ServerFrame::Message).collect(),
        complete,
    }))
}
