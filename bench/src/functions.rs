//! The functions as Lambda runs them: each built binary a process behind
//! wsfn-local's Runtime API (`--invoker runtime-api`, DynamoDB Local).
//! Per function: init (spawn → first `/next`), warm duration and peak RSS
//! from its sample event; for a fan-out, the CPU the publishing process
//! spent per delivered push (utime + stime of that process), and from it
//! the wall time projected at Lambda's CPU share for each memory size.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wsfn::channel::ChannelName;
use wsfn_local::runtime_api::{Report, RuntimeApiInvoker};
use wsfn_local::{start, Options, RuntimeApiOptions};

use super::{big::register, fail, BenchError};

/// CPU seconds a process has used.
pub fn process_cpu(pid: u32) -> Result<f64, BenchError> {
    super::pushcpu::cpu_seconds_of(&format!("/proc/{pid}/stat"))
}

/// One function's cold and warm numbers.
#[derive(Debug, Clone)]
pub struct FunctionRow {
    /// Logical id.
    pub function: String,
    /// The cold invocation's report.
    pub cold: Report,
    /// Median warm duration.
    pub warm: Duration,
    /// Peak RSS after the warm runs, MB.
    pub peak_mb: u64,
}

/// A fan-out in one process.
#[derive(Debug, Clone, Copy)]
pub struct FanoutRow {
    /// Subscribers pushed.
    pub delivered: u64,
    /// The invocation's wall time.
    pub wall: Duration,
    /// CPU of the function process during it.
    pub cpu: Duration,
    /// Peak RSS of the function process, MB.
    pub peak_mb: u64,
}

impl FanoutRow {
    /// CPU µs per delivered push.
    pub fn cpu_us_per_push(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.delivered.max(1) as f64
    }

    /// Wall time at `memory_mb`: CPU runs at memory ÷ 1,769 of a vCPU.
    pub fn projected(&self, memory_mb: u32) -> Duration {
        let share = (f64::from(memory_mb) / 1769.0).min(1.0);
        self.wall
            .max(Duration::from_secs_f64(self.cpu.as_secs_f64() / share))
    }
}

fn sample(name: &str) -> Result<serde_json::Value, BenchError> {
    let text = std::fs::read_to_string(format!("events/{name}")).map_err(|e| fail(name, e))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| fail(name, e))?;
    Ok(wsfn_local::current_times(v))
}

async fn per_function(rt: &RuntimeApiInvoker) -> Result<Vec<FunctionRow>, BenchError> {
    let cases = [
        ("ConnectFunction", "connect-subprotocol.json"),
        ("MessageFunction", "message-ping.json"),
        ("DisconnectFunction", "disconnect.json"),
        ("PublishFunction", "publish.json"),
        ("FanoutFunction", "fanout.json"),
    ];
    let mut rows = Vec::new();
    for (function, event) in cases {
        let event = sample(event)?;
        let (r, cold) = rt.run_reported(function, event.clone()).await;
        r.map_err(|e| fail(function, e))?;
        let cold = cold.ok_or_else(|| BenchError("no report".into()))?;
        let mut warm = Vec::new();
        let mut peak = cold.max_memory_mb;
        for _ in 0..9 {
            let (r, rep) = rt.run_reported(function, event.clone()).await;
            r.map_err(|e| fail(function, e))?;
            if let Some(rep) = rep {
                warm.push(rep.duration);
                peak = peak.max(rep.max_memory_mb);
            }
        }
        warm.sort();
        rows.push(FunctionRow {
            function: function.into(),
            cold,
            warm: warm.get(warm.len() / 2).copied().unwrap_or_default(),
            peak_mb: peak,
        });
    }
    Ok(rows)
}

/// Starts wsfn-local in runtime-api mode over `binaries`, measures every
/// function, then one server publish to `subscribers` virtual subscribers
/// pushed by one PublishFunction process (sharding off).
pub async fn functions(
    template: &str,
    dynamodb_endpoint: &str,
    binaries: std::path::PathBuf,
    subscribers: usize,
    latency: Duration,
    concurrency: usize,
    cpu_share: bool,
) -> Result<(Vec<FunctionRow>, FanoutRow), BenchError> {
    let mut o = Options::new(template);
    o.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    o.quiet = true;
    o.virtual_subscribers = true;
    o.faults.latency = latency;
    o.dynamodb_endpoint = Some(dynamodb_endpoint.to_string());
    o.environment.insert(
        "TABLE_NAME".into(),
        format!("wsfn-fn-{:x}", rand::random::<u32>()),
    );
    o.environment
        .insert("FANOUT_SHARD_SIZE".into(), "1000000".into());
    o.environment
        .insert("FANOUT_CONCURRENCY".into(), concurrency.to_string());
    o.environment
        .insert("JWT_SECRET".into(), "sample-events-secret".into());
    o.runtime_api = Some(RuntimeApiOptions {
        binaries,
        max_instances: 1,
        timeout: None,
        cpu_share,
    });
    let running = start(o).await.map_err(|e| fail("start", e))?;
    let rt: Arc<RuntimeApiInvoker> = running
        .runtime
        .clone()
        .ok_or_else(|| BenchError("not in runtime-api mode".into()))?;
    let rows = per_function(&rt).await?;

    let name = format!("big:{:x}", rand::random::<u32>());
    let channel = ChannelName::parse(&name).map_err(|e| fail("channel", e))?;
    register(&running.store, &channel, subscribers).await?;
    let virtuals = running
        .management
        .virtuals
        .clone()
        .ok_or_else(|| BenchError("virtual subscribers are off".into()))?;
    virtuals.take();
    let pid = *rt
        .pids("PublishFunction")
        .first()
        .ok_or_else(|| BenchError("no PublishFunction process".into()))?;
    let cpu0 = process_cpu(pid)?;
    let (r, report) = rt
        .run_reported(
            "PublishFunction",
            json!({"channel": name, "data": {"bench": "cpu"}}),
        )
        .await;
    r.map_err(|e| fail("publish", e))?;
    let cpu = process_cpu(pid)? - cpu0;
    let report = report.ok_or_else(|| BenchError("no report".into()))?;
    let tally = virtuals.take();
    running.shutdown().await;
    Ok((
        rows,
        FanoutRow {
            delivered: tally.posts,
            wall: report.duration,
            cpu: Duration::from_secs_f64(cpu.max(0.0)),
            peak_mb: report.max_memory_mb,
        },
    ))
}
