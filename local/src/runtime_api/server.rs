//! The Runtime API itself: `next` hands a process its instance's next
//! event; `response`/`error` complete the pending invocation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{Response, StatusCode};
use tokio::sync::{mpsc, oneshot};

/// One event handed to a process.
pub(super) struct Job {
    pub(super) request_id: String,
    pub(super) body: Vec<u8>,
    pub(super) deadline_ms: u64,
    pub(super) function_arn: String,
}

/// How an invocation ended.
pub(super) enum Outcome {
    Response(Vec<u8>),
    Error(String),
}

/// One running function process.
pub(super) struct Instance {
    pub(super) function: String,
    pub(super) jobs: mpsc::Sender<Job>,
    pub(super) next: tokio::sync::Mutex<mpsc::Receiver<Job>>,
    pub(super) pid: Option<u32>,
    pub(super) kill: Mutex<Option<oneshot::Sender<()>>>,
    pub(super) started: std::time::Instant,
    /// Spawn → first `/next`: the init duration.
    pub(super) init: Mutex<Option<Duration>>,
}

#[derive(Default)]
pub(super) struct Shared {
    pub(super) instances: Mutex<HashMap<u64, Arc<Instance>>>,
    pub(super) pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    pub(super) spawned: Mutex<HashMap<String, u64>>,
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r
}

pub(super) async fn next(
    State(s): State<Arc<Shared>>,
    Path(instance): Path<u64>,
) -> Response<Body> {
    let Some(inst) = s
        .instances
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&instance)
        .cloned()
    else {
        return text(StatusCode::NOT_FOUND, "unknown instance");
    };
    {
        let mut init = inst.init.lock().unwrap_or_else(|p| p.into_inner());
        if init.is_none() {
            *init = Some(inst.started.elapsed());
        }
    }
    let mut rx = inst.next.lock().await;
    let Some(job) = rx.recv().await else {
        return text(StatusCode::GONE, "shutting down");
    };
    let mut r = Response::new(Body::from(job.body));
    let h = r.headers_mut();
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = v.parse() {
            h.insert(k, v);
        }
    };
    set("lambda-runtime-aws-request-id", job.request_id);
    set("lambda-runtime-deadline-ms", job.deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", job.function_arn);
    set("content-type", "application/json".into());
    r
}

fn finish(s: &Shared, request_id: &str, outcome: Outcome) -> Response<Body> {
    match s
        .pending
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(request_id)
    {
        Some(tx) => {
            let _ = tx.send(outcome);
            text(StatusCode::ACCEPTED, "")
        }
        None => text(StatusCode::BAD_REQUEST, "unknown or finished request"),
    }
}

pub(super) async fn response(
    State(s): State<Arc<Shared>>,
    Path((_, request_id)): Path<(u64, String)>,
    body: Bytes,
) -> Response<Body> {
    finish(&s, &request_id, Outcome::Response(body.to_vec()))
}

pub(super) async fn error(
    State(s): State<Arc<Shared>>,
    Path((_, request_id)): Path<(u64, String)>,
    body: Bytes,
) -> Response<Body> {
    finish(
        &s,
        &request_id,
        Outcome::Error(String::from_utf8_lossy(&body).into_owned()),
    )
}

pub(super) async fn init_error(Path(instance): Path<u64>, body: Bytes) -> Response<Body> {
    eprintln!(
        "wsfn-local: instance {instance} failed to start: {}",
        String::from_utf8_lossy(&body)
    );
    text(StatusCode::ACCEPTED, "")
}
