//! Emulator support (feature `emulator`): API Gateway WebSocket event
//! shapes (as AWS sends them to Lambda), built in one place for the local
//! gateway, the sample-event tests and unit tests, and the dev secret.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::handlers::WsEvent;

/// The dev secret the local gateway uses when `JWT_SECRET` is unset.
pub const DEV_SECRET: &str = "wsfn-local-dev-secret";

/// What every event of one connection shares.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// Connection id (API Gateway style, may contain `=`).
    pub connection_id: String,
    /// `requestContext.domainName` (`localhost:3001` locally).
    pub domain_name: String,
    /// `requestContext.stage`.
    pub stage: String,
    /// `requestContext.apiId`.
    pub api_id: String,
    /// Connection open time, ms.
    pub connected_at: u64,
    /// Client IP.
    pub source_ip: String,
}

fn context(
    info: &ConnectionInfo,
    route_key: &str,
    event_type: &str,
    request_id: &str,
    now_ms: u64,
) -> Map<String, Value> {
    let mut ctx = Map::new();
    ctx.insert("routeKey".into(), json!(route_key));
    ctx.insert("eventType".into(), json!(event_type));
    ctx.insert("extendedRequestId".into(), json!(request_id));
    ctx.insert("requestTime".into(), json!(crate::time::format_clf(now_ms)));
    ctx.insert("messageDirection".into(), json!("IN"));
    ctx.insert("stage".into(), json!(info.stage));
    ctx.insert("connectedAt".into(), json!(info.connected_at));
    ctx.insert("requestTimeEpoch".into(), json!(now_ms));
    ctx.insert("identity".into(), json!({"sourceIp": info.source_ip}));
    ctx.insert("requestId".into(), json!(request_id));
    ctx.insert("domainName".into(), json!(info.domain_name));
    ctx.insert("connectionId".into(), json!(info.connection_id));
    ctx.insert("apiId".into(), json!(info.api_id));
    ctx
}

/// The `$connect` event: headers, multiValueHeaders and query parameters.
pub fn connect_json(
    info: &ConnectionInfo,
    headers: &[(String, String)],
    query: &[(String, String)],
    request_id: &str,
    now_ms: u64,
) -> Value {
    let mut single = Map::new();
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in headers {
        single.insert(k.clone(), json!(v));
        multi.entry(k.clone()).or_default().push(v.clone());
    }
    let mut q = Map::new();
    let mut mq: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in query {
        q.insert(k.clone(), json!(v));
        mq.entry(k.clone()).or_default().push(v.clone());
    }
    let mut event = json!({
        "headers": single,
        "multiValueHeaders": multi,
        "requestContext": context(info, "$connect", "CONNECT", request_id, now_ms),
        "isBase64Encoded": false,
    });
    if !q.is_empty() {
        event["queryStringParameters"] = Value::Object(q);
        event["multiValueQueryStringParameters"] = json!(mq);
    }
    event
}

/// The `$disconnect` event with its status code and reason.
pub fn disconnect_json(
    info: &ConnectionInfo,
    status: u16,
    reason: &str,
    request_id: &str,
    now_ms: u64,
) -> Value {
    let mut ctx = context(info, "$disconnect", "DISCONNECT", request_id, now_ms);
    ctx.insert("disconnectStatusCode".into(), json!(status));
    ctx.insert("disconnectReason".into(), json!(reason));
    json!({
        "headers": {"Host": info.domain_name},
        "multiValueHeaders": {"Host": [info.domain_name]},
        "requestContext": ctx,
        "isBase64Encoded": false,
    })
}

/// A MESSAGE event for `route_key` carrying `body`.
pub fn message_json(
    info: &ConnectionInfo,
    route_key: &str,
    body: &str,
    message_id: &str,
    request_id: &str,
    now_ms: u64,
) -> Value {
    let mut ctx = context(info, route_key, "MESSAGE", request_id, now_ms);
    ctx.insert("messageId".into(), json!(message_id));
    json!({
        "requestContext": ctx,
        "body": body,
        "isBase64Encoded": false,
    })
}

/// Parses any of the above into the handlers' event type (the shapes above
/// always match the struct; a failure would be a bug here).
pub fn parse(v: Value) -> WsEvent {
    serde_json::from_value(v).unwrap_or_default()
}
