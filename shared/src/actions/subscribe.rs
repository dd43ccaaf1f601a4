//! `subscribe` (with recovery from `since`) and `unsubscribe`.

use super::{require_read, Ctx, Reply};
use crate::channel::ChannelName;
use crate::error::ActionError;
use crate::protocol::{Position, ServerFrame};

pub(super) async fn subscribe(
    ctx: &Ctx<'_>,
    channel: ChannelName,
    since: Option<Position>,
) -> Result<Reply, ActionError> {
    require_read(ctx, &channel)?;
    let store = &ctx.app.store;
    let config = &ctx.app.config;
    if !ctx.conn.principal.is_personal(&channel)
        && !store.is_subscribed(&ctx.conn.id, &channel).await?
    {
        // The automatic personal-channel subscription does not count.
        let held = store.count_subscriptions(&ctx.conn.id).await?;
        if held > config.max_subscriptions_per_connection {
            return Err(ActionError::LimitExceeded(format!(
                "at most {} subscriptions per connection",
                config.max_subscriptions_per_connection
            )));
        }
    }
    store
        .subscribe(ctx.conn, &channel, config.connection_ttl)
        .await?;
    let head = store.stream_head(&channel).await?;
    let mut replayed = Vec::new();
    let recovered = match since {
        None => None,
        Some(pos) if pos.epoch != head.epoch || pos.seq > head.seq => {
            // Another stream (or a position from the future): replay what
            // history holds, but the client must know it is not contiguous.
            replayed = store
                .history(&channel, &head, Some(0), config.history_max.max(1))
                .await?;
            Some(false)
        }
        Some(pos) => {
            let missed = head.seq - pos.seq;
            if missed > 0 {
                let limit = u32::try_from(missed)
                    .unwrap_or(u32::MAX)
                    .min(config.history_max.max(1));
                replayed = store.history(&channel, &head, Some(pos.seq), limit).await?;
            }
            let contiguous = replayed
                .iter()
                .zip(pos.seq + 1..)
                .all(|(m, expected)| m.seq == expected);
            Some(contiguous && replayed.len() as u64 == missed)
        }
    };
    let mut frames = vec![ServerFrame::Subscribed {
        id: ctx.id.clone(),
        channel: channel.to_string(),
        seq: head.seq,
        epoch: head.epoch,
        recovered,
    }];
    frames.extend(replayed.into_iter().map(ServerFrame::Message));
    Ok(Reply {
        frames,
        fanout: None,
    })
}

pub(super) async fn unsubscribe(ctx: &Ctx<'_>, channel: ChannelName) -> Result<Reply, ActionError> {
    ctx.app.store.unsubscribe(&ctx.conn.id, &channel).await?;
    Ok(Reply::one(ServerFrame::Unsubscribed {
        id: ctx.id.clone(),
        channel: channel.to_string(),
    }))
}
