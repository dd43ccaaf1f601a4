//! `subscribe` (with recovery from `since`) and `unsubscribe`.

use super::{members, require_subscribe, Ctx, Reply};
use crate::channel::ChannelName;
use crate::error::ActionError;
use crate::protocol::{Position, ServerFrame};
use crate::store::{Quota, Subscribed};

/// At most this many messages are replayed inside one `subscribe`: every
/// one is a push to the caller, and all of them must go out well within
/// the function's timeout. Past it the reply says `recovered: false` and
/// the client continues with `history`.
pub(crate) const MAX_REPLAY: u32 = 100;

/// The quota a subscription to `channel` takes: the automatic personal
/// channel does not count.
fn quota(ctx: &Ctx<'_>, channel: &ChannelName) -> Quota {
    if ctx.conn.principal.is_personal(channel) {
        Quota::Free
    } else {
        Quota::Limited(ctx.app.config.max_subscriptions_per_connection)
    }
}

pub(super) async fn subscribe(
    ctx: &Ctx<'_>,
    channel: ChannelName,
    since: Option<Position>,
) -> Result<Reply, ActionError> {
    require_subscribe(ctx, &channel).await?;
    let store = &ctx.app.store;
    let config = &ctx.app.config;
    let outcome = store
        .subscribe(
            ctx.conn,
            &channel,
            quota(ctx, &channel),
            config.connection_ttl,
        )
        .await?;
    if outcome == Subscribed::New {
        ctx.app.cache.subscribers.forget(channel.as_str());
        subscription_event("subscription.created", ctx, &channel);
    }
    if outcome == Subscribed::LimitReached {
        return Err(ActionError::LimitExceeded(format!(
            "at most {} subscriptions per connection",
            config.max_subscriptions_per_connection
        )));
    }
    let head = store.stream_head(&channel).await?;
    let cap = config.history_max.clamp(1, MAX_REPLAY);
    let mut replayed = Vec::new();
    let recovered = match since {
        None => None,
        Some(pos) if pos.epoch != head.epoch || pos.seq > head.seq => {
            // Another stream (or a position from the future): replay what
            // history holds, but the client must know it is not contiguous.
            replayed = store.history(&channel, &head, Some(0), cap).await?;
            Some(false)
        }
        Some(pos) => {
            let missed = head.seq - pos.seq;
            if missed > 0 {
                let limit = u32::try_from(missed).unwrap_or(u32::MAX).min(cap);
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
    let fanout = match outcome {
        Subscribed::New => members::join(ctx.app, ctx.conn, &channel).await,
        _ => None,
    };
    Ok(Reply { frames, fanout })
}

pub(super) async fn unsubscribe(ctx: &Ctx<'_>, channel: ChannelName) -> Result<Reply, ActionError> {
    let existed = ctx
        .app
        .store
        .unsubscribe(&ctx.conn.id, &channel, quota(ctx, &channel))
        .await?;
    let fanout = if existed {
        ctx.app.cache.subscribers.forget(channel.as_str());
        subscription_event("subscription.removed", ctx, &channel);
        members::leave(ctx.app, &ctx.conn.principal.sub, &ctx.conn.id, &channel).await
    } else {
        None
    };
    Ok(Reply {
        frames: vec![ServerFrame::Unsubscribed {
            id: ctx.id.clone(),
            channel: channel.to_string(),
        }],
        fanout,
    })
}

fn subscription_event(kind: &'static str, ctx: &Ctx<'_>, channel: &ChannelName) {
    crate::bus::emit(kind, || {
        serde_json::json!({
            "connection": ctx.conn.id,
            "user": ctx.conn.principal.sub,
            "channel": channel.as_str(),
        })
    });
}
