//! The WebSocket front door with API Gateway's semantics: the upgrade waits
//! for `$connect` (non-2xx rejects it with that status, response headers pass
//! through), route selection on `$request.body.<path>`, frame and message
//! limits (1009), binary frames (1003), idle timeout and maximum duration
//! (1001), and `$disconnect` with status code and reason, exactly once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Response, StatusCode};
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch, Notify};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use wsfn::events::{self, ConnectionInfo};

use crate::connections::{Close, Connections, Handle, Outbound, OUTBOUND_QUEUE};
use crate::console::Console;
use crate::ids;
use crate::invoker::Invoker;
use crate::template::ApiSpec;

/// API Gateway's frame limit (32 KB) and message limit (128 KB).
pub const MAX_FRAME_BYTES: usize = 32 * 1024;
/// Largest message (and management POST payload).
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// Timeouts and identity of the emulated stage.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Close after this long without an inbound data frame (AWS: 10 min).
    pub idle_timeout: Duration,
    /// Close after this long regardless (AWS: 2 h).
    pub max_duration: Duration,
    /// Stage name in events and management paths (`local`).
    pub stage: String,
    /// `requestContext.domainName` (`127.0.0.1:3001`).
    pub domain: String,
    /// Failure drill: the first N invocations of a function (logical id)
    /// through the Lambda Invoke API fail as a crashed function would.
    pub fail_invocations: HashMap<String, u32>,
    /// Asynchronous (`Event`) invocations of one function running at once;
    /// the rest wait in its queue, as Lambda's do at a concurrency limit.
    pub async_concurrency: usize,
}

/// Shared state of the emulator.
pub struct Gateway {
    /// Routes and functions from the template.
    pub spec: ApiSpec,
    /// Runs the functions.
    pub invoker: Arc<dyn Invoker>,
    /// Open sockets.
    pub connections: Connections,
    /// Timeouts and stage.
    pub opts: GatewayOptions,
    /// Developer log.
    pub console: Console,
    failures_left: std::sync::Mutex<HashMap<String, u32>>,
    invocations: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    async_slots: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    shutdown: watch::Sender<bool>,
    active: AtomicUsize,
    drained: Notify,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("opts", &self.opts)
            .field("connections", &self.connections.len())
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway serving `spec` through `invoker`.
    pub fn new(
        spec: ApiSpec,
        invoker: Arc<dyn Invoker>,
        opts: GatewayOptions,
        console: Console,
    ) -> Self {
        let invocations = spec.functions.keys().map(|f| (f.clone(), 0)).collect();
        Self {
            spec,
            invoker,
            connections: Connections::default(),
            failures_left: std::sync::Mutex::new(opts.fail_invocations.clone()),
            invocations: std::sync::Mutex::new(invocations),
            async_slots: Default::default(),
            opts,
            console,
            shutdown: watch::channel(false).0,
            active: AtomicUsize::new(0),
            drained: Notify::new(),
        }
    }

