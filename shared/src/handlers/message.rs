//! `$default`: every client frame. Connection lookup, rate limit, size
//! check, parse, token expiry, the action router, replies to the sender and
//! fan-out, all through the management API. Never fails the invocation for a
//! client's mistake: bad input gets an `error` frame and the socket stays up.

use std::time::Instant;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;

use super::deliver::{announce_leaves, deliver, record};
use super::{response, Invocation, WsEvent};
use crate::actions::{route, Ctx, Reply};
use crate::app::App;
use crate::error::{ActionError, HandlerError};
use crate::metrics::Metrics;
use crate::protocol::{extract_id as echo_id, Action, ClientFrame, ServerFrame};
use crate::push::push_with_retry;
use crate::push::{PushError, Pusher};
use crate::store::{Admit, Gcra};
use crate::time::{now_micros, now_millis};

/// Handles one client frame; the invocation's deadline stops new pushes
/// in time. The events it causes (`EVENT_BUS`) go out after the replies and
/// the fan-out.
pub async fn message(
    event: WsEvent,
    app: &App,
    invocation: &Invocation<'_>,
) -> Result<ApiGatewayProxyResponse, HandlerError> {
    let rid = event.request_context.request_id.clone();
    let work = frame(event, app, invocation.stop_at());
    app.with_events("message", rid.as_deref(), invocation.deadline_ms, work)
        .await
}

async fn frame(
    event: WsEvent,
    app: &App,
    stop_at: Option<tokio::time::Instant>,
) -> Result<ApiGatewayProxyResponse, HandlerError> {
    let started = Instant::now();
    let ctx = &event.request_context;
    let Some(connection_id) = ctx.connection_id.as_deref() else {
        return Ok(response(400, "missing connectionId"));
    };
    let Some(pusher) = app.pusher_for(ctx.domain_name.as_deref(), ctx.stage.as_deref()) else {
        tracing::error!("no domainName in the event and no MANAGEMENT_ENDPOINT configured");
        return Ok(response(500, "no management endpoint"));
    };
    let body = event.body.as_deref().unwrap_or_default();
    let mut metrics = app.metrics("message");
    if let Some(rid) = ctx.request_id.as_deref() {
        metrics.property("requestId", rid);
    }
    let work = handle(
        app,
        connection_id,
        body,
        ctx.request_id.as_deref(),
        &mut metrics,
    );
    let (id, outcome) = match stop_at {
        // No frame is left without a reply when the store is slow (SDK
        // retries of throttled calls): what has not finished when the
        // deadline margin starts is answered `internal` — retry.
        Some(at) => match tokio::time::timeout_at(at, work).await {
            Ok(done) => done,
            Err(_) => (echo_id(body), Err(ActionError::Deadline)),
        },
        None => work.await,
    };
    let reply = match outcome {
        Ok(reply) => reply,
        Err(e) => {
            match &e {
                ActionError::Internal(source) => {
                    tracing::error!(connection = %connection_id, error = %source, "action failed")
                }
                ActionError::Deadline => {
                    tracing::error!(connection = %connection_id, "action out of time before the deadline")
                }
                // Logged with the hook's name and reason where it failed.
                ActionError::Hook(_) => {
                    metrics.count("HookFailed", 1);
                }
                _ => {}
            }
            metrics.dimension("Error", format!("{:?}", e.code()));
            Reply {
                frames: vec![e.to_frame(id)],
                fanout: None,
            }
        }
    };
    // The caller's replies and the fan-out go out side by side: the ack does
    // not wait for the subscribers, nor they for the ack.
    let replies = async {
        for frame in &reply.frames {
            send(app, pusher.as_ref(), connection_id, frame).await;
        }
    };
    let fanout = async {
        let f = reply.fanout.as_ref()?;
        deliver(app, pusher.as_ref(), f, stop_at).await
    };
    let ((), outcome) = tokio::join!(replies, fanout);
    if let Some((r, took)) = outcome {
        record(&mut metrics, &r, took);
    }
    metrics
        .millis("DurationMs", started.elapsed().as_secs_f64() * 1e3)
        .flush();
    Ok(response(200, ""))
}

/// Everything up to the replies: returns the id to echo and the outcome.
async fn handle(
    app: &App,
    connection_id: &str,
    body: &str,
    request_id: Option<&str>,
    metrics: &mut Metrics,
) -> (Option<String>, Result<Reply, ActionError>) {
    let cached = ephemeral_publish(body)
        .then(|| app.cache.connections.get(connection_id))
        .flatten();
    let read = match cached {
        Some(c) => Ok(Some(c)),
        None => app.store.get_connection(connection_id).await,
    };
    let conn = match read {
        Ok(Some(c)) => {
            app.cache.connections.put(connection_id, c.clone());
            c
        }
        Ok(None) => return (echo_id(body), Err(not_registered())),
        Err(e) => return (echo_id(body), Err(e.into())),
    };
    let now_ms = now_millis();
    // Every frame counts, malformed ones included; excess frames stop here.
    let per_second = conn
        .principal
        .rate
        .unwrap_or(f64::from(app.config.rate_limit_per_second));
    let limit = Gcra::new(per_second, app.config.rate_limit_burst);
    match admit(app, connection_id, limit).await {
        Ok(Admit::Counted) => {}
        Ok(Admit::Refused { .. }) => {
            metrics.count("RateLimited", 1);
            return (echo_id(body), Err(ActionError::RateLimited));
        }
        // Removed while this frame was on its way (a disconnect, a 410
        // cleanup): nothing was counted or written.
        Ok(Admit::Gone) => {
            app.cache.connections.forget(connection_id);
            return (echo_id(body), Err(not_registered()));
        }
        Err(e) => return (echo_id(body), Err(e.into())),
    }
    let max = app.config.max_message_bytes;
    if body.len() > max {
        return (
            echo_id(body),
            Err(ActionError::TooLarge(format!(
                "message is {} bytes; the limit is {max}",
                body.len()
            ))),
        );
    }
    let frame = match ClientFrame::parse(body) {
        Ok(f) => f,
        Err(e) => return (e.id, Err(ActionError::BadRequest(e.message))),
    };
    metrics.dimension("Action", frame.action.name());
    let id = frame.id.clone();
    let leeway = app.config.verifier.leeway();
    if !matches!(frame.action, Action::Auth { .. })
        && conn.principal.expired_at(now_ms / 1000, leeway)
    {
        return (
            id,
            Err(ActionError::Unauthorized(
                "token expired; send a new one with `auth`".into(),
            )),
        );
    }
    let ctx = Ctx {
        app,
        conn: &conn,
        id: id.clone(),
        now_ms,
        request_id,
    };
    let mut outcome = route(&ctx, frame.action).await;
    if let Ok(reply) = &mut outcome {
        if let Some(frame) = reconnect_notice(conn.connected_at, now_ms) {
            reply.frames.push(frame);
        }
    }
    (id, outcome)
}

