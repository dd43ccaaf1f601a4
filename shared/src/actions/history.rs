//! `history`: pages of a channel's stored messages, oldest first, each
//! reply within the management API's 128 KB.

use super::{fit, require_read, Ctx, Reply};
use crate::app::App;
use crate::channel::ChannelName;
use crate::error::ActionError;
use crate::protocol::{Position, ServerFrame, MAX_REPLY_BYTES};

pub(super) async fn history(
    ctx: &Ctx<'_>,
    channel: ChannelName,
    since: Option<Position>,
    limit: u32,
) -> Result<Reply, ActionError> {
    require_read(ctx, &channel).await?;
    let frame = history_frame(ctx.app, channel, since, limit, ctx.id.clone()).await?;
    Ok(Reply::one(frame))
}

/// The `history` reply for `channel` (the server API reads it too).
pub(crate) async fn history_frame(
    app: &App,
    channel: ChannelName,
    since: Option<Position>,
    limit: u32,
    id: Option<String>,
) -> Result<ServerFrame, ActionError> {
    let store = &app.store;
    // Reading never creates a stream: a channel nobody published to has no
    // head, no epoch (""), and nothing to return.
    let Some(head) = store.read_head(&channel).await? else {
        return Ok(ServerFrame::History {
            id: id.clone(),
            channel: channel.to_string(),
            epoch: String::new(),
            messages: Vec::new(),
            complete: since.as_ref().is_none_or(|p| p.seq == 0),
        });
    };
    let same_epoch = since.as_ref().is_none_or(|p| p.epoch == head.epoch);
    let after = match &since {
        Some(p) if same_epoch => p.seq,
        _ => 0,
    };
    let messages = store
        .history(&channel, &head, since.as_ref().map(|_| after), limit)
        .await?;
    // Whether the page starts where asked: nothing between the requested
    // start and the first message was lost (expired, trimmed, other epoch).
    let starts_right = match &since {
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
    let reply = |messages: Vec<_>, complete| ServerFrame::History {
        id: id.clone(),
        channel: channel.to_string(),
        epoch: head.epoch.clone(),
        messages,
        complete,
    };
    let envelope = reply(Vec::new(), false).to_json().len();
    let mut frames: Vec<ServerFrame> = messages.into_iter().map(ServerFrame::Message).collect();
    let sizes: Vec<usize> = frames.iter().map(|f| f.to_json().len()).collect();
    let forward = since.is_some();
    let kept = fit(&sizes, MAX_REPLY_BYTES - envelope, forward);
    let cut = kept < frames.len();
    if forward {
        frames.truncate(kept);
    } else {
        frames.drain(..frames.len() - kept);
    }
    let last_seq = match frames.last() {
        Some(ServerFrame::Message(m)) => Some(m.seq),
        _ => None,
    };
    // Forward reads are complete when they reach the head; the latest-N
    // read when it holds the whole window.
    let complete =
        starts_right && !cut && (!forward || last_seq.map_or(head.seq == after, |s| s == head.seq));
    Ok(reply(frames, complete))
}
