//! The router: one small typed handler per client `action`. Handlers return
//! the frames for the sender plus, for `publish`, the fan-out to run; the
//! message handler does the pushing.

mod auth;
pub(crate) mod history;
pub(crate) mod members;
mod ping;
pub(crate) mod presence;
pub(crate) mod publish;
mod rpc;
mod subscribe;

use crate::app::App;
use crate::channel::ChannelName;
use crate::error::ActionError;
pub(crate) use crate::fanout::Fanout;
use crate::hooks::{Caller, HookFailure, HookKind, Refusal};
use crate::protocol::{Action, ServerFrame};
use crate::store::ConnectionRecord;

/// What a handler sees of the request.
pub(crate) struct Ctx<'a> {
    /// Shared dependencies.
    pub app: &'a App,
    /// The caller's stored connection.
    pub conn: &'a ConnectionRecord,
    /// The caller's frame id, echoed in replies.
    pub id: Option<String>,
    /// Request time, ms since the Unix epoch.
    pub now_ms: u64,
    /// The invocation's request id (passed to hooks).
    pub request_id: Option<&'a str>,
}

impl Ctx<'_> {
    /// The caller as hooks see it.
    fn caller(&self) -> Caller<'_> {
        Caller::of(self.conn, self.request_id)
    }
}

/// A hook's outcome as an action's: its refusal, or `unavailable`.
fn hooked<T>(r: Result<Result<T, Refusal>, HookFailure>) -> Result<T, ActionError> {
    match r {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(refusal)) => Err(ActionError::Refused(refusal)),
        Err(failure) => Err(ActionError::Hook(failure)),
    }
}

/// What a handler produced.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    /// Frames for the caller, in order.
    pub frames: Vec<ServerFrame>,
    /// A frame to deliver to every subscriber of a channel.
    pub fanout: Option<Fanout>,
}

impl Reply {
    fn one(frame: ServerFrame) -> Self {
        Self {
            frames: vec![frame],
            fanout: None,
        }
    }
}

/// How many of the items (sizes in bytes, in order) fit in `budget`: taken
/// from the front when `from_front`, else from the back; at least one is
/// always kept (a single message frame is far below the reply limit).
fn fit(sizes: &[usize], budget: usize, from_front: bool) -> usize {
    let mut used = 0usize;
    let mut kept = 0usize;
    let ordered: Box<dyn Iterator<Item = &usize>> = if from_front {
        Box::new(sizes.iter())
    } else {
        Box::new(sizes.iter().rev())
    };
    for size in ordered {
        // Each element after the first costs a comma.
        let cost = size + usize::from(kept > 0);
        if kept > 0 && used + cost > budget {
            break;
        }
        used += cost;
        kept += 1;
    }
    kept
}

/// Refuses unless the caller may subscribe to (read) `channel`: decided by
/// the token's capabilities, or for a channel a `subscribe` hook covers,
/// by the hook.
async fn require_subscribe(ctx: &Ctx<'_>, channel: &ChannelName) -> Result<(), ActionError> {
    if let Some(hooks) = &ctx.app.hooks {
        if let Some(r) = hooks.subscribe(ctx.caller(), channel).await {
            return hooked(r);
        }
    }
    require_capability(ctx, channel)
}

fn require_capability(ctx: &Ctx<'_>, channel: &ChannelName) -> Result<(), ActionError> {
    if ctx.conn.principal.can_subscribe(channel) {
        Ok(())
    } else {
        Err(ActionError::Forbidden(format!(
            "no subscribe capability for `{channel}`"
        )))
    }
}

/// Refuses unless the caller may read `channel`'s history and presence:
/// a live subscription of this connection is proof enough (one read, only
/// when the token does not decide: the application may have subscribed it
/// with its `connect` hook); on a channel a `subscribe` hook covers it is
/// the only proof (no hook call), elsewhere the token's capability also is.
async fn require_read(ctx: &Ctx<'_>, channel: &ChannelName) -> Result<(), ActionError> {
    let hooked = ctx.app.hooks.as_ref().is_some_and(|h| {
        h.covering(HookKind::Subscribe, channel, &ctx.conn.principal.sub)
            .is_some()
    });
    if !hooked && ctx.conn.principal.can_subscribe(channel) {
        return Ok(());
    }
    if ctx.app.store.is_subscribed(&ctx.conn.id, channel).await? {
        return Ok(());
    }
    if hooked {
        Err(ActionError::Forbidden(format!(
            "`{channel}` is decided by the application: subscribe to it first"
        )))
    } else {
        require_capability(ctx, channel)
    }
}

/// Runs the handler for `action`.
pub(crate) async fn route(ctx: &Ctx<'_>, action: Action) -> Result<Reply, ActionError> {
    match action {
        Action::Ping => Ok(ping::ping(ctx)),
        Action::Subscribe { channel, since } => subscribe::subscribe(ctx, channel, since).await,
        Action::Unsubscribe { channel } => subscribe::unsubscribe(ctx, channel).await,
        Action::Publish {
            channel,
            data,
            ephemeral,
            echo,
        } => publish::publish(ctx, channel, data, ephemeral, echo).await,
        Action::History {
            channel,
            since,
            limit,
        } => history::history(ctx, channel, since, limit).await,
        Action::Presence { channel, cursor } => presence::presence(ctx, channel, cursor).await,
        Action::Auth { token } => auth::auth(ctx, &token).await,
        Action::Rpc { method, data } => rpc::rpc(ctx, method, data).await,
    }
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn fit_counts_commas_and_keeps_one() {
        assert_eq!(fit(&[10, 10, 10], 31, true), 2);
        assert_eq!(fit(&[10, 10, 10], 32, true), 3);
        assert_eq!(fit(&[500, 10], 100, true), 1);
        assert_eq!(fit(&[10, 500], 100, false), 1);
        assert_eq!(fit(&[], 100, false), 0);
    }
}
