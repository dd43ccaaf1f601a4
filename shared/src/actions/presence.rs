//! `presence`: who is subscribed, with connection counts, read from the
//! channel's subscriber items (so disconnects and 410 cleanups show at
//! once), paged so that every reply fits the management API's 128 KB.

use std::collections::BTreeMap;

use super::{require_read, Ctx, Reply};
use crate::app::App;
use crate::channel::ChannelName;
use crate::error::ActionError;
use crate::protocol::{Member, ServerFrame, MAX_REPLY_BYTES};

/// Subscribers read per store page.
const PAGE: u32 = 200;
/// At most this many subscribers are read for one reply (bounds the time).
const MAX_READ: usize = 10_000;

/// A cursor names where the next page starts (a subscriber's connection
/// id) and is bound to its channel by a digest, so a cursor the server did
/// not give for this channel — invented, mistyped, another channel's — is a
/// `bad_request` rather than a page from somewhere. Not a secret: a client
/// may read every page of a channel it may read anyway.
fn encode_cursor(channel: &ChannelName, after: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}",
        b64.encode(after),
        b64.encode(check(channel, after))
    )
}

fn check(channel: &ChannelName, after: &str) -> [u8; 9] {
    let mut data = Vec::with_capacity(channel.as_str().len() + after.len() + 16);
    data.extend_from_slice(b"wsfn-presence\0");
    data.extend_from_slice(channel.as_str().as_bytes());
    data.push(0);
    data.extend_from_slice(after.as_bytes());
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &data);
    let mut out = [0u8; 9];
    out.copy_from_slice(&d.as_ref()[..9]);
    out
}

fn decode_cursor(channel: &ChannelName, cursor: &str) -> Result<String, ActionError> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let bad = || {
        ActionError::BadRequest("cursor is not one a `presence` reply of this channel gave".into())
    };
    let (after, sum) = cursor.split_once('.').ok_or_else(bad)?;
    let after = b64
        .decode(after)
        .ok()
        .and_then(|a| String::from_utf8(a).ok())
        .filter(|a| !a.is_empty())
        .ok_or_else(bad)?;
    let sum = b64.decode(sum).map_err(|_| bad())?;
    if sum.as_slice() != check(channel, &after) {
        return Err(bad());
    }
    Ok(after)
}

pub(super) async fn presence(
    ctx: &Ctx<'_>,
    channel: ChannelName,
    cursor: Option<String>,
) -> Result<Reply, ActionError> {
    require_read(ctx, &channel).await?;
    let frame = presence_frame(ctx.app, channel, cursor, ctx.id.clone()).await?;
    Ok(Reply::one(frame))
}

/// The `presence` reply for `channel` (the server API reads it too).
pub(crate) async fn presence_frame(
    app: &App,
    channel: ChannelName,
    cursor: Option<String>,
    id: Option<String>,
) -> Result<ServerFrame, ActionError> {
    let cursor = cursor.map(|c| decode_cursor(&channel, &c)).transpose()?;
    type Counts = BTreeMap<String, (u32, Option<serde_json::Value>)>;
    let reply = |members: &Counts, next: Option<String>| ServerFrame::Presence {
        id: id.clone(),
        channel: channel.to_string(),
        members: members
            .iter()
            .map(|(user, (connections, info))| Member {
                user: user.clone(),
                connections: *connections,
                info: info.clone(),
            })
            .collect(),
        complete: next.is_none(),
        cursor: next.map(|after| encode_cursor(&channel, &after)),
    };
    // Room for the envelope with the longest cursor a reply can carry.
    let envelope = reply(&BTreeMap::new(), Some("x".repeat(450)))
        .to_json()
        .len();
    let budget = MAX_REPLY_BYTES - envelope;
    let mut counts: Counts = BTreeMap::new();
    let mut bytes = 2usize;
    let mut after = cursor;
    let mut read = 0usize;
    loop {
        let page = app.store.subscribers(&channel, after.clone(), PAGE).await?;
        for s in page.items {
            if !counts.contains_key(&s.user) {
                let entry = serde_json::to_string(&Member {
                    user: s.user.clone(),
                    connections: u32::MAX,
                    info: s.info.clone(),
                })
                .map_or(0, |e| e.len() + 1);
                if bytes + entry > budget {
                    // Full: the next reply starts at this subscriber.
                    return Ok(reply(&counts, after));
                }
                bytes += entry;
            }
            let e = counts.entry(s.user).or_default();
            e.0 += 1;
            if e.1.is_none() {
                e.1 = s.info;
            }
            after = Some(s.connection_id);
            read += 1;
        }
        match page.next {
            Some(next) if read < MAX_READ => after = Some(next),
            Some(next) => return Ok(reply(&counts, Some(next))),
            None => return Ok(reply(&counts, None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_only_for_their_channel() {
        let a = ChannelName::parse("room:a").unwrap();
        let b = ChannelName::parse("room:b").unwrap();
        let c = encode_cursor(&a, "AbC123xyz=");
        assert_eq!(decode_cursor(&a, &c).unwrap(), "AbC123xyz=");
        assert!(decode_cursor(&b, &c).is_err(), "another channel's cursor");
        for invented in ["x", "!!!!", "", ".", "eA.", "eA.AAAAAAAAAAAA", &c[1..]] {
            assert!(
                matches!(decode_cursor(&a, invented), Err(ActionError::BadRequest(_))),
                "{invented}"
            );
        }
    }
}
