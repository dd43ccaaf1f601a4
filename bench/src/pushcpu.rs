//! CPU per push of a management API client, measured the way Lambda bills
//! it: the pushing process's own CPU time (utime + stime from
//! `/proc/self/stat`) while it sends N PostToConnection calls to a
//! wsfn-local running in another process (virtual subscribers, so the
//! server's CPU is not counted).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use wsfn::push::Pusher;

use super::{fail, BenchError};

/// CPU seconds (user + system) this process has used.
pub fn cpu_seconds() -> Result<f64, BenchError> {
    cpu_seconds_of("/proc/self/stat")
}

/// CPU seconds (utime + stime) of the process whose `stat` file is `path`.
pub fn cpu_seconds_of(path: &str) -> Result<f64, BenchError> {
    let stat = std::fs::read_to_string(path).map_err(|e| fail(path, e))?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| BenchError(format!("unreadable {path}")))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 here.
    Ok((ticks(11) + ticks(12)) / 100.0)
}

/// One measurement.
#[derive(Debug, Clone, Copy)]
pub struct PushCpu {
    /// Pushes that succeeded.
    pub ok: usize,
    /// Wall time.
    pub wall: Duration,
    /// CPU µs per push of this process.
    pub cpu_us_per_push: f64,
}

/// Pushes `n` frames (`concurrency` in flight) through `pusher` to fresh
/// virtual subscriber ids.
pub async fn measure(
    pusher: Arc<dyn Pusher>,
    n: usize,
    concurrency: usize,
    payload: &[u8],
) -> Result<PushCpu, BenchError> {
    let ids: Vec<String> = (0..n).map(|_| wsfn_local::virtuals::id()).collect();
    let cpu0 = cpu_seconds()?;
    let t0 = Instant::now();
    let ok = futures::stream::iter(ids)
        .map(|id| {
            let pusher = pusher.clone();
            async move { pusher.post(&id, payload).await.is_ok() }
        })
        .buffer_unordered(concurrency.max(1))
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    let wall = t0.elapsed();
    let cpu = cpu_seconds()? - cpu0;
    Ok(PushCpu {
        ok,
        wall,
        cpu_us_per_push: cpu * 1e6 / n.max(1) as f64,
    })
}
