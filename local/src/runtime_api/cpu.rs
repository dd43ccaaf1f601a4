//! Lambda's CPU share for a function process: memory ÷ 1,769 MB of one
//! vCPU, applied with the cgroup `cpu` controller where this machine lets
//! us write it (v2 `cpu.max`, or v1 `cpu.cfs_quota_us`). Where it does
//! not, nothing is limited and the benchmark reports projected times.

use std::path::PathBuf;

const PERIOD_US: u64 = 100_000;

/// A cgroup holding one process, removed on drop.
#[derive(Debug)]
pub struct CpuShare {
    dir: PathBuf,
}

/// The quota for `memory_mb` per 100 ms period.
pub fn quota_us(memory_mb: u32) -> u64 {
    (PERIOD_US * u64::from(memory_mb) / 1769).clamp(1000, PERIOD_US)
}

impl CpuShare {
    /// Puts `pid` in a new cgroup limited to `memory_mb`'s share.
    pub fn apply(pid: u32, memory_mb: u32, name: &str) -> Result<Self, String> {
        let v2 = PathBuf::from("/sys/fs/cgroup/cgroup.controllers").is_file();
        let root = if v2 {
            PathBuf::from("/sys/fs/cgroup")
        } else {
            PathBuf::from("/sys/fs/cgroup/cpu")
        };
        let dir = root.join(format!("wsfn-local-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let share = Self { dir };
        let write = |file: &str, value: String| {
            std::fs::write(share.dir.join(file), value)
                .map_err(|e| format!("{}/{file}: {e}", share.dir.display()))
        };
        let quota = quota_us(memory_mb);
        if v2 {
            write("cpu.max", format!("{quota} {PERIOD_US}"))?;
        } else {
            write("cpu.cfs_period_us", PERIOD_US.to_string())?;
            write("cpu.cfs_quota_us", quota.to_string())?;
        }
        write("cgroup.procs", pid.to_string())?;
        Ok(share)
    }
}

impl Drop for CpuShare {
    fn drop(&mut self) {
        // Empty once the process has exited.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotas_follow_memory() {
        assert_eq!(super::quota_us(1769), 100_000);
        assert_eq!(super::quota_us(256), 14_471);
        assert_eq!(super::quota_us(4096), 100_000);
        assert_eq!(super::quota_us(1), 1000);
    }
}
