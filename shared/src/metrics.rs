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

/// Namespace all wsfn metrics live under.
pub const NAMESPACE: &str = "wsfn";

/// Metrics collected during one invocation, flushed once.
#[derive(Debug, Default)]
pub struct Metrics {
    values: Vec<(&'static str, f64, &'static str)>,
    dimensions: Vec<(&'static str, String)>,
}

impl Metrics {
    /// Metrics with one dimension set (e.g. `Function=message`).
    pub fn new(function: &str) -> Self {
        Self {
            values: Vec::new(),
            dimensions: vec![("Function", function.to_string())],
        }
    }

    /// Adds a dimension (e.g. `Action=publish`).
    pub fn dimension(&mut self, name: &'static str, value: impl Into<String>) -> &mut Self {
        self.dimensions.push((name, value.into()));
        self
    }

    /// Records a count.
    pub fn count(&mut self, name: &'static str, v: u32) -> &mut Self {
        self.values.push((name, f64::from(v), "Count"));
        self
    }

    /// Records a duration in milliseconds.
    pub fn millis(&mut self, name: &'static str, v: f64) -> &mut Self {
        self.values.push((name, v, "Milliseconds"));
        self
    }

    /// The EMF document for these metrics.
    pub fn to_emf(&self, timestamp_ms: u64) -> Value {
        let mut doc = Map::new();
        let dims: Vec<&str> = self.dimensions.iter().map(|(k, _)| *k).collect();
        let defs: Vec<Value> = self
            .values
            .iter()
            .map(|(n, _, u)| json!({"Name": n, "Unit": u}))
            .collect();
        doc.insert(
            "_aws".into(),
            json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": [{
                "Namespace": NAMESPACE, "Dimensions": [dims], "Metrics": defs}]}),
        );
        for (k, v) in &self.dimensions {
            doc.insert((*k).into(), json!(v));
        }
        for (n, v, _) in &self.values {
            doc.insert((*n).into(), json!(v));
        }
        Value::Object(doc)
    }

    /// Prints the EMF line (no-op when nothing was recorded).
    pub fn flush(&self) {
        if !self.values.is_empty() && ENABLED.load(Ordering::Relaxed) {
            println!("{}", self.to_emf(crate::time::now_millis()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_shape() {
        let mut m = Metrics::new("message");
        m.dimension("Action", "publish")
            .count("Delivered", 3)
            .millis("FanoutMs", 1.5);
        let v = m.to_emf(7);
        assert_eq!(v["_aws"]["Timestamp"], 7);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
            json!(["Function", "Action"])
        );
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "Delivered"
        );
        assert_eq!(v["Delivered"], 3.0);
        assert_eq!(v["Action"], "publish");
    }
}
