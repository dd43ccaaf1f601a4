//! `rpc`: a call to the application's `rpc` hook; without one, a
//! `bad_request`.

use serde_json::Value;

use super::{hooked, Ctx, Reply};
use crate::error::ActionError;
use crate::protocol::ServerFrame;

pub(super) async fn rpc(ctx: &Ctx<'_>, method: String, data: Value) -> Result<Reply, ActionError> {
    let Some(hooks) = &ctx.app.hooks else {
        return Err(no_rpc());
    };
    let Some(answer) = hooks.rpc(ctx.caller(), &method, &data).await else {
        return Err(no_rpc());
    };
    let data = hooked(answer)?;
    let frame = ServerFrame::Rpc {
        id: ctx.id.clone(),
        data,
    };
    // The reply must fit one management API call.
    let size = frame.to_json().len();
    if size > crate::config::MAX_MESSAGE_BYTES_LIMIT + 4 * 1024 {
        return Err(ActionError::Hook(crate::hooks::HookFailure::Malformed(
            format!("the rpc reply would be {size} bytes; at most 128 KB"),
        )));
    }
    Ok(Reply::one(frame))
}

fn no_rpc() -> ActionError {
    ActionError::BadRequest("no rpc hook is configured (HOOKS)".into())
}
