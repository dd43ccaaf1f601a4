//! `ping` → `pong`: heartbeat, and tells the client its connection id.

use super::{Ctx, Reply};
use crate::protocol::ServerFrame;

pub(super) fn ping(ctx: &Ctx<'_>) -> Reply {
    Reply::one(ServerFrame::Pong {
        id: ctx.id.clone(),
        ts: ctx.now_ms,
        connection: ctx.conn.id.clone(),
    })
}
