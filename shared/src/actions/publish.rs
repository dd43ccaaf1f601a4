//! `publish`: capability check, hook, the append to the channel's stream
//! ([`crate::stream`], shared with the server publish), `ack`, fan-out.

use serde_json::Value;

use super::{hooked, Ctx, Fanout, Reply};
use crate::channel::ChannelName;
use crate::config::matches_any;
use crate::error::ActionError;
use crate::hooks::{HookFailure, HookKind};
use crate::protocol::{MessageFrame, ServerFrame};
use crate::store::IdemScope;
use crate::stream::{append, fingerprint, message_event, published};

pub(super) async fn publish(
    ctx: &Ctx<'_>,
    channel: ChannelName,
    data: Value,
    ephemeral: bool,
    echo: bool,
) -> Result<Reply, ActionError> {
    let sub = ctx.conn.principal.sub.clone();
    let hooks = ctx.app.hooks.as_deref();
    let hooked_channel =
        hooks.is_some_and(|h| h.covering(HookKind::Publish, &channel, &sub).is_some());
    if !hooked_channel && !ctx.conn.principal.can_publish(&channel) {
        return Err(ActionError::Forbidden(format!(
            "no publish capability for `{channel}`"
        )));
    }
    if ephemeral && !matches_any(&ctx.app.config.ephemeral_channels, &channel) {
        return Err(ActionError::BadRequest(format!(
            "`{channel}` takes no ephemeral publishes (EPHEMERAL_CHANNELS)"
        )));
    }
    // `echo: false`: every subscriber but the publishing connection.
    let skip = (!echo).then(|| ctx.conn.id.clone());
    let scope = IdemScope::User(sub.clone());
    let mut sent = None;
    let mut data = data;
    if let (true, Some(hooks)) = (hooked_channel, hooks) {
        // An idempotent retry is answered from its record: the hook is not
        // asked twice about one publish.
        if let (false, Some(id)) = (ephemeral, ctx.id.as_deref()) {
            if let Some(dup) = ctx.app.store.recorded(&scope, id).await? {
                let expected = fingerprint(&channel, &data);
                let p = published(dup, channel, Some(&expected), Some(id))?;
                return Ok(ack(ctx, p.channel, p.seq, Some(true), false, None));
            }
        }
        let answer = hooks.publish(ctx.caller(), &channel, &data, ctx.id.as_deref());
        if let Some(replacement) = hooked(answer.await.unwrap_or(Ok(Ok(None))))? {
            let size = replacement.to_string().len();
            if size > ctx.app.config.max_message_bytes {
                tracing::error!(hook = "publish", connection = %ctx.conn.id, size, "hook's replacement data over MAX_MESSAGE_BYTES; publish refused");
                return Err(ActionError::Hook(HookFailure::Malformed(format!(
                    "replacement data of {size} bytes"
                ))));
            }
            sent = Some(std::mem::replace(&mut data, replacement));
        }
    }
    if ephemeral {
        return ephemeral_publish(ctx, channel, data, sub, skip);
    }
    let mut p = append(
        ctx.app,
        channel,
        data,
        sent.as_ref(),
        sub,
        ctx.id.clone(),
        scope,
        ctx.now_ms,
    )
    .await?;
    if let Some(f) = &mut p.fanout {
        f.skip = skip;
        message_event(ctx.app, Some(&ctx.conn.id), &ctx.conn.principal.sub, f);
    }
    let fanout = p.fanout.take();
    Ok(ack(ctx, p.channel, p.seq, Some(p.duplicate), false, fanout))
}

fn ack(
    ctx: &Ctx<'_>,
    channel: String,
    seq: u64,
    duplicate: Option<bool>,
    ephemeral: bool,
    fanout: Option<Fanout>,
) -> Reply {
    Reply {
        frames: vec![ServerFrame::Ack {
            id: ctx.id.clone(),
            channel,
            seq,
            duplicate,
            ephemeral,
        }],
        fanout,
    }
}

/// An ephemeral publish (typing indicators, cursors; the channel is one of
/// `EPHEMERAL_CHANNELS`), delivered without a seq, history or idempotency —
/// no table write beyond the rate limit's.
fn ephemeral_publish(
    ctx: &Ctx<'_>,
    channel: ChannelName,
    data: Value,
    from: String,
    skip: Option<String>,
) -> Result<Reply, ActionError> {
    let message = ServerFrame::Message(MessageFrame {
        channel: channel.to_string(),
        seq: 0,
        epoch: String::new(),
        data,
        from,
        ts: ctx.now_ms,
        id: None,
        ephemeral: true,
    });
    let fanout = Fanout {
        payload: message.to_json(),
        channel: channel.clone(),
        skip,
        ephemeral: true,
    };
    message_event(
        ctx.app,
        Some(&ctx.conn.id),
        &ctx.conn.principal.sub,
        &fanout,
    );
    Ok(ack(ctx, channel.to_string(), 0, None, true, Some(fanout)))
}