/// The rate decision for one frame, exact whatever order the connection's
/// pipelined frames reach the store in. Each invocation reads the clock
/// before its store call; a frame whose invocation reaches the store after a
/// later-stamped one finds the TAT that frame left, and against its own,
/// older clock it could be refused although within the budget (by up to
/// the reordering, which a high rate makes larger than the tolerance). So a
/// refusal is decided again against a clock read after it — after every
/// write that caused it — when the refusing TAT shows that clock would
/// admit it, and again if a still later clock moved the TAT meanwhile. A
/// frame over the budget at that later instant stays refused; one within
/// it is counted. One extra write per round, only then.
async fn admit(
    app: &App,
    connection_id: &str,
    limit: Gcra,
) -> Result<Admit, crate::store::StoreError> {
    let mut at = now_micros();
    let mut outcome = app.store.admit(connection_id, limit, at).await?;
    // Concurrent frames of one connection reach the store out of clock
    // order, and a later clock may move the TAT past an earlier one's
    // window; each refusal is judged again against a clock read after it,
    // while its TAT shows that clock admits the frame (bounded: every
    // round reads a later clock than the write that refused it).
    for _ in 0..MAX_REDECISIONS {
        let Admit::Refused { tat: Some(tat) } = outcome else {
            break;
        };
        let now = now_micros();
        if now <= at || !limit.admits_at(tat, now) {
            break;
        }
        at = now;
        outcome = app.store.admit(connection_id, limit, at).await?;
    }
    Ok(outcome)
}

fn not_registered() -> ActionError {
    ActionError::Unauthorized("connection is not registered; reconnect".into())
}

/// How often one frame's refusal is judged again (see [`admit`]).
const MAX_REDECISIONS: usize = 8;

/// API Gateway closes every connection after 2 hours.
const MAX_CONNECTION_MS: u64 = 2 * 3600 * 1000;
/// Within this long of the cap, every reply carries a `reconnect` request.
const RECONNECT_WINDOW_MS: u64 = 5 * 60 * 1000;

/// Asks the client to reconnect on its own terms before the 2 h cut-off.
fn reconnect_notice(connected_at: u64, now_ms: u64) -> Option<ServerFrame> {
    let age = now_ms.saturating_sub(connected_at);
    (age + RECONNECT_WINDOW_MS >= MAX_CONNECTION_MS).then(|| ServerFrame::Reconnect {
        reason: "connection reaches the 2 h limit soon".into(),
        after_ms: 0,
    })
}

/// Sends a reply to the caller, retried like fan-out pushes; a gone caller
/// is cleaned up like any other.
async fn send(app: &App, pusher: &dyn Pusher, connection_id: &str, frame: &ServerFrame) {
    let payload = frame.to_json();
    let (result, _) = push_with_retry(
        pusher,
        connection_id,
        payload.as_bytes(),
        &app.fanout_options().retry(),
    )
    .await;
    match result {
        Ok(()) => {}
        Err(PushError::Gone) => match app.store.remove_connection(connection_id).await {
            Ok(removed) => announce_leaves(app, pusher, connection_id, &removed).await,
            Err(e) => {
                tracing::warn!(connection = %connection_id, error = %e, "could not remove gone caller")
            }
        },
        Err(e) => tracing::warn!(connection = %connection_id, error = %e, "reply not delivered"),
    }
}

/// Whether a frame is an ephemeral publish: the best-effort path, which may
/// use the instance's record of the connection (`instance_cache`).
fn ephemeral_publish(body: &str) -> bool {
    body.contains("\"ephemeral\"")
        && serde_json::from_str::<serde_json::Value>(body)
            .is_ok_and(|v| v["action"] == "publish" && v["ephemeral"] == true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_only_near_the_cap() {
        let start = 1_000_000;
        assert!(reconnect_notice(start, start + 60_000).is_none());
        assert!(
            reconnect_notice(start, start + MAX_CONNECTION_MS - RECONNECT_WINDOW_MS - 1).is_none()
        );
        assert!(matches!(
            reconnect_notice(start, start + MAX_CONNECTION_MS - 60_000),
            Some(ServerFrame::Reconnect { after_ms: 0, .. })
        ));
    }
}
