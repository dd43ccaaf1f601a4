//! `publish`: capability check, idempotent seq assignment with history,
//! `ack`, fan-out.

use serde_json::Value;

use super::{Ctx, Reply};
use crate::channel::ChannelName;
use crate::error::ActionError;
use crate::protocol::ServerFrame;
use crate::store::{Appended, IdempotencyKey, NewMessage};

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
    let idempotency = ctx.id.as_ref().map(|id| IdempotencyKey {
        scope: ctx.conn.principal.sub.clone(),
        id: id.clone(),
        fingerprint: fingerprint(&channel, &data),
        ttl: ctx.app.config.idempotency_ttl,
    });
    let expected = idempotency.as_ref().map(|k| k.fingerprint.clone());
    let msg = NewMessage {
        channel: channel.clone(),
        data,
        from: ctx.conn.principal.sub.clone(),
        id: ctx.id.clone(),
        ts: ctx.now_ms,
        idempotency,
    };
    let (channel, seq, duplicate, fanout) =
        match ctx.app.store.append(msg, ctx.app.history_limits()).await? {
            Appended::New(stored) => (
                stored.channel.clone(),
                stored.seq,
                false,
                Some((channel, ServerFrame::Message(stored).to_json())),
            ),
            Appended::Duplicate {
                channel: original,
                seq,
                fingerprint,
            } => {
                if expected.as_deref() != Some(fingerprint.as_str()) {
                    return Err(ActionError::BadRequest(format!(
                        "id `{}` was already used for another publish (channel `{original}`, \
                         seq {seq}) within the idempotency window; use a new id",
                        ctx.id.as_deref().unwrap_or_default()
                    )));
                }
                // Already delivered under this id: acknowledge the original only.
                (original, seq, true, None)
            }
        };
    Ok(Reply {
        frames: vec![ServerFrame::Ack {
            id: ctx.id.clone(),
            channel,
            seq,
            duplicate,
        }],
        fanout,
    })
}
