//! The `@connections` management API on the gateway's own port, with or
//! without the `/{stage}` prefix: POST sends a frame, GET describes the
//! connection, DELETE closes it. Errors carry `x-amzn-ErrorType` so the real
//! aws-sdk-apigatewaymanagement client classifies them as in AWS. Optional
//! injected latency and failures make it behave like the real API under load,
//! and `--management-rps` applies the account's @connections rate limit
//! (API Gateway: 10,000 rps per account and region, 429 beyond).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Response, StatusCode};
use serde_json::json;

use crate::connections::{Handle, Outbound, QueueError};
use crate::gateway::{Gateway, MAX_MESSAGE_BYTES};
use crate::virtuals::Virtuals;

/// A token bucket: `rate` requests a second, bursts of a tenth of that.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        let capacity = (rate / 10.0).max(1.0);
        Self {
            rate,
            capacity,
            tokens: capacity,
            at: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.capacity);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The management API's state: the gateway, injected behaviour, the
/// account throttle and the virtual subscribers' counts.
#[derive(Debug)]
pub struct Surface {
    gw: Arc<Gateway>,
    faults: Faults,
    throttle: Option<Mutex<Bucket>>,
    /// Counts POSTs to virtual subscribers, when they are enabled.
    pub virtuals: Option<Arc<Virtuals>>,
    /// Requests refused by the account throttle.
    pub throttled: std::sync::atomic::AtomicU64,
    /// `message` frames the delivery-drop fault swallowed.
    pub dropped: std::sync::atomic::AtomicU64,
    /// `wsfn-local invoke`: frames POSTed to connections without a socket,
    /// answered 200 and kept here to be shown.
    pub captured: Option<Mutex<Vec<(String, String)>>>,
}

impl Surface {
    /// The management API of `gw`; `rps` emulates the account's
    /// @connections rate limit (429 beyond it).
    pub fn new(gw: Arc<Gateway>, faults: Faults, rps: Option<u32>, virtuals: bool) -> Self {
        Self {
            gw,
            faults,
            throttle: rps.map(|r| Mutex::new(Bucket::new(r))),
            virtuals: virtuals.then(|| Arc::new(Virtuals::default())),
            throttled: Default::default(),
            dropped: Default::default(),
            captured: None,
        }
    }

    /// Keeps frames sent to connections that have no socket (`invoke`).
    pub fn capturing(mut self) -> Self {
        self.captured = Some(Mutex::new(Vec::new()));
        self
    }

    /// `Some(429)` when the account throttle refuses this request.
    fn over_limit(&self) -> Option<Response<Body>> {
        let bucket = self.throttle.as_ref()?;
        if bucket.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return None;
        }
        self.throttled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(aws_error(
            StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException",
            "Rate exceeded",
        ))
    }

    fn virtual_id(&self, id: &str) -> Option<&Virtuals> {
        self.virtuals
            .as_deref()
            .filter(|_| Virtuals::is_virtual(id))
    }
}

/// Injected behaviour of POST @connections (benchmarks, failure drills).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// Added to every POST before it is answered.
    pub latency: Duration,
    /// Share of POSTs answered 410 GoneException (the socket stays open).
    pub gone: f64,
    /// Share answered 429 LimitExceededException.
    pub throttle: f64,
    /// Share answered 500 InternalServerErrorException.
    pub error: f64,
    /// Share of `message` frames answered 200 and never delivered (a lossy
    /// path: clients must find the gap by `seq` and fill it from history).
    pub drop_messages: f64,
}

/// An error answer in the management API's wire shape.
struct AwsError {
    status: StatusCode,
    kind: &'static str,
    message: &'static str,
}

impl AwsError {
    fn response(&self) -> Response<Body> {
        aws_error(self.status, self.kind, self.message)
    }
}

fn aws_error(status: StatusCode, kind: &str, message: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(json!({"message": message}).to_string()));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(kind) {
        r.headers_mut().insert("x-amzn-ErrorType", v);
    }
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

/// API Gateway refuses an unsigned management call with 403; so does this
/// emulator (it does not verify the signature, only that one is there), so
/// a client that forgets to sign fails here as it would in AWS.
fn unsigned(headers: &axum::http::HeaderMap) -> Option<Response<Body>> {
    let signed = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 Credential="))
        && headers.contains_key("x-amz-date");
    (!signed).then(|| {
        aws_error(
            StatusCode::FORBIDDEN,
            "ForbiddenException",
            "Missing Authentication Token",
        )
    })
}

