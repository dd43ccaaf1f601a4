//! A channel's stream, as both publish paths (a client's `publish` action
//! and the backend's server publish) write it: sequencing, storing and, with
//! an id, deduplicating one message ([`append`]), and the
//! `message.published` event of a new one.

use serde_json::Value;

use crate::app::App;
use crate::channel::ChannelName;
use crate::config::matches_any;
use crate::error::ActionError;
use crate::fanout::Fanout;
use crate::protocol::ServerFrame;
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
pub(crate) fn published(
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
