//! CloudWatch Embedded Metric Format: one JSON line on stdout per flush, which
//! Lambda's log pipeline turns into metrics with no API calls.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{json, Map, Value};

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns EMF output on or off process-wide: on in Lambda (CloudWatch reads
/// it), off in the local gateway unless asked for (it is noise on a terminal).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// The default namespace (`METRICS_NAMESPACE` changes it).
pub(crate) const NAMESPACE: &str = "wsfn";

/// Lambda's application log levels, least to most severe.
pub const LOG_LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

/// The `level` an EMF line carries so that Lambda's log-level filter keeps
/// it: `INFO`, or the function's configured level (`AWS_LAMBDA_LOG_LEVEL`,
/// from the template's `LogLevel`) when that is stricter. A JSON line below
/// the configured level is dropped before CloudWatch reads it — and its
/// metrics with it: alarms that never fire, a blank dashboard.
pub fn emf_level(configured: Option<&str>) -> &'static str {
    let rank = |l: &str| {
        LOG_LEVELS
            .iter()
            .position(|x| x.eq_ignore_ascii_case(l.trim()))
    };
    match configured.and_then(rank) {
        Some(r) if r > 2 => LOG_LEVELS[r],
        _ => "INFO",
    }
}

/// This process's EMF level, read once.
fn level() -> &'static str {
    static LEVEL: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    LEVEL.get_or_init(|| emf_level(std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref()))
}

/// Whether this process has flushed metrics yet: its first flush carries
/// `ColdStart = 1`.
static WARM: AtomicBool = AtomicBool::new(false);

/// Metrics collected during one invocation, flushed once.
#[derive(Debug, Default)]
pub struct Metrics {
    namespace: String,
    /// Name, values, unit: a count is one running total; durations keep
    /// every sample (EMF takes an array).
    values: Vec<(&'static str, Vec<f64>, &'static str)>,
    dimensions: Vec<(&'static str, String)>,
    properties: Vec<(&'static str, String)>,
}

impl Metrics {
    /// Metrics of one invocation of `function`, in `namespace`. Every metric
    /// is published by `Function` alone (what dashboards and alarms use) and
    /// by `Function` plus any added dimension.
    pub fn new(namespace: &str, function: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            values: Vec::new(),
            dimensions: vec![("Function", function.to_string())],
            properties: Vec::new(),
        }
    }

    /// Adds a property: in the log line, searchable, not a metric
    /// dimension (e.g. the request id).
    pub fn property(&mut self, name: &'static str, value: impl Into<String>) -> &mut Self {
        self.properties.push((name, value.into()));
        self
    }

    /// Adds a dimension (e.g. `Action=publish`).
    pub fn dimension(&mut self, name: &'static str, value: impl Into<String>) -> &mut Self {
        self.dimensions.push((name, value.into()));
        self
    }

    /// Records a count; counting the same name again adds to it (one EMF
    /// metric may be defined only once per line).
    pub fn count(&mut self, name: &'static str, v: u32) -> &mut Self {
        match self.values.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, total, _)) => total[0] += f64::from(v),
            None => self.values.push((name, vec![f64::from(v)], "Count")),
        }
        self
    }

    /// Records a duration in milliseconds; another sample of the same name
    /// joins the first (EMF publishes each value of the array).
    pub fn millis(&mut self, name: &'static str, v: f64) -> &mut Self {
        match self.values.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, samples, _)) => samples.push(v),
            None => self.values.push((name, vec![v], "Milliseconds")),
        }
        self
    }

    /// The EMF document for these metrics.
    pub fn to_emf(&self, timestamp_ms: u64) -> Value {
        let mut doc = Map::new();
        let dims: Vec<&str> = self.dimensions.iter().map(|(k, _)| *k).collect();
        let sets = if dims.len() > 1 {
            json!([["Function"], dims])
        } else {
            json!([dims])
        };
        let defs: Vec<Value> = self
            .values
            .iter()
            .map(|(n, _, u)| json!({"Name": n, "Unit": u}))
            .collect();
        doc.insert("level".into(), json!(level()));
        doc.insert(
            "_aws".into(),
            json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": [{
                "Namespace": self.namespace, "Dimensions": sets, "Metrics": defs}]}),
        );
        for (k, v) in self.dimensions.iter().chain(&self.properties) {
            doc.insert((*k).into(), json!(v));
        }
        for (n, v, _) in &self.values {
            let value = match v.as_slice() {
                [one] => json!(one),
                many => json!(many),
            };
            doc.insert((*n).into(), value);
        }
        Value::Object(doc)
    }

    /// Prints the EMF line (no-op when nothing was recorded); the first
    /// flush of the process also counts `ColdStart`.
    pub fn flush(&mut self) {
        if !WARM.swap(true, Ordering::Relaxed) {
            self.count("ColdStart", 1);
        }
        if self.values.is_empty() {
            return;
        }
        let doc = self.to_emf(crate::time::now_millis());
        #[cfg(feature = "emulator")]
        capture::push(&doc);
        if ENABLED.load(Ordering::Relaxed) {
            println!("{doc}");
        }
    }
}

/// The EMF documents flushed by this process, seen by an observer
/// (emulator: wsfn-local's `/metrics`) or captured (tests).
#[cfg(feature = "emulator")]
pub mod capture {
    use std::sync::Mutex;

    use serde_json::Value;

    static LINES: Mutex<Option<Vec<Value>>> = Mutex::new(None);

    /// Something that sees every EMF document this process flushes.
    pub(crate) type Observer = std::sync::Arc<dyn Fn(&Value) + Send + Sync>;

    static OBSERVERS: Mutex<Vec<Observer>> = Mutex::new(Vec::new());

    /// Calls `f` with every EMF document flushed from now on (the local
    /// gateway's `/metrics`).
    pub fn observe(f: Observer) {
        OBSERVERS.lock().unwrap_or_else(|p| p.into_inner()).push(f);
    }

    /// Starts capturing (clears what was captured).
    #[cfg(feature = "testkit")]
    pub fn start() {
        *LINES.lock().unwrap_or_else(|p| p.into_inner()) = Some(Vec::new());
    }

    /// Takes what was captured since `start`.
    #[cfg(feature = "testkit")]
    pub fn take() -> Vec<Value> {
        LINES
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    pub(super) fn push(doc: &Value) {
        if let Some(lines) = LINES.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            lines.push(doc.clone());
        }
        let observers = OBSERVERS.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for f in observers {
            f(doc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_shape() {
        let mut m = Metrics::new("my-ns", "message");
        m.dimension("Action", "publish")
            .property("requestId", "r-1")
            .count("Delivered", 3)
            .millis("FanoutMs", 1.5);
        let v = m.to_emf(7);
        assert_eq!(v["_aws"]["Timestamp"], 7);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "my-ns");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"], ["Function", "Action"]])
        );
        assert_eq!(v["requestId"], "r-1");

        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "Delivered"
        );
        assert_eq!(v["Delivered"], 3.0);
        assert_eq!(v["Action"], "publish");
        // The same name again: counts add up, durations become an array,
        // and each metric is defined once.
        m.count("Delivered", 2).millis("FanoutMs", 2.5);
        let v = m.to_emf(8);
        assert_eq!(v["Delivered"], 5.0);
        assert_eq!(v["FanoutMs"], json!([1.5, 2.5]));
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }
}
