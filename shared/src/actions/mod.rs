//! The router: one small typed handler per client `action`. Handlers return
//! the frames for the sender plus, for `publish`, the fan-out to run; the
//! message handler does the pushing.

mod auth;
mod history;
mod ping;
mod presence;
mod publish;
mod subscribe;

use crate::app::App;
use crate::channel::ChannelName;
use crate::error::ActionError;
use crate::protocol::{Action, ServerFrame};
use crate::store::ConnectionRecord;

/// What a handler sees of the request.
pub struct Ctx<'a> {
    /// Shared dependencies.
    pub app: &'a App,
    /// The caller's stored connection.
    pub conn: &'a ConnectionRecord,
    /// The caller's frame id, echoed in replies.
    pub id: Option<String>,
    /// Request time, ms since the Unix epoch.
    pub now_ms: u64,
}

/// What a handler produced.
#[derive(Debug, Default)]
pub struct Reply {
    /// Frames for the caller, in order.
    pub frames: Vec<ServerFrame>,
    /// A payload to deliver to every subscriber of a channel.
    pub fanout: Option<(ChannelName, String)>,
}

impl Reply {
    fn one(frame: ServerFrame) -> Self {
        Self {
            frames: vec![frame],
            fanout: None,
        }
    }
}

/// Refuses unless the caller may subscribe to (read) `channel`.
fn require_read(ctx: &Ctx<'_>, channel: &ChannelName) -> Result<(), ActionError> {
    if ctx.conn.principal.can_subscribe(channel) {
        Ok(())
    } else {
        Err(ActionError::Forbidden(format!(
            "no subscribe capability for `{channel}`"
        )))
    }
}

/// Runs the handler for `action`.
pub async fn dispatch(ctx: &Ctx<'_>, action: Action) -> Result<Reply, ActionError> {
    match action {
        Action::Ping => Ok(ping::ping(ctx)),
        Action::Subscribe { channel, since } => subscribe::subscribe(ctx, channel, since).await,
        Action::Unsubscribe { channel } => subscribe::unsubscribe(ctx, channel).await,
        Action::Publish { channel, data } => publish::publish(ctx, channel, data).await,
        Action::History {
            channel,
            since,
            limit,
        } => history::history(ctx, channel, since, limit).await,
        Action::Presence { channel } => presence::presence(ctx, channel).await,
        Action::Auth { token } => auth::auth(ctx, &token).await,
    }
}
