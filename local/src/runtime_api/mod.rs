//! `--invoker runtime-api`: the functions run as the binaries `sam build`
//! ships, each a process speaking the Lambda Runtime API to this server
//! (`/2018-06-01/runtime/invocation/next`, `/{id}/response`, `/{id}/error`,
//! `/init/error`) on loopback. One invocation per process at a time; a new
//! process when all are busy (up to `max_instances`); a process that
//! outlives the function's `Timeout` is killed, one that exits is replaced,
//! and the pending request is answered as API Gateway would (an error).
//! Each process has its own path prefix, so `AWS_LAMBDA_RUNTIME_API`
//! carries `http://`.

mod binaries;
mod cpu;
mod process;
mod report;
mod server;

pub use binaries::{build, default_binaries};
pub use cpu::{quota_us, CpuShare};
pub use report::{peak_rss_mb, Report};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{oneshot, Semaphore};

use crate::invoker::{InvokeError, Invoker};
use crate::template::FunctionSpec;

use server::{error, init_error, next, response, Instance, Job, Outcome, Shared};

/// A function's processes.
struct Pool {
    spec: FunctionSpec,
    env: HashMap<String, String>,
    idle: Mutex<Vec<Arc<Instance>>>,
    slots: Arc<Semaphore>,
}

/// Runs the template's functions as processes through the Runtime API.
pub struct RuntimeApiInvoker {
    pools: HashMap<String, Pool>,
    shared: Arc<Shared>,
    api: String,
    binaries: PathBuf,
    quiet: bool,
    cpu_share: bool,
    next_id: AtomicU64,
}

impl std::fmt::Debug for RuntimeApiInvoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApiInvoker")
            .field("api", &self.api)
            .field("binaries", &self.binaries)
            .finish_non_exhaustive()
    }
}

impl RuntimeApiInvoker {
    /// Serves the Runtime API on loopback and prepares one pool per function
    /// (`env` gives each function's environment).
    pub async fn start(
        functions: Vec<(FunctionSpec, HashMap<String, String>)>,
        binaries: PathBuf,
        max_instances: usize,
        quiet: bool,
        cpu_share: bool,
    ) -> Result<Self, String> {
        for (spec, _) in &functions {
            let path = binaries.join(&spec.binary);
            if !path.is_file() {
                return Err(format!(
                    "{} has no binary at {} (cargo build -p {})",
                    spec.logical_id,
                    path.display(),
                    spec.binary
                ));
            }
        }
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/{instance}/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/{instance}/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route(
                "/{instance}/2018-06-01/runtime/invocation/{id}/error",
                post(error),
            )
            .route(
                "/{instance}/2018-06-01/runtime/init/error",
                post(init_error),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| format!("runtime API: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let pools = functions
            .into_iter()
            .map(|(spec, env)| {
                let pool = Pool {
                    env,
                    idle: Mutex::new(vec![]),
                    slots: Arc::new(Semaphore::new(max_instances.max(1))),
                    spec,
                };
                (pool.spec.logical_id.clone(), pool)
            })
            .collect();
        Ok(Self {
            pools,
            shared,
            api: format!("127.0.0.1:{}", addr.port()),
            binaries,
            quiet,
            cpu_share,
            next_id: AtomicU64::new(1),
        })
    }

    /// Processes started so far for `function` (crash and timeout tests).
    pub fn spawned(&self, function: &str) -> u64 {
        self.shared
            .spawned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(function)
            .copied()
            .unwrap_or(0)
    }

    /// Process ids of the live instances of `function`.
    pub fn pids(&self, function: &str) -> Vec<u32> {
        let all = self
            .shared
            .instances
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        all.values()
            .filter(|i| i.function == function)
            .filter_map(|i| i.pid)
            .collect()
    }

    /// Runs one invocation and says what Lambda's REPORT line would.
    pub async fn run_reported(
        &self,
        function: &str,
        event: serde_json::Value,
    ) -> (Result<Vec<u8>, InvokeError>, Option<Report>) {
        let mut report = None;
        let r = self.run(function, event, &mut report).await;
        (r, report)
    }

    async fn run(
        &self,
        function: &str,
        event: serde_json::Value,
        report: &mut Option<Report>,
    ) -> Result<Vec<u8>, InvokeError> {
        let pool = self
            .pools
            .get(function)
            .ok_or_else(|| InvokeError::UnknownFunction(function.into()))?;
        let _slot = pool
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| InvokeError::Function(e.to_string()))?;
        let reused = loop {
            let candidate = pool.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            match candidate {
                Some(i) if self.alive(&i) => break Some(i),
                Some(_) => continue,
                None => break None,
            }
        };
        let cold = reused.is_none();
        let inst = match reused {
            Some(i) => i,
            None => self.spawn(pool)?,
        };
        let handed = std::time::Instant::now();
        let request_id = crate::ids::request_id();
        let deadline_ms = crate::invoker::deadline_ms(pool.spec.timeout);
        let (tx, rx) = oneshot::channel();
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(request_id.clone(), tx);
        let job = Job {
            request_id: request_id.clone(),
            body: serde_json::to_vec(&event).map_err(|e| InvokeError::BadEvent(e.to_string()))?,
            deadline_ms,
            function_arn: format!("arn:aws:lambda:local:000000000000:function:{function}"),
        };
        if inst.jobs.send(job).await.is_err() {
            self.shared
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&request_id);
            return Err(InvokeError::Function("the function process is gone".into()));
        }
        // Wait for the answer, the deadline, or the process's exit.
        let outcome = tokio::select! {
            r = rx => r.ok(),
            _ = tokio::time::sleep(pool.spec.timeout) => None,
            _ = async {
                while self.alive(&inst) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            } => None,
        };
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&request_id);
        let init = *inst.init.lock().unwrap_or_else(|p| p.into_inner());
        // A cold invocation's clock starts once the process asks for work.
        let waited_for_init = match (cold, init) {
            (true, Some(i)) => i.saturating_sub(handed - inst.started),
            _ => Duration::ZERO,
        };
        *report = Some(Report {
            init: if cold { init } else { None },
            duration: handed.elapsed().saturating_sub(waited_for_init),
            max_memory_mb: inst.pid.map_or(0, peak_rss_mb),
            memory_size_mb: pool.spec.memory_mb,
        });
        match outcome {
            Some(Outcome::Response(body)) => {
                pool.idle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(inst);
                Ok(body)
            }
            Some(Outcome::Error(e)) => {
                pool.idle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(inst);
                Err(InvokeError::Function(e))
            }
            None => {
                let timed_out = self.alive(&inst);
                if let Some(kill) = inst.kill.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    let _ = kill.send(());
                }
                Err(InvokeError::Function(if timed_out {
                    format!(
                        "Task timed out after {:.2} seconds",
                        pool.spec.timeout.as_secs_f64()
                    )
                } else {
                    "Runtime exited without providing a reason".into()
                }))
            }
        }
    }
}

#[async_trait]
impl Invoker for RuntimeApiInvoker {
    async fn invoke(
        &self,
        function: &str,
        event: serde_json::Value,
    ) -> Result<ApiGatewayProxyResponse, InvokeError> {
        let body = self.run(function, event, &mut None).await?;
        serde_json::from_slice(&body)
            .map_err(|e| InvokeError::Function(format!("bad response: {e}")))
    }

    async fn invoke_json(
        &self,
        function: &str,
        event: serde_json::Value,
    ) -> Result<serde_json::Value, InvokeError> {
        let body = self.run(function, event, &mut None).await?;
        serde_json::from_slice(&body)
            .map_err(|e| InvokeError::Function(format!("bad response: {e}")))
    }
}
