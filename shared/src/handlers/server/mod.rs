//! The server API (`PublishFunction`, invoked with IAM): besides publishing
//! (`{"messages": [...]}` or one message), one operation per call —
//! `disconnect`, `revoke`, `subscribe`, `unsubscribe`, `presence`,
//! `history` — each answered with a JSON object, and every refusal with
//! `{"error": {"code", "message", "requestId"}}` (the invocation itself
//! succeeds, as a refused publish does).

mod ops;
mod publish;
mod request;

use serde_json::{json, Value};

pub use publish::{
    publish_api, PublishError, PublishRequest, PublishResponse, PublishResult, MAX_BATCH,
    SERVER_FROM,
};
pub use request::{MAX_REASON_CHARS, OPS};

use self::ops::Ops;
use self::request::{Op, Target};
use super::Invocation;
use crate::actions::{history::history_frame, presence::presence_frame};
use crate::app::App;
use crate::error::{ActionError, HandlerError};
use crate::protocol::ServerFrame;
use crate::time::now_secs;

/// The code and reason a `revoke` closes live connections with.
pub const REVOKED_CODE: u16 = 4001;
/// See [`REVOKED_CODE`].
pub const REVOKED_REASON: &str = "token revoked";

fn error(e: &ActionError, request_id: Option<&str>) -> Value {
    match e {
        ActionError::Internal(source) => {
            tracing::error!(error = %source, "server operation failed")
        }
        ActionError::Push(source) => tracing::error!(error = %source, "server operation failed"),
        _ => {}
    }
    json!({"error": {
        "code": e.code(),
        "message": e.client_message(),
        "requestId": request_id,
    }})
}

/// Which operation a request names: `Ok(None)` for a publish.
fn operation(request: &Value) -> Result<Option<(&str, &Value)>, ActionError> {
    let Value::Object(m) = request else {
        return Err(ActionError::BadRequest(
            "the request must be a JSON object".into(),
        ));
    };
    let named: Vec<_> = m.keys().filter(|k| OPS.contains(&k.as_str())).collect();
    match (named.as_slice(), m.len()) {
        ([], _) => Ok(None),
        ([op], 1) => Ok(Some((op.as_str(), &m[op.as_str()]))),
        ([_], _) => Err(ActionError::BadRequest(
            "an operation is the request's only key".into(),
        )),
        _ => Err(ActionError::BadRequest("one operation per request".into())),
    }
}

/// Handles one invocation of the backend's function: a publish or an
/// operation. The events it causes (`EVENT_BUS`) go out at the end.
pub async fn backend(
    request: Value,
    app: &App,
    invocation: &Invocation<'_>,
) -> Result<Value, HandlerError> {
    let work = serve(request, app, invocation);
    app.with_events(
        "publish",
        invocation.request_id,
        invocation.deadline_ms,
        work,
    )
    .await
}

async fn serve(
    request: Value,
    app: &App,
    invocation: &Invocation<'_>,
) -> Result<Value, HandlerError> {
    let rid = invocation.request_id;
    let (name, body) = match operation(&request) {
        Ok(Some(op)) => op,
        Ok(None) => {
            // A publish: what `publish_api` always took.
            let publish: PublishRequest = serde_json::from_value(request)
                .map_err(|e| HandlerError::BadEvent(e.to_string()))?;
            let answer = publish_api(publish, app, invocation).await?;
            return serde_json::to_value(answer).map_err(|e| HandlerError::BadEvent(e.to_string()));
        }
        Err(e) => return Ok(error(&e, rid)),
    };
    let mut metrics = app.metrics("publish");
    if let Some(rid) = rid {
        metrics.property("requestId", rid);
    }
    metrics.dimension("Operation", name);
    let answer = match request::parse(name, body) {
        Ok(op) => run(op, app, invocation).await,
        Err(message) => Err(ActionError::BadRequest(message)),
    };
    let answer = answer.unwrap_or_else(|e| {
        metrics.count("OperationFailed", 1);
        error(&e, rid)
    });
    metrics.count("Operations", 1).flush();
    Ok(answer)
}

fn frame_json(frame: ServerFrame) -> Value {
    serde_json::to_value(frame).unwrap_or(Value::Null)
}

/// What reaching connections needs: the management API.
fn reach<'a>(
    app: &'a App,
    pusher: &'a Option<std::sync::Arc<dyn crate::push::Pusher>>,
    invocation: &Invocation<'_>,
) -> Result<Ops<'a>, ActionError> {
    let pusher = pusher.as_deref().ok_or_else(|| {
        ActionError::Push(crate::push::PushError::Failed(
            "MANAGEMENT_ENDPOINT is not set: no connection can be reached".into(),
        ))
    })?;
    Ok(Ops {
        app,
        pusher,
        stop_at: invocation.stop_at(),
    })
}

async fn run(op: Op, app: &App, invocation: &Invocation<'_>) -> Result<Value, ActionError> {
    let pusher = app.pusher_for(None, None);
    match op {
        Op::Presence { channel, cursor } => Ok(frame_json(
            presence_frame(app, channel, cursor, None).await?,
        )),
        Op::History {
            channel,
            since,
            limit,
        } => Ok(frame_json(
            history_frame(app, channel, since, limit, None).await?,
        )),
        Op::Disconnect {
            target,
            code,
            reason,
            reconnect,
        } => {
            let ops = reach(app, &pusher, invocation)?;
            let ids = match target {
                Target::Connection(id) => vec![id],
                Target::User(user) => ops.live(&user).await?.into_iter().map(|c| c.id).collect(),
            };
            let frame = ServerFrame::Disconnect {
                code,
                reason,
                reconnect,
            };
            let n = ops.disconnect(&ids, &frame).await?;
            tracing::info!(disconnected = n, code, "disconnect");
            Ok(json!({ "disconnected": n }))
        }
        Op::Revoke { user, before } => {
            let ops = reach(app, &pusher, invocation)?;
            let now = now_secs();
            let before = before.unwrap_or(now);
            let until = now + app.config.revoke_ttl.as_secs();
            // The watermark first: a handshake racing this one is refused by
            // it or is already in the user's set, read next.
            app.store.revoke(&user, before, until).await?;
            let ids: Vec<_> = ops.live(&user).await?.into_iter().map(|c| c.id).collect();
            let frame = ServerFrame::Disconnect {
                code: REVOKED_CODE,
                reason: REVOKED_REASON.into(),
                reconnect: true,
            };
            let n = ops.disconnect(&ids, &frame).await?;
            tracing::info!(user, before, until, disconnected = n, "revoked");
            Ok(json!({ "revoked": true, "disconnected": n }))
        }
        Op::Subscribe { user, channel } => {
            let n = reach(app, &pusher, invocation)?
                .subscribe(&user, &channel)
                .await?;
            Ok(json!({ "connections": n }))
        }
        Op::Unsubscribe { user, channel } => {
            let n = reach(app, &pusher, invocation)?
                .unsubscribe(&user, &channel)
                .await?;
            Ok(json!({ "connections": n }))
        }
    }
}
