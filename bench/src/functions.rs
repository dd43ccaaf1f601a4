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
    /// The first cold invocation's report.
    pub cold: Report,
    /// Init (spawn → first `/next`) of every cold start, sorted.
    pub inits: Vec<Duration>,
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
        let inits = cold_starts(rt, function, &event, cold.init).await?;
        rows.push(FunctionRow {
            function: function.into(),
            cold,
            inits,
            warm: warm.get(warm.len() / 2).copied().unwrap_or_default(),
            peak_mb: peak,
        });
    }
    Ok(rows)
}

/// Cold starts measured per function (one spawn is noise on a shared machine).
const COLD_STARTS: usize = 5;

/// `COLD_STARTS` inits of `function`: the first one, then one per killed
/// process (wsfn-local replaces a process that died, as Lambda would).
async fn cold_starts(
    rt: &RuntimeApiInvoker,
    function: &str,
    event: &serde_json::Value,
    first: Option<Duration>,
) -> Result<Vec<Duration>, BenchError> {
    let mut inits: Vec<Duration> = first.into_iter().collect();
    while inits.len() < COLD_STARTS {
        for pid in rt.pids(function) {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
        for _ in 0..200 {
            if rt.pids(function).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (r, report) = rt.run_reported(function, event.clone()).await;
        r.map_err(|e| fail(function, e))?;
        match report.and_then(|r| r.init) {
            Some(init) => inits.push(init),
            None => {
                return Err(BenchError(format!(
                    "{function}: no cold start after a kill"
                )))
            }
        }
    }
    inits.sort();
    Ok(inits)
}

/// Starts wsfn-local in runtime-api mode over `binaries`, measures every
/// function, then two fan-outs to `subscribers` virtual subscribers, each
/// pushed by one process (sharding off): a server publish (PublishFunction)
/// and a client's `publish` frame (MessageFunction).
pub async fn functions(
    template: &str,
    dynamodb_endpoint: &str,
    binaries: std::path::PathBuf,
    subscribers: usize,
    latency: Duration,
    concurrency: usize,
    cpu_share: bool,
) -> Result<(Vec<FunctionRow>, Vec<(String, FanoutRow)>), BenchError> {
    let mut o = Options::new(template);
    o.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    o.quiet = true;
    // The functions as deployed without hooks: the demo's publish hook would
    // have every function read the root certificates at init (~3.5 ms).
    o.demo = false;
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
    let mut fans = Vec::new();

    // A server publish.
    let name = format!("big:{:x}", rand::random::<u32>());
    let event = json!({"channel": name, "data": {"bench": "cpu"}});
    let row = fan_out(&running, &rt, "PublishFunction", &name, event, subscribers).await?;
    fans.push(("PublishFunction (server publish)".to_string(), row));

    // A client's publish frame: the sample connection (alice, `room:*`)
    // registered by its `$connect`, then its `publish` to a fresh room.
    let (r, _) = rt
        .run_reported("ConnectFunction", sample("connect-subprotocol.json")?)
        .await;
    r.map_err(|e| fail("connect", e))?;
    let name = format!("room:big{:x}", rand::random::<u32>());
    let mut event = sample("message-publish.json")?;
    event["body"] = json!(
        json!({"action": "publish", "channel": name, "data": {"bench": "cpu"}, "id": "bench"})
            .to_string()
    );
    let row = fan_out(&running, &rt, "MessageFunction", &name, event, subscribers).await?;
    fans.push((
        "MessageFunction (a client's publish frame)".to_string(),
        row,
    ));
    running.shutdown().await;
    Ok((rows, fans))
}

/// Registers `subscribers` virtual subscribers to `channel`, runs `event`
/// through `function`'s one process, and measures that process.
async fn fan_out(
    running: &wsfn_local::Running,
    rt: &RuntimeApiInvoker,
    function: &str,
    channel: &str,
    event: serde_json::Value,
    subscribers: usize,
) -> Result<FanoutRow, BenchError> {
    let parsed = ChannelName::parse(channel).map_err(|e| fail("channel", e))?;
    register(&running.store, &parsed, subscribers).await?;
    let virtuals = running
        .management
        .virtuals
        .clone()
        .ok_or_else(|| BenchError("virtual subscribers are off".into()))?;
    virtuals.take();
    let pid = *rt
        .pids(function)
        .first()
        .ok_or_else(|| BenchError(format!("no {function} process")))?;
    let cpu0 = process_cpu(pid)?;
    let (r, report) = rt.run_reported(function, event).await;
    r.map_err(|e| fail(function, e))?;
    let cpu = process_cpu(pid)? - cpu0;
    let report = report.ok_or_else(|| BenchError("no report".into()))?;
    let tally = virtuals.take();
    Ok(FanoutRow {
        delivered: tally.posts,
        wall: report.duration,
        cpu: Duration::from_secs_f64(cpu.max(0.0)),
        peak_mb: report.max_memory_mb,
    })
}
