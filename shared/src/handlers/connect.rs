//! `$connect`: origin check (403), token verification (401), then the
//! connection, its slot in the user's connection set and its personal
//! subscription in one atomic store step; at the per-user limit, holders
//! that are gone are reaped first, otherwise 429.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::http::HeaderValue;

use super::deliver::{announce_leaves, deliver};
use super::{response, Invocation, WsEvent};
use crate::actions::members;
use crate::app::App;
use crate::auth::{header, AuthError, Granted, HandshakeToken, Principal, SUBPROTOCOL};
use crate::bus;
use crate::channel::ChannelName;
use crate::error::HandlerError;
use crate::hooks::Caller;
use crate::protocol::ErrorCode;
use crate::push::Pusher;
use crate::store::{Admission, ConnectionRecord, NewConnection, Quota, Subscribed};
use crate::time::now_millis;

/// A holder registered more recently than this may still be in its own
/// handshake (the gateway does not know it yet): it is never reaped.
const HANDSHAKE_GRACE: Duration = Duration::from_secs(30);
/// At most this many holders are probed with GetConnection per handshake.
const MAX_PROBES: usize = 5;

/// Every header line of the event: `headers` and `multiValueHeaders`
/// (a header sent on several lines is only complete in the latter).
fn header_lines(event: &WsEvent) -> Vec<(String, String)> {
    let mut lines: Vec<(String, String)> = Vec::new();
    for map in [&event.multi_value_headers, &event.headers] {
        for (k, v) in map.iter() {
            let Ok(v) = v.to_str() else { continue };
            let line = (k.as_str().to_string(), v.to_string());
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
    }
    lines
}

/// How a handshake ended, as the metric it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Connected,
    RejectedOrigin,
    RejectedToken,
    RejectedLimit,
    RejectedUnavailable,
    RejectedHook,
    HookFailed,
    BadRequest,
}

impl Outcome {
    fn metric(self) -> &'static str {
        match self {
            Self::Connected => "Connected",
            Self::RejectedOrigin => "RejectedOrigin",
            Self::RejectedToken => "RejectedToken",
            Self::RejectedLimit => "RejectedLimit",
            Self::RejectedUnavailable => "RejectedUnavailable",
            Self::RejectedHook => "RejectedHook",
            Self::HookFailed => "HookFailed",
            Self::BadRequest => "RejectedBadRequest",
        }
    }
}

/// Handles `$connect`. A non-2xx status rejects the WebSocket handshake.
/// Emits one EMF line: the outcome (Connected, or Rejected by reason).
pub async fn connect(
    event: WsEvent,
    app: &App,
    invocation: &Invocation<'_>,
) -> Result<ApiGatewayProxyResponse, HandlerError> {
    let mut metrics = app.metrics("connect");
    if let Some(rid) = event.request_context.request_id.as_deref() {
        metrics.property("requestId", rid);
    }
    let rid = event.request_context.request_id.clone();
    // Events go out before the answer (a function cannot act after it),
    // bounded.
    let work = handshake(event, app);
    let result = app
        .with_events("connect", rid.as_deref(), invocation.deadline_ms, work)
        .await;
    let name = match &result {
        Ok((_, outcome)) => outcome.metric(),
        Err(_) => "ConnectFailed",
    };
    metrics.count(name, 1).flush();
    result.map(|(r, _)| r)
}

