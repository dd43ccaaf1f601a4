//! Where the function binaries are, and building them.

use std::path::PathBuf;

/// The directory holding the function binaries (next to this executable).
pub fn default_binaries() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// Builds the function binaries (a no-op when they are up to date), in the
/// profile this executable was built with (`target/release` → `--release`),
/// where [`default_binaries`] looks for them.
pub fn build(binaries: &[String]) -> Result<(), String> {
    let mut cmd =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "--quiet"]);
    if default_binaries().ends_with("release") {
        cmd.arg("--release");
    }
    for b in binaries {
        cmd.args(["-p", b]);
    }
    let status = cmd.status().map_err(|e| format!("cargo build: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo build of {} failed", binaries.join(", ")))
    }
}
