//! `presence`: who is subscribed, with connection counts, read from the
//! channel's subscriber items (so disconnects and 410 cleanups show at
//! once), paged so that every reply fits the management API's 128 KB.

use std::collections::BTreeMap;

use super::{require_read, Ctx, Reply};
use crate::channel::ChannelName;
use crate::error::ActionError;
use crate::protocol::{Member, ServerFrame, MAX_REPLY_BYTES};

/// Subscribers read per store page.
const PAGE: u32 = 200;
/// At most this many subscribers are read for one reply (bounds the time).
const MAX_READ: usize = 10_000;

pub(super) async fn presence(
    ctx: &Ctx<'_>,
    channel: ChannelName,
    cursor: Option<String>,
) -> Result<Reply, ActionError> {
    require_read(ctx, &channel)?;
    let reply = |members: &BTreeMap<String, u32>, next: Option<String>| ServerFrame::Presence {
        id: ctx.id.clone(),
        channel: channel.to_string(),
        members: members
            .iter()
            .map(|(user, &connections)| Member {
                user: user.clone(),
                connections,
            })
            .collect(),
        complete: next.is_none(),
        cursor: next,
    };
    // Room for the envelope with the longest cursor a reply can carry.
    let envelope = reply(&BTreeMap::new(), Some("x".repeat(600)))
        .to_json()
        .len();
    let budget = MAX_REPLY_BYTES - envelope;
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    let mut bytes = 2usize;
    let mut after = cursor;
    let mut read = 0usize;
    loop {
        let page = ctx
            .app
            .store
            .subscribers(&channel, after.clone(), PAGE)
            .await?;
        for s in page.items {
            if !counts.contains_key(&s.user) {
                let entry = serde_json::to_string(&Member {
                    user: s.user.clone(),
                    connections: u32::MAX,
                })
                .map_or(0, |e| e.len() + 1);
                if bytes + entry > budget {
                    // Full: the next reply starts at this subscriber.
                    return Ok(Reply::one(reply(&counts, after)));
                }
                bytes += entry;
            }
            *counts.entry(s.user).or_default() += 1;
            after = Some(s.connection_id);
            read += 1;
        }
        match page.next {
            Some(next) if read < MAX_READ => after = Some(next),
            Some(next) => return Ok(Reply::one(reply(&counts, Some(next)))),
            None => return Ok(Reply::one(reply(&counts, None))),
        }
    }
}