async fn handshake(
    event: WsEvent,
    app: &App,
) -> Result<(ApiGatewayProxyResponse, Outcome), HandlerError> {
    let ctx = &event.request_context;
    let Some(connection_id) = ctx.connection_id.clone() else {
        return Ok((response(400, "missing connectionId"), Outcome::BadRequest));
    };
    let headers = header_lines(&event);
    let origin = header(&headers, "origin");
    if !app.config.allowed_origins.allows(origin) {
        tracing::info!(connection = %connection_id, origin, "origin not allowed");
        return Ok((response(403, "Forbidden"), Outcome::RejectedOrigin));
    }
    let query: HashMap<String, String> = event
        .query_string_parameters
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let handshake = HandshakeToken::extract(&headers, &query);
    let Some(token) = handshake.token.as_deref() else {
        tracing::info!(connection = %connection_id, "no token");
        return Ok((response(401, "Unauthorized"), Outcome::RejectedToken));
    };
    let principal = match app.config.verifier.verify(token).await {
        Ok(p) => p,
        Err(AuthError::Unavailable(e)) => {
            tracing::error!(connection = %connection_id, error = %e, "token keys unavailable");
            return Ok((
                response(503, "Service Unavailable"),
                Outcome::RejectedUnavailable,
            ));
        }
        Err(e) => {
            tracing::info!(connection = %connection_id, error = %e, "token refused");
            return Ok((response(401, "Unauthorized"), Outcome::RejectedToken));
        }
    };
    let (principal, channels) = match ask_hook(app, &event, &connection_id, principal).await {
        Ok(granted) => granted,
        Err(refused) => return Ok(refused),
    };
    let connected_at = u64::try_from(ctx.connected_at)
        .ok()
        .filter(|&t| t > 0)
        .unwrap_or_else(now_millis);
    let record = ConnectionRecord {
        id: connection_id.clone(),
        principal,
        connected_at,
    };
    let personal = ChannelName::personal(&record.principal.sub);
    let new = NewConnection {
        record: &record,
        personal: personal.as_ref(),
        max_per_user: app.config.max_connections_per_user,
        ttl: app.config.connection_ttl,
        revoke_window: app.config.revoke_ttl,
    };
    let pusher = app.pusher_for(ctx.domain_name.as_deref(), ctx.stage.as_deref());
    let mut reaped = 0;
    loop {
        match app.store.open_connection(new.clone()).await? {
            Admission::Admitted => break,
            Admission::AtLimit(holders) if reaped == 0 => {
                reaped = reap_gone(app, pusher.as_deref(), &record.principal.sub, &holders).await;
                if reaped == 0 {
                    return Ok((too_many(&record, holders.len()), Outcome::RejectedLimit));
                }
            }
            Admission::AtLimit(holders) => {
                return Ok((too_many(&record, holders.len()), Outcome::RejectedLimit))
            }
            Admission::Revoked => {
                tracing::info!(connection = %connection_id, user = %record.principal.sub, iat = record.principal.iat, "token revoked");
                return Ok((response(401, "Unauthorized"), Outcome::RejectedToken));
            }
        }
    }
    if let Err(e) = subscribe_granted(app, &record, &channels).await {
        // No half-made connection: the client sees the failure and retries.
        if let Err(e) = app.store.remove_connection(&record.id).await {
            tracing::error!(connection = %connection_id, error = %e, "could not undo a failed connect");
        }
        return Err(e.into());
    }
    if let Some(pusher) = pusher.as_deref() {
        for channel in personal.iter().chain(&channels) {
            if let Some(join) = members::join(app, &record, channel).await {
                deliver(app, pusher, &join, None).await;
            }
        }
    }
    bus::emit("connection.opened", || {
        let mut d = json!({"connection": record.id, "user": record.principal.sub});
        if let Some(info) = &record.principal.info {
            d["info"] = info.clone();
        }
        d
    });
    for channel in &channels {
        bus::emit(
            "subscription.created",
            || json!({"connection": record.id, "user": record.principal.sub, "channel": channel.as_str()}),
        );
    }
    tracing::info!(connection = %connection_id, user = %record.principal.sub, "connected");
    let mut r = response(200, "");
    if handshake.offered_subprotocol {
        r.headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
    }
    Ok((r, Outcome::Connected))
}