/// Splits `{stage}`/`{id}` path parameters; a wrong stage is a 403 as in AWS.
fn target(gw: &Gateway, params: &HashMap<String, String>) -> Result<String, AwsError> {
    if let Some(stage) = params.get("stage") {
        if stage != &gw.opts.stage {
            return Err(AwsError {
                status: StatusCode::FORBIDDEN,
                kind: "ForbiddenException",
                message: "Forbidden",
            });
        }
    }
    params.get("id").cloned().ok_or(AwsError {
        status: StatusCode::BAD_REQUEST,
        kind: "BadRequestException",
        message: "missing connection id",
    })
}

/// The open connection a request names, or the error AWS answers with.
fn connection(gw: &Gateway, params: &HashMap<String, String>) -> Result<Handle, AwsError> {
    let id = target(gw, params)?;
    gw.connections.get(&id).ok_or(AwsError {
        status: StatusCode::GONE,
        kind: "GoneException",
        message: "",
    })
}

/// POST: PostToConnection.
pub async fn post(
    State(surface): State<Arc<Surface>>,
    Path(params): Path<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response<Body> {
    if let Some(refused) = unsigned(&headers) {
        return refused;
    }
    let (gw, faults) = (&surface.gw, surface.faults);
    let id = match target(gw, &params) {
        Ok(id) => id,
        Err(e) => return e.response(),
    };
    if let Some(refused) = surface.over_limit() {
        return refused;
    }
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if faults.gone + faults.throttle + faults.error > 0.0 {
        let roll: f64 = rand::random();
        if roll < faults.gone {
            return aws_error(StatusCode::GONE, "GoneException", "injected");
        } else if roll < faults.gone + faults.throttle {
            return aws_error(
                StatusCode::TOO_MANY_REQUESTS,
                "LimitExceededException",
                "injected",
            );
        } else if roll < faults.gone + faults.throttle + faults.error {
            return aws_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerErrorException",
                "injected",
            );
        }
    }
    if body.len() > MAX_MESSAGE_BYTES {
        return aws_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeException",
            "Message too long",
        );
    }
    if let Some(v) = surface.virtual_id(&id) {
        v.record(&id);
        return empty(StatusCode::OK);
    }
    let Some(handle) = gw.connections.get(&id) else {
        if let Some(captured) = &surface.captured {
            let text = String::from_utf8_lossy(&body).into_owned();
            captured
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((id, text));
            return empty(StatusCode::OK);
        }
        return aws_error(StatusCode::GONE, "GoneException", "");
    };
    if faults.drop_messages > 0.0
        && is_message(&body)
        && rand::random::<f64>() < faults.drop_messages
    {
        surface
            .dropped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return empty(StatusCode::OK);
    }
    let frame = match String::from_utf8(body.to_vec()) {
        Ok(text) => Outbound::Text(text),
        Err(e) => Outbound::Binary(e.into_bytes()),
    };
    match handle.send(frame) {
        Ok(()) => empty(StatusCode::OK),
        Err(QueueError::Full) => aws_error(
            StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException",
            "the client is not reading: its buffer is full",
        ),
        Err(QueueError::Gone) => aws_error(StatusCode::GONE, "GoneException", ""),
    }
}

/// Whether a pushed frame is a `message` (what the delivery-drop fault drops).
fn is_message(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("message"))
}

/// GET: GetConnection.
pub async fn get(
    State(surface): State<Arc<Surface>>,
    Path(params): Path<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Response<Body> {
    if let Some(refused) = unsigned(&headers).or_else(|| surface.over_limit()) {
        return refused;
    }
    let h = match connection(&surface.gw, &params) {
        Ok(h) => h,
        Err(e) => return e.response(),
    };
    let mut identity = json!({"sourceIp": h.source_ip});
    if let Some(ua) = &h.user_agent {
        identity["userAgent"] = json!(ua);
    }
    let body = json!({
        "connectedAt": wsfn::time::format_iso(h.connected_at),
        "lastActiveAt": wsfn::time::format_iso(h.last_active_ms()),
        "identity": identity,
    });
    let mut r = Response::new(Body::from(body.to_string()));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

/// DELETE: DeleteConnection (closes the socket; `$disconnect` follows).
pub async fn delete(
    State(surface): State<Arc<Surface>>,
    Path(params): Path<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Response<Body> {
    if let Some(refused) = unsigned(&headers).or_else(|| surface.over_limit()) {
        return refused;
    }
    match connection(&surface.gw, &params) {
        Ok(h) if h.close(1000, "Connection Closed Normally") => empty(StatusCode::NO_CONTENT),
        Err(e) => e.response(),
        _ => aws_error(StatusCode::GONE, "GoneException", ""),
    }
}