    /// A slot to run one asynchronous invocation of `function` (waits while
    /// `async_concurrency` of them run).
    pub async fn async_slot(&self, function: &str) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let sem = self
            .async_slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(function.to_string())
            .or_insert_with(|| {
                Arc::new(tokio::sync::Semaphore::new(
                    self.opts.async_concurrency.max(1),
                ))
            })
            .clone();
        sem.acquire_owned().await.ok()
    }

    /// Sockets whose `$disconnect` has not finished yet (open ones
    /// included), and handshakes whose `$connect` — or the `$disconnect` of
    /// a client that left during it — is still running: 0 means no handler
    /// is at work for any connection.
    pub fn sessions(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    fn session_done(&self) {
        if self.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.drained.notify_waiters();
        }
    }

    /// Counts one invocation of `function` (logical id), as Lambda's
    /// `Invocations` metric does: every attempt, failed ones included.
    pub fn count_invocation(&self, function: &str) {
        *self
            .invocations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(function.to_string())
            .or_default() += 1;
    }

    /// Invocations per function (logical id) since start; every function of
    /// the template is listed, with 0 when it never ran.
    pub fn invocations(&self) -> std::collections::BTreeMap<String, u64> {
        self.invocations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether this invocation of `function` is one the failure drill
    /// makes fail (counting it down).
    pub fn inject_failure(&self, function: &str) -> bool {
        let mut left = self.failures_left.lock().unwrap_or_else(|p| p.into_inner());
        match left.get_mut(function) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// Closes every socket with 1001 and waits (bounded) until each one's
    /// `$disconnect` has run.
    pub async fn shutdown(&self, wait: Duration) {
        let _ = self.shutdown.send(true);
        self.connections.close_all(1001, "Going away");
        let deadline = tokio::time::Instant::now() + wait;
        while self.active.load(Ordering::SeqCst) > 0 {
            let notified = self.drained.notified();
            if self.active.load(Ordering::SeqCst) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
    }

    fn info(&self, connection_id: &str, connected_at: u64, source_ip: &str) -> ConnectionInfo {
        ConnectionInfo {
            connection_id: connection_id.to_string(),
            domain_name: self.opts.domain.clone(),
            stage: self.opts.stage.clone(),
            api_id: self.spec.api_id.to_lowercase(),
            connected_at,
            source_ip: source_ip.to_string(),
        }
    }

    /// Invokes the function behind `route`; `None` when there is no such route.
    async fn invoke(
        &self,
        route: &str,
        connection: &str,
        event: Value,
    ) -> Option<Result<ApiGatewayProxyResponse, String>> {
        let function = self.spec.routes.get(route)?;
        self.count_invocation(&function.logical_id);
        let started = Instant::now();
        let result = self
            .invoker
            .invoke(&function.logical_id, event)
            .await
            .map_err(|e| e.to_string());
        let status = match &result {
            Ok(r) => r.status_code.to_string(),
            Err(_) => "error".to_string(),
        };
        self.console
            .event(route, connection, &status, started.elapsed());
        if let Err(e) = &result {
            self.console.note(&format!("{route} failed: {e}"));
        }
        Some(result)
    }

    /// Which route a text frame selects: `$request.body.<path>` if it names
    /// a route, else `$default` (also for non-JSON bodies), else none.
    pub fn select_route(&self, body: &str) -> Option<String> {
        let selected = serde_json::from_str::<Value>(body).ok().and_then(|v| {
            let mut cur = &v;
            for part in self.spec.selection_path() {
                cur = cur.get(&part)?;
            }
            cur.as_str().map(str::to_string)
        });
        match selected {
            Some(key) if !key.starts_with('$') && self.has_route(&key) => Some(key),
            _ => self.has_route("$default").then(|| "$default".to_string()),
        }
    }

    fn has_route(&self, key: &str) -> bool {
        self.spec.routes.contains_key(key) || self.spec.mocks.contains_key(key)
    }

    /// Answers a frame on a `MOCK` route as API Gateway does: the rendered
    /// route response, nothing for a one-way route, `Internal server error`
    /// when the integration is misconfigured. No function runs.
    fn answer_mock(
        &self,
        route: &str,
        mock: &crate::template::MockRoute,
        info: &ConnectionInfo,
        request_id: &str,
        now: u64,
    ) -> Option<String> {
        let started = Instant::now();
        let message_id = ids::message_id();
        let context = |name: &str| -> Option<String> {
            Some(match name {
                "apiId" => info.api_id.clone(),
                "connectedAt" => info.connected_at.to_string(),
                "connectionId" => info.connection_id.clone(),
                "domainName" => info.domain_name.clone(),
                "eventType" => "MESSAGE".into(),
                "extendedRequestId" | "requestId" => request_id.to_string(),
                "identity.sourceIp" => info.source_ip.clone(),
                "messageId" => message_id.clone(),
                "requestTime" => wsfn::time::format_clf(now),
                "requestTimeEpoch" => now.to_string(),
                "routeKey" => route.to_string(),
                "stage" => info.stage.clone(),
                _ => return None,
            })
        };
        let result = mock.answer(&context);
        let status = match &result {
            Ok(_) => "mock".to_string(),
            Err(e) => {
                self.console
                    .note(&format!("{route} ({}): {e}", mock.integration));
                "error".to_string()
            }
        };
        self.console
            .event(route, &info.connection_id, &status, started.elapsed());
        match result {
            Ok(body) => body,
            Err(_) => Some(
                json!({"message": "Internal server error", "connectionId": info.connection_id, "requestId": request_id})
                    .to_string(),
            ),
        }
    }
}

/// API Gateway sends header names as the client wrote them; hyper lowercases
/// them, so restore the conventional capitalisation.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| match part {
            "websocket" => "WebSocket".to_string(),
            p => {
                let mut c = p.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(text.to_string()));
    *r.status_mut() = status;
    r
}

/// `GET /` with an upgrade: runs `$connect`, then upgrades or rejects.
pub async fn upgrade(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
) -> Response<Body> {
    let h = req.headers();
    let has_token = |name: header::HeaderName, token: &str| {
        h.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|p| p.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        return plain(
            StatusCode::UPGRADE_REQUIRED,
            "wsfn-local serves WebSocket upgrades on /",
        );
    }
    let Some(key) = h
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| derive_accept_key(k.as_bytes()))
    else {
        return plain(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key");
    };
    if h.get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        != Some("13")
    {
        return plain(StatusCode::BAD_REQUEST, "unsupported Sec-WebSocket-Version");
    }
    let headers: Vec<(String, String)> = h
        .iter()
        .filter_map(|(k, v)| Some((title_case(k.as_str()), v.to_str().ok()?.to_string())))
        .collect();
    let user_agent = h
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();

    let id = ids::connection_id();
    let connected_at = wsfn::time::now_millis();
    let source_ip = peer.ip().to_string();
    let info = gw.info(&id, connected_at, &source_ip);
    let mut response = Response::new(Body::empty());
    let event = events::connect_json(&info, &headers, &query, &ids::request_id(), connected_at);
    let (result, taken) = connect_to_completion(&gw, &info, event).await;
    if let Some(result) = result {
        match result {
            Ok(r) if (200..300).contains(&r.status_code) => {
                for (k, v) in &r.headers {
                    response.headers_mut().insert(k.clone(), v.clone());
                }
            }
            Ok(r) => {
                let status = u16::try_from(r.status_code)
                    .ok()
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return plain(status, status.canonical_reason().unwrap_or_default());
            }
            Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
        }
    }
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    let (close_tx, close_rx) = mpsc::unbounded_channel();
    let last_active = Arc::new(AtomicU64::new(connected_at));
    gw.connections.insert(
        id.clone(),
        Handle {
            tx,
            close: close_tx,
            connected_at,
            last_active: last_active.clone(),
            source_ip: source_ip.clone(),
            user_agent,
        },
    );
    gw.active.fetch_add(1, Ordering::SeqCst);
    let on_upgrade = hyper::upgrade::on(&mut req);
    let gw2 = gw.clone();
    tokio::spawn(async move {
        let (code, reason) = match on_upgrade.await {
            Ok(upgraded) => {
                let queues = Queues {
                    frames: rx,
                    close: close_rx,
                };
                run_socket(&gw2, &info, TokioIo::new(upgraded), queues, last_active).await
            }
            Err(e) => (1006, format!("upgrade failed: {e}")),
        };
        gw2.connections.remove(&info.connection_id);
        let event = events::disconnect_json(
            &info,
            code,
            &reason,
            &ids::request_id(),
            wsfn::time::now_millis(),
        );
        gw2.console
            .note(&format!("{} closed {code} {reason}", info.connection_id));
        gw2.invoke("$disconnect", &info.connection_id, event).await;
        gw2.session_done();
    });
    // The socket task owns the connection now (its `$disconnect` included).
    let _ = taken.send(());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let rh = response.headers_mut();
    rh.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    rh.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&key) {
        rh.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    response
}

/// Runs `$connect` as API Gateway does: to completion, whether or not the
/// client is still waiting (a Lambda invocation is never cancelled). "Until
/// execution of the integration associated with the $connect route is
/// completed, the upgrade request is pending" (API Gateway developer guide,
/// "$connect and $disconnect routes"): a client that leaves meanwhile leaves
/// a connection its function admitted; API Gateway then closes it, and its
/// `$disconnect` runs (1006) as for any lost connection — so nothing it
/// wrote is left. Returns the result, and a sender the caller fires once its
/// socket task owns the connection; if the caller is dropped first (the
/// client went away), the connection is closed here.
async fn connect_to_completion(
    gw: &Arc<Gateway>,
    info: &ConnectionInfo,
    event: Value,
) -> (
    Option<Result<ApiGatewayProxyResponse, String>>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let (taken_tx, taken_rx) = tokio::sync::oneshot::channel::<()>();
    let (gw2, info2) = (gw.clone(), info.clone());
    // Counted until this task ends (the socket, if upgraded, counts itself).
    gw.active.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        let result = gw2.invoke("$connect", &info2.connection_id, event).await;
        let admitted = matches!(&result, Some(Ok(r)) if (200..300).contains(&r.status_code));
        let _ = done_tx.send(result);
        if admitted && taken_rx.await.is_err() {
            gw2.console.note(&format!(
                "{} left during $connect; closing the connection its function admitted",
                info2.connection_id
            ));
            let event = events::disconnect_json(
                &info2,
                1006,
                "Connection lost before the upgrade",
                &ids::request_id(),
                wsfn::time::now_millis(),
            );
            gw2.invoke("$disconnect", &info2.connection_id, event).await;
        }
        gw2.session_done();
    });
    let result = done_rx
        .await
        .unwrap_or(Some(Err("$connect task failed".into())));
    (result, taken_tx)
}

