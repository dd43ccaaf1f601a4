//! Lambda's REPORT line for an invocation run through the Runtime API.

use std::time::Duration;

/// What Lambda's REPORT line says of one invocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Report {
    /// Spawn → first `/next`, when this invocation started the process.
    pub init: Option<Duration>,
    /// Event handed out → answer.
    pub duration: Duration,
    /// Peak RSS of the process so far, MB.
    pub max_memory_mb: u64,
    /// The function's `MemorySize`.
    pub memory_size_mb: u32,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "REPORT Duration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
            ms(self.duration),
            ms(self.duration).ceil() as u64 + self.init.map_or(0, |i| ms(i).ceil() as u64),
            self.memory_size_mb,
            self.max_memory_mb
        )?;
        if let Some(init) = self.init {
            write!(f, "\tInit Duration: {:.2} ms", ms(init))?;
        }
        Ok(())
    }
}

/// Peak resident set of a process, MB (`VmHWM`), 0 when unknown.
pub fn peak_rss_mb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb.div_ceil(1024))
}
