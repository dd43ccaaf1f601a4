//! `presence`: who is subscribed, with connection counts, read from the
//! channel's subscriber items (so disconnects and 410 cleanups show at once).

use std::collections::BTreeMap;

use super::{require_read, Ctx, Reply};
use crate::channel::ChannelName;
use crate::error::ActionError;
use crate::protocol::{Member, ServerFrame};

/// Presence lists at most this many subscriptions (pages of the Query).
const MAX_SCANNED: usize = 10_000;

pub(super) async fn presence(ctx: &Ctx<'_>, channel: ChannelName) -> Result<Reply, ActionError> {
    require_read(ctx, &channel)?;
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    let mut cursor = None;
    let mut seen = 0usize;
    loop {
        let page = ctx.app.store.subscribers(&channel, cursor, 500).await?;
        seen += page.items.len();
        for s in page.items {
            *counts.entry(s.user).or_default() += 1;
        }
        match page.next {
            Some(next) if seen < MAX_SCANNED => cursor = Some(next),
            _ => break,
        }
    }
    Ok(Reply::one(ServerFrame::Presence {
        id: ctx.id.clone(),
        channel: channel.to_string(),
        members: counts
            .into_iter()
            .map(|(user, connections)| Member { user, connections })
            .collect(),
    }))
}
