//! Structured JSON logs that follow Lambda's conventions, configured once
//! per cold start. Every line is one JSON object with top-level `timestamp`
//! (RFC 3339, ms), `level`, `message`, the event's own fields, and the
//! invocation's `requestId`, `xrayTraceId`, `connectionId`, `route` and
//! `coldStart` (from the span [`invocation_span`] opens). The level follows
//! `AWS_LAMBDA_LOG_LEVEL` (the function's logging configuration), else
//! `RUST_LOG` (a level, or `target=level` directives), else info.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

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

/// Lambda's JSON log line.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LambdaJson;

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::from(format!("{value:?}")));
    }
}

impl<S> FormatEvent<S, JsonFields> for LambdaJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::from(crate::time::format_iso(crate::time::now_millis())),
        );
        line.insert(
            "level".into(),
            Value::from(event.metadata().level().as_str()),
        );
        // The invocation's fields, outermost span first.
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<JsonFields>>() {
                    if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(fields) {
                        line.extend(o);
                    }
                }
            }
        }
        event.record(&mut Fields(&mut line));
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// Installs the JSON subscriber on `writer`; returns the dispatcher so tests
/// can scope it.
pub fn subscriber<W>(writer: W, filter: Targets) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    let fmt = tracing_subscriber::fmt::layer()
        .fmt_fields(JsonFields::new())
        .event_format(LambdaJson)
        .with_writer(writer);
    tracing_subscriber::registry().with(fmt).with(filter)
}

/// Installs the JSON subscriber on stdout. Safe to call more than once.
pub fn init_json() {
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = subscriber(std::io::stdout, from_env()).try_init();
}

/// Whether this process has started an invocation yet.
static STARTED: AtomicBool = AtomicBool::new(false);

/// The span every log line of one invocation carries: Lambda's request id
/// and X-Ray trace id, and the event's connection id and route.
pub fn invocation_span(
    request_id: &str,
    xray_trace_id: Option<&str>,
    connection_id: Option<&str>,
    route: Option<&str>,
) -> tracing::Span {
    let cold = !STARTED.swap(true, Ordering::Relaxed);
    tracing::info_span!(
        "invocation",
        requestId = request_id,
        xrayTraceId = xray_trace_id.unwrap_or_default(),
        connectionId = connection_id.unwrap_or_default(),
        route = route.unwrap_or_default(),
        coldStart = cold,
    )
}

/// What an event tells its invocation's span: the connection and the route.
pub trait Traced {
    /// The connection id and route of the event, where it has them.
    fn trace(&self) -> (Option<&str>, Option<&str>);
}

/// The invocation span of an event.
pub fn span_for<E: Traced + ?Sized>(
    request_id: &str,
    xray_trace_id: Option<&str>,
    event: &E,
) -> tracing::Span {
    let (connection, route) = event.trace();
    invocation_span(request_id, xray_trace_id, connection, route)
}

/// Runs `fut` inside `span` (every log line it writes carries the span's fields).
pub async fn within<F: std::future::Future>(span: tracing::Span, fut: F) -> F::Output {
    use tracing::Instrument;
    fut.instrument(span).await
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