/// What the rest of the gateway sends a socket task.
struct Queues {
    frames: mpsc::Receiver<Outbound>,
    close: mpsc::UnboundedReceiver<Close>,
}

/// Writes queued frames until the queue closes or a write fails (returns
/// why). It runs apart from the reader and the timers, so a client that
/// stops reading blocks only this task: idle timeout, maximum duration,
/// DELETE @connections and shutdown still close the socket.
async fn write_loop<W>(
    sink: Arc<tokio::sync::Mutex<W>>,
    mut frames: mpsc::Receiver<Outbound>,
) -> String
where
    W: futures::Sink<Message, Error = WsError> + Unpin,
{
    while let Some(frame) = frames.recv().await {
        let msg = match frame {
            Outbound::Text(t) => Message::Text(t.into()),
            Outbound::Binary(b) => Message::Binary(b.into()),
        };
        if let Err(e) = sink.lock().await.send(msg).await {
            return e.to_string();
        }
    }
    "queue closed".into()
}

/// Drives one socket until it closes; returns the close code and reason for
/// `$disconnect`.
async fn run_socket<S>(
    gw: &Arc<Gateway>,
    info: &ConnectionInfo,
    io: S,
    queues: Queues,
    last_active: Arc<AtomicU64>,
) -> (u16, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut config = WebSocketConfig::default();
    config.max_frame_size = Some(MAX_FRAME_BYTES);
    config.max_message_size = Some(MAX_MESSAGE_BYTES);
    // Small per-socket buffers: 10,000 idle sockets should not cost 2.5 GB.
    config.read_buffer_size = 8 * 1024;
    config.write_buffer_size = 0;
    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    let (sink, mut stream) = ws.split();
    let sink = Arc::new(tokio::sync::Mutex::new(sink));
    let mut writer = tokio::spawn(write_loop(sink.clone(), queues.frames));
    let mut close_rx = queues.close;
    let mut shutdown = gw.shutdown.subscribe();
    let hard_deadline = tokio::time::Instant::now() + gw.opts.max_duration;
    let mut idle_deadline = tokio::time::Instant::now() + gw.opts.idle_timeout;
    let going_away = || (1001, "Going away".to_string(), true);
    let (code, reason, send_close) = loop {
        tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    last_active.store(wsfn::time::now_millis(), Ordering::Relaxed);
                    idle_deadline = tokio::time::Instant::now() + gw.opts.idle_timeout;
                    spawn_route(gw.clone(), info.clone(), text.to_string());
                }
                Some(Ok(Message::Binary(_))) => break (1003, "Binary frames are not supported".to_string(), true),
                Some(Ok(Message::Close(frame))) => {
                    let (c, r) = frame.map_or((1005, String::new()), |f| (u16::from(f.code), f.reason.to_string()));
                    break (c, r, false);
                }
                Some(Ok(_)) => {}
                Some(Err(WsError::Capacity(_))) => break (1009, "Message too big".to_string(), true),
                Some(Err(e)) => break (1006, e.to_string(), false),
                None => break (1006, "Connection lost".to_string(), false),
            },
            cmd = close_rx.recv() => match cmd {
                Some((c, r)) => break (c, r, true),
                None => break going_away(),
            },
            why = &mut writer => break (1006, why.unwrap_or_else(|e| e.to_string()), false),
            _ = tokio::time::sleep_until(idle_deadline) => break going_away(),
            _ = tokio::time::sleep_until(hard_deadline) => break going_away(),
            _ = shutdown.changed() => break going_away(),
        }
    };
    // A writer stuck on a client that does not read is abandoned here.
    writer.abort();
    let bounded = Duration::from_secs(1);
    if send_close {
        let frame = Message::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.clone().into(),
        }));
        if let Ok(mut sink) = tokio::time::timeout(bounded, sink.lock()).await {
            let _ = tokio::time::timeout(bounded, sink.send(frame)).await;
        }
        // Give the client a moment to answer the close handshake (bounded).
        let _ = tokio::time::timeout(bounded, async {
            while let Some(Ok(m)) = stream.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    } else if let Ok(mut sink) = tokio::time::timeout(bounded, sink.lock()).await {
        let _ = tokio::time::timeout(bounded, sink.close()).await;
    }
    (code, reason)
}

