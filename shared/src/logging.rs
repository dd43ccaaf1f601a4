//! Structured JSON logs for CloudWatch, configured once per cold start.

/// Installs a JSON tracing subscriber (level from `RUST_LOG`, default info).
/// Safe to call more than once.
pub fn init_json() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .try_init();
}
