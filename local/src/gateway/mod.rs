//! The WebSocket front door with API Gateway's semantics: the upgrade waits
//! for `$connect` (non-2xx rejects it with that status, response headers pass
//! through), route selection on `$request.body.<path>`, frame and message
//! limits (1009), binary frames (1003), idle timeout and maximum duration
//! (1001), and `$disconnect` with status code and reason, exactly once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use serde_json::{json, Value};
use tokio::sync::{watch, Notify};
use wsfn::events::ConnectionInfo;

use crate::connections::Connections;
use crate::console::Console;
use crate::ids;
use crate::invoker::Invoker;
use crate::template::ApiSpec;

mod handshake;
mod socket;

pub use handshake::upgrade;

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