/// Routes one text frame to its function (concurrently, as API Gateway does)
/// and answers like API Gateway when no route matches or the function fails.
fn spawn_route(gw: Arc<Gateway>, info: ConnectionInfo, body: String) {
    tokio::spawn(async move {
        let request_id = ids::request_id();
        let reply = |message: &str| {
            json!({"message": message, "connectionId": info.connection_id, "requestId": request_id})
                .to_string()
        };
        let Some(route) = gw.select_route(&body) else {
            if let Some(h) = gw.connections.get(&info.connection_id) {
                let _ = h.send(Outbound::Text(reply("Forbidden")));
            }
            return;
        };
        if let Some(mock) = gw.spec.mocks.get(&route) {
            let now = wsfn::time::now_millis();
            if let Some(frame) = gw.answer_mock(&route, mock, &info, &request_id, now) {
                if let Some(h) = gw.connections.get(&info.connection_id) {
                    let _ = h.send(Outbound::Text(frame));
                }
            }
            return;
        }
        let event = events::message_json(
            &info,
            &route,
            &body,
            &ids::message_id(),
            &request_id,
            wsfn::time::now_millis(),
        );
        if let Some(Err(_)) = gw.invoke(&route, &info.connection_id, event).await {
            if let Some(h) = gw.connections.get(&info.connection_id) {
                let _ = h.send(Outbound::Text(reply("Internal server error")));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_case() {
        assert_eq!(
            super::title_case("sec-websocket-protocol"),
            "Sec-WebSocket-Protocol"
        );
        assert_eq!(super::title_case("x-forwarded-for"), "X-Forwarded-For");
        assert_eq!(super::title_case("host"), "Host");
    }
}
