//! A function process: started with the environment Lambda gives (the
//! Runtime API at its own path prefix), limited to its CPU share where
//! asked, reaped when it exits or is killed.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use super::server::Instance;
use super::{CpuShare, Pool, RuntimeApiInvoker};
use crate::invoker::InvokeError;

impl RuntimeApiInvoker {
    pub(super) fn spawn(&self, pool: &Pool) -> Result<Arc<Instance>, InvokeError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let spec = &pool.spec;
        let path = self.binaries.join(&spec.binary);
        let name = spec.name.clone().unwrap_or_else(|| spec.logical_id.clone());
        let mut cmd = tokio::process::Command::new(&path);
        cmd.env_clear()
            .envs(&pool.env)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://{}/{id}", self.api),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                spec.memory_mb.to_string(),
            )
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("local/[$LATEST]{id:016x}"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .kill_on_drop(true);
        if self.quiet {
            cmd.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| InvokeError::Function(format!("cannot start {}: {e}", path.display())))?;
        let (jobs, rx) = mpsc::channel(1);
        let (kill, killed) = oneshot::channel::<()>();
        let inst = Arc::new(Instance {
            function: spec.logical_id.clone(),
            jobs,
            next: tokio::sync::Mutex::new(rx),
            pid: child.id(),
            kill: Mutex::new(Some(kill)),
            started: std::time::Instant::now(),
            init: Mutex::new(None),
        });
        self.shared
            .instances
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, inst.clone());
        *self
            .shared
            .spawned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(spec.logical_id.clone())
            .or_default() += 1;
        // Lambda's CPU share for the function's MemorySize, if allowed here.
        let share = match (self.cpu_share, inst.pid) {
            (true, Some(pid)) => {
                match CpuShare::apply(pid, spec.memory_mb, &format!("{}-{id}", spec.logical_id)) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        eprintln!(
                            "wsfn-local: no CPU share for {} ({e}); running unlimited",
                            spec.logical_id
                        );
                        None
                    }
                }
            }
            _ => None,
        };
        // Reap: on exit (crash) or kill (timeout), the instance is gone.
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let _share = share;
            tokio::select! {
                _ = child.wait() => {}
                _ = killed => { let _ = child.kill().await; }
            }
            shared
                .instances
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        });
        Ok(inst)
    }

    pub(super) fn alive(&self, inst: &Instance) -> bool {
        self.shared
            .instances
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .any(|i| std::ptr::eq(i.as_ref(), inst))
    }
}
