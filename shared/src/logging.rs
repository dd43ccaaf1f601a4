//! Structured JSON logs for CloudWatch, configured once per cold start.
//! The level follows Lambda's own convention: `AWS_LAMBDA_LOG_LEVEL` (set by
//! the function's logging configuration), else `RUST_LOG` (a level, or
//! `target=level` directives), else info.

use tracing_subscriber::filter::{LevelFilter, Targets};

/// The filter from a level or directive string; `None` if it does not parse.
pub fn filter(spec: &str) -> Option<Targets> {
    let spec = spec.trim().to_ascii_lowercase();
    // Lambda's names for levels: TRACE DEBUG INFO WARN ERROR FATAL.
    let spec = if spec == "fatal" {
        "error".to_string()
    } else {
        spec
    };
    if let Ok(level) = spec.parse::<LevelFilter>() {
        return Some(Targets::new().with_default(level));
    }
    spec.parse::<Targets>().ok()
}

/// The filter from the environment.
fn from_env() -> Targets {
    ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .iter()
        .find_map(|k| std::env::var(k).ok().and_then(|v| filter(&v)))
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// Installs a JSON tracing subscriber. Safe to call more than once.
pub fn init_json() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let fmt = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .without_time()
        .with_target(false);
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(from_env())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::filter;
    use tracing::Level;

    #[test]
    fn lambda_levels_and_directives() {
        let f = filter("WARN").unwrap();
        assert!(f.would_enable("wsfn", &Level::WARN) && !f.would_enable("wsfn", &Level::INFO));
        let f = filter("FATAL").unwrap();
        assert!(f.would_enable("x", &Level::ERROR) && !f.would_enable("x", &Level::WARN));
        let f = filter("info,wsfn::fanout=debug").unwrap();
        assert!(f.would_enable("wsfn::fanout", &Level::DEBUG));
        assert!(!f.would_enable("other", &Level::DEBUG));
        assert!(filter("wsfn=loud").is_none());
    }
}