/// The `connect` hook's decision, if one is configured: the principal with
/// what it granted and the channels to subscribe, or the refusal to answer.
async fn ask_hook(
    app: &App,
    event: &WsEvent,
    connection_id: &str,
    mut principal: Principal,
) -> Result<(Principal, Vec<ChannelName>), (ApiGatewayProxyResponse, Outcome)> {
    let Some(hooks) = &app.hooks else {
        return Ok((principal, Vec::new()));
    };
    let headers = header_lines(event);
    let caller = Caller {
        connection: connection_id,
        principal: &principal,
        request_id: event.request_context.request_id.as_deref(),
    };
    let asked = hooks
        .connect(
            caller,
            header(&headers, "origin"),
            header(&headers, "user-agent"),
            event.request_context.identity.source_ip.as_deref(),
        )
        .await;
    match asked {
        None => Ok((principal, Vec::new())),
        Some(Ok(Ok(grant))) => {
            principal.grant(Granted {
                subscribe: grant.subscribe,
                publish: grant.publish,
                info: grant.info,
            });
            Ok((principal, grant.channels))
        }
        Some(Ok(Err(refusal))) => {
            tracing::info!(connection = %connection_id, user = %principal.sub, code = ?refusal.code, message = %refusal.message, "connect refused by the hook");
            let status = match refusal.code {
                ErrorCode::Forbidden => 403,
                ErrorCode::Unauthorized => 401,
                ErrorCode::RateLimited | ErrorCode::LimitExceeded => 429,
                _ => 400,
            };
            Err((response(status, &refusal.message), Outcome::RejectedHook))
        }
        // Logged by the hook runner.
        Some(Err(_)) => Err((response(503, "Service Unavailable"), Outcome::HookFailed)),
    }
}

/// Subscribes the connection to the channels its `connect` hook named
/// (server-side subscriptions, counted like the client's own).
async fn subscribe_granted(
    app: &App,
    record: &ConnectionRecord,
    channels: &[ChannelName],
) -> Result<(), crate::store::StoreError> {
    let quota = Quota::Limited(app.config.max_subscriptions_per_connection);
    for channel in channels {
        let done = app
            .store
            .subscribe(record, channel, quota, app.config.connection_ttl)
            .await?;
        if done == Subscribed::LimitReached {
            tracing::warn!(connection = %record.id, %channel, "the connect hook's channels exceed MAX_SUBSCRIPTIONS_PER_CONNECTION; the rest are not subscribed");
            break;
        }
        app.cache.subscribers.forget(channel.as_str());
    }
    Ok(())
}

fn too_many(record: &ConnectionRecord, held: usize) -> ApiGatewayProxyResponse {
    tracing::info!(connection = %record.id, user = %record.principal.sub, held, "too many connections");
    response(429, "Too Many Requests")
}

/// Frees the slots of the user's connections that are gone: a slot without
/// a connection record (a crash between writes, or expired), or a holder
/// the management API answers 410 for (a missed `$disconnect`). Returns how
/// many slots were freed.
async fn reap_gone(
    app: &App,
    pusher: Option<&dyn Pusher>,
    user: &str,
    holders: &[String],
) -> usize {
    let now = now_millis();
    let mut freed = 0;
    let mut candidates = Vec::new();
    for id in holders {
        match app.store.get_connection(id).await {
            Ok(None) => {
                if app.store.forget_user_connection(user, id).await.is_ok() {
                    freed += 1;
                }
            }
            Ok(Some(c))
                if now.saturating_sub(c.connected_at) >= HANDSHAKE_GRACE.as_millis() as u64 =>
            {
                candidates.push(c)
            }
            Ok(Some(_)) => {}
            Err(e) => tracing::warn!(connection = %id, error = %e, "could not read a holder"),
        }
    }
    let Some(pusher) = pusher else {
        return freed;
    };
    candidates.sort_by_key(|c| c.connected_at);
    candidates.truncate(MAX_PROBES);
    let probes = candidates.iter().map(|c| async move {
        match pusher.alive(&c.id).await {
            Ok(false) => match app.store.remove_connection(&c.id).await {
                Ok(removed) => {
                    announce_leaves(app, pusher, &c.id, &removed).await;
                    tracing::info!(connection = %c.id, user, "reaped a gone connection at the limit");
                    1
                }
                Err(e) => {
                    tracing::warn!(connection = %c.id, error = %e, "could not remove a gone holder");
                    0
                }
            },
            Ok(true) => 0,
            Err(e) => {
                tracing::warn!(connection = %c.id, error = %e, "GetConnection failed; holder kept");
                0
            }
        }
    });
    freed
        + futures::future::join_all(probes)
            .await
            .into_iter()
            .sum::<usize>()
}
