//! `publish`: capability check, idempotent seq assignment with history,
//! `ack`, fan-out. The server publish (`handlers::publish_api`) shares
//! [`append`].

use serde_json::Value;

use super::{Ctx, Fanout, Reply};
use crate::app::App;
use crate::channel::ChannelName;
use crate::config::matches_any;
use crate::error::ActionError;
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

/// Sequences, stores and (with an id) deduplicates one message.
pub(crate) async fn append(
    app: &App,
    channel: ChannelName,
    data: Value,
    from: String,
    id: Option<String>,
    scope: IdemScope,
    now_ms: u64,
) -> Result<Published, ActionError> {
    let idempotency = id.as_ref().map(|id| IdempotencyKey {
        scope,
        id: id.clone(),
        fingerprint: fingerprint(&channel, &data),
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
    match app.store.append(msg, app.history_limits()).await? {
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
            if expected.as_deref() != Some(fingerprint.as_str()) {
                return Err(ActionError::BadRequest(format!(
                    "id `{}` was already used for another publish (channel `{original}`, \
                     seq {seq}) within the idempotency window; use a new id",
                    id.as_deref().unwrap_or_default()
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
    if !ctx.conn.principal.can_publish(&channel) {
        return Err(ActionError::Forbidden(format!(
            "no publish capability for `{channel}`"
        )));
    }
    // `echo: false`: every subscriber but the publishing connection.
    let skip = (!echo).then(|| ctx.conn.id.clone());
    let sub = ctx.conn.principal.sub.clone();
    if ephemeral {
        return ephemeral_publish(ctx, channel, data, sub, skip);
    }
    let mut p = append(
        ctx.app,
        channel,
        data,
        sub.clone(),
        ctx.id.clone(),
        IdemScope::User(sub),
        ctx.now_ms,
    )
    .await?;
    if let Some(f) = &mut p.fanout {
        f.skip = skip;
    }
    Ok(Reply {
        frames: vec![ServerFrame::Ack {
            id: ctx.id.clone(),
            channel: p.channel,
            seq: p.seq,
            duplicate: Some(p.duplicate),
            ephemeral: false,
        }],
        fanout: p.fanout,
    })
}

/// An ephemeral publish (typing indicators, cursors): on a channel of
/// `EPHEMERAL_CHANNELS`, delivered without a seq, history or idempotency —
/// no table write beyond the rate limit's.
fn ephemeral_publish(
    ctx: &Ctx<'_>,
    channel: ChannelName,
    data: Value,
    from: String,
    skip: Option<String>,
) -> Result<Reply, ActionError> {
    if !matches_any(&ctx.app.config.ephemeral_channels, &channel) {
        return Err(ActionError::BadRequest(format!(
            "`{channel}` takes no ephemeral publishes (EPHEMERAL_CHANNELS)"
        )));
    }
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
    Ok(Reply {
        frames: vec![ServerFrame::Ack {
            id: ctx.id.clone(),
            channel: channel.to_string(),
            seq: 0,
            duplicate: None,
            ephemeral: true,
        }],
        fanout: Some(Fanout {
            payload: message.to_json(),
            channel,
            skip,
            ephemeral: true,
        }),
    })
}
