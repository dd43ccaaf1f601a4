//! EventBridge's `PutEvents` on the gateway's port (`POST /` with
//! `X-Amz-Target: AWSEvents.PutEvents`), so the functions' real SDK client
//! (`AWS_ENDPOINT_URL_EVENTBRIDGE`) sends their events here: each is
//! printed, kept for inspection ([`EventsApi::received`]), and with
//! `--events-webhook URL` POSTed there, shaped as EventBridge delivers an
//! event to a target (`version`, `id`, `detail-type`, `source`, `account`,
//! `time`, `region`, `resources`, `detail`), in order.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::console::Console;

/// Events kept for inspection (the oldest are dropped beyond it).
const KEEP: usize = 10_000;
/// EventBridge takes at most this many entries per call.
const MAX_ENTRIES: usize = 10;

/// The endpoint's state.
#[derive(Debug)]
pub struct EventsApi {
    console: Console,
    region: String,
    received: Mutex<Vec<Value>>,
    webhook: Option<mpsc::UnboundedSender<Value>>,
}

impl EventsApi {
    /// An endpoint that prints to `console` and forwards to `webhook`.
    pub fn new(console: Console, region: &str, webhook: Option<String>) -> Arc<Self> {
        let webhook = webhook.map(|url| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(forward(url, rx, console));
            tx
        });
        Arc::new(Self {
            console,
            region: region.to_string(),
            received: Mutex::new(Vec::new()),
            webhook,
        })
    }

    /// Every event received so far (as delivered to a target), oldest first.
    pub fn received(&self) -> Vec<Value> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// POSTs each event to the webhook, in order; failures are printed.
async fn forward(url: String, mut rx: mpsc::UnboundedReceiver<Value>, console: Console) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<Bytes>>();
    while let Some(event) = rx.recv().await {
        let request = hyper::Request::post(url.as_str())
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(Bytes::from(event.to_string())));
        let outcome = match request {
            Ok(r) => match client.request(r).await {
                Ok(resp) if resp.status().is_success() => continue,
                Ok(resp) => format!("HTTP {}", resp.status()),
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        console.note(&format!("events webhook {url}: {outcome}"));
    }
}

fn validation(message: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(
        json!({"__type": "ValidationException", "message": message}).to_string(),
    ));
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    r
}

/// `POST /` (`AWSEvents.PutEvents`).
pub async fn put_events(
    State(api): State<Arc<EventsApi>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if target != "AWSEvents.PutEvents" {
        return validation(&format!("unsupported operation `{target}`"));
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return validation(&format!("not JSON: {e}")),
    };
    let Some(entries) = request["Entries"].as_array() else {
        return validation("Entries is required");
    };
    if entries.is_empty() || entries.len() > MAX_ENTRIES {
        return validation("Entries holds 1 to 10 entries");
    }
    let mut results = Vec::with_capacity(entries.len());
    let mut failed = 0;
    for entry in entries {
        let detail = entry["Detail"]
            .as_str()
            .and_then(|d| serde_json::from_str::<Value>(d).ok());
        let (Some(source), Some(kind), Some(detail)) = (
            entry["Source"].as_str(),
            entry["DetailType"].as_str(),
            detail,
        ) else {
            failed += 1;
            results.push(json!({"ErrorCode": "InvalidArgument",
                "ErrorMessage": "Source, DetailType and a JSON Detail are required"}));
            continue;
        };
        let id = format!("{:032x}", rand::random::<u128>());
        let event = json!({
            "version": "0",
            "id": id,
            "detail-type": kind,
            "source": source,
            "account": "000000000000",
            "time": wsfn::time::format_iso_secs(wsfn::time::now_millis()),
            "region": api.region,
            "resources": [],
            "detail": detail,
        });
        api.console
            .note(&format!("event {kind} {}", event["detail"]));
        if let Ok(mut r) = api.received.lock() {
            if r.len() >= KEEP {
                r.remove(0);
            }
            r.push(event.clone());
        }
        if let Some(tx) = &api.webhook {
            let _ = tx.send(event);
        }
        results.push(json!({"EventId": id}));
    }
    let mut r = Response::new(Body::from(
        json!({"FailedEntryCount": failed, "Entries": results}).to_string(),
    ));
    r.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    r
}

#[cfg(test)]
mod tests {
    use wsfn::time::format_iso_secs;

    #[test]
    fn event_times() {
        assert_eq!(format_iso_secs(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_iso_secs(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(format_iso_secs(1_796_630_400_999), "2026-12-07T08:00:00Z");
    }
}
