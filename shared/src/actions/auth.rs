//! `auth`: in-band token refresh with the same checks as `$connect`. The
//! user may not change: a connection's identity is fixed at the handshake.

use super::{Ctx, Reply};
use crate::auth::AuthError;
use crate::error::ActionError;
use crate::protocol::ServerFrame;

pub(super) async fn auth(ctx: &Ctx<'_>, token: &str) -> Result<Reply, ActionError> {
    let mut principal = ctx
        .app
        .config
        .verifier
        .verify(token)
        .await
        .map_err(|e| match e {
            AuthError::Unavailable(why) => ActionError::Unavailable(why),
            other => ActionError::Unauthorized(format!("token refused: {other}")),
        })?;
    if principal.sub != ctx.conn.principal.sub {
        return Err(ActionError::Unauthorized(
            "token is for another user; reconnect to switch users".into(),
        ));
    }
    // What the connect hook granted holds for the connection's whole life.
    if let Some(granted) = ctx.conn.principal.granted.clone() {
        principal.grant(granted);
    }
    // A revoked token is refused here as at the handshake (one read: `auth`
    // is rare, the handshake pays none).
    if let Some(before) = ctx.app.store.revoked_before(&principal.sub).await? {
        if principal.iat < before {
            return Err(ActionError::Unauthorized(
                "token revoked: get a new one".into(),
            ));
        }
    }
    ctx.app
        .store
        .update_principal(&ctx.conn.id, &principal)
        .await?;
    ctx.app.cache.connections.forget(&ctx.conn.id);
    Ok(Reply::one(ServerFrame::Authed {
        id: ctx.id.clone(),
        exp: principal.exp,
    }))
}
