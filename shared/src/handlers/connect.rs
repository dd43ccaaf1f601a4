//! `$connect`: origin check (403), token verification (401), per-user
//! connection limit (429), then the connection and its personal-channel
//! subscription are stored.

use std::collections::HashMap;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::http::HeaderValue;

use super::{response, WsEvent};
use crate::app::App;
use crate::auth::{header, HandshakeToken, SUBPROTOCOL};
use crate::channel::ChannelName;
use crate::store::{ConnectionRecord, StoreError};
use crate::time::now_millis;

/// Handles `$connect`. A non-2xx status rejects the WebSocket handshake.
pub async fn connect(event: WsEvent, app: &App) -> Result<ApiGatewayProxyResponse, StoreError> {
    let ctx = &event.request_context;
    let Some(connection_id) = ctx.connection_id.clone() else {
        return Ok(response(400, "missing connectionId"));
    };
    let headers: HashMap<String, String> = event
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let origin = header(&headers, "origin");
    if !app.config.allowed_origins.allows(origin) {
        tracing::info!(connection = %connection_id, origin, "origin not allowed");
        return Ok(response(403, "Forbidden"));
    }
    let query: HashMap<String, String> = event
        .query_string_parameters
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let handshake = HandshakeToken::extract(&headers, &query);
    let Some(token) = handshake.token.as_deref() else {
        tracing::info!(connection = %connection_id, "no token");
        return Ok(response(401, "Unauthorized"));
    };
    let principal = match app.config.verifier.verify(token) {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(connection = %connection_id, error = %e, "token refused");
            return Ok(response(401, "Unauthorized"));
        }
    };
    let held = app.store.count_user_connections(&principal.sub).await?;
    if held >= app.config.max_connections_per_user {
        tracing::info!(connection = %connection_id, user = %principal.sub, held, "too many connections");
        return Ok(response(429, "Too Many Requests"));
    }
    let connected_at = u64::try_from(ctx.connected_at)
        .ok()
        .filter(|&t| t > 0)
        .unwrap_or_else(now_millis);
    let record = ConnectionRecord {
        id: connection_id.clone(),
        principal,
        connected_at,
    };
    let ttl = app.config.connection_ttl;
    app.store.put_connection(&record, ttl).await?;
    if let Some(personal) = ChannelName::personal(&record.principal.sub) {
        app.store.subscribe(&record, &personal, ttl).await?;
    }
    tracing::info!(connection = %connection_id, user = %record.principal.sub, "connected");
    let mut r = response(200, "");
    if handshake.offered_subprotocol {
        r.headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
    }
    Ok(r)
}
