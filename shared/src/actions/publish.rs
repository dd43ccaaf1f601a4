//! `publish`: capability check, idempotent seq assignment with history,
//! `ack`, fan-out. The server publish (`handlers::publish_api`) shares
//! [`append`].

use serde_json::Value;

use super::{hooked, Ctx, Fanout, Reply};
use crate::app::App;
use crate::channel::ChannelName;
use crate::config::matches_any;
use crate::error::ActionError;
use crate::hooks::{HookFailure, HookKind};
use crate::protocol::{MessageFrame, ServerFrame};
use crate::store::{Appended, IdemScope, IdempotencyKey, NewMessage};

/// What an idempotency record remembers of a publish: a reuse of its id
/// with another channel or payload is refused, as Powertools idempotency
/// refuses a reused key with another payload.
pub(crate) fn fingerprint(channel: &ChannelName, data: &Value) -> String {
    let mut input = Vec::with_capacity(channel.as_str().len() + 64);
    input.extend_from_slice(channel.as_str().as_bytes());
    input.push(0);
    // serde_json writes a Value deterministically (object keys in order).
    input.extend_from_slice(data.to_string().as_bytes());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &input);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A stored publish: where it landed, and the frame to fan out when new.
#[derive(Debug)]
pub(crate) struct Published {
    /// The channel of the (original) message.
    pub(crate) channel: String,
    /// Its seq.
    pub(crate) seq: u64,
    /// The id was already used for this very message.
    pub(crate) duplicate: bool,
    /// The `message` frame to deliver, when this publish is new.
    pub(crate) fanout: Option<Fanout>,
}

/// Sequences, stores and (with an id) deduplicates one message. `sent`
/// is the payload the client sent when a hook replaced it with `data`: the
/// idempotency fingerprint stays the client's, so its retry matches.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn append(
    app: &App,
    channel: ChannelName,
    data: Value,
    sent: Option<&Value>,
    from: String,
    id: Option<String>,
    scope: IdemScope,
    now_ms: u64,
) -> Result<Published, ActionError> {
    let idempotency = id.as_ref().map(|id| IdempotencyKey {
        scope,
        id: id.clone(),
        fingerprint: fingerprint(&channel, sent.unwrap_or(&data)),
        ttl: app.config.idempotency_ttl,
    });
    let expected = idempotency.as_ref().map(|k| k.fingerprint.clone());
    let msg = NewMessage {
        channel: channel.clone(),
        data,
        from,
        id: id.clone(),
        ts: now_ms,
        idempotency,
    };
    let appended = app.store.append(msg, app.history_limits()).await?;
    published(appended, channel, expected.as_deref(), id.as_deref())
}

/// A store's answer to an append as a publish's: a new message to fan out,
/// or the original one of an id already used for this very publish.
fn published(
    appended: Appended,
    channel: ChannelName,
    expected: Option<&str>,
    id: Option<&str>,
) -> Result<Published, ActionError> {
    match appended {
        Appended::New(stored) => Ok(Published {
            channel: stored.channel.clone(),
            seq: stored.seq,
            duplicate: false,
            fanout: Some(Fanout {
                channel,
                payload: ServerFrame::Message(stored).to_json(),
                skip: None,
                ephemeral: false,
            }),
        }),
        Appended::Duplicate {
            channel: original,
            seq,
            fingerprint,
        } => {
            if expected != Some(fingerprint.as_str()) {
                return Err(ActionError::BadRequest(format!(
                    "id `{}` was already used for another publish (channel `{original}`, \
                     seq {seq}) within the idempotency window; use a new id",
                    id.unwrap_or_default()
                )));
            }
            // Already delivered under this id: acknowledge the original only.
            Ok(Published {
                channel: original,
                seq,
                duplicate: true,
                fanout: None,
            })
        }
    }
}

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

/// A new message on an `EVENT_MESSAGE_CHANNELS` channel, as an event
/// (`EVENT_BUS`): the whole `message` frame.
pub(crate) fn message_event(app: &App, connection: Option<&str>, user: &str, f: &Fanout) {
    if app.bus.is_none() || !matches_any(&app.config.event_message_channels, &f.channel) {
        return;
    }
    crate::bus::emit("message.published", || {
        let message: Value = serde_json::from_str(&f.payload).unwrap_or(Value::Null);
        serde_json::json!({
            "connection": connection,
            "user": user,
            "channel": f.channel.as_str(),
            "message": message,
        })
    });
}
