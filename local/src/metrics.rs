//! The functions' EMF metrics, aggregated in the local gateway: served as
//! Prometheus text on `GET /metrics` under the same names (`wsfn_Delivered`,
//! `wsfn_FanoutMs_sum`, ... with the EMF dimensions as labels), and
//! summarised on exit.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, HeaderValue, Response};
use serde_json::Value;

#[derive(Debug, Default, Clone, Copy)]
struct Agg {
    count: u64,
    sum: f64,
    max: f64,
    millis: bool,
}

/// A series: metric name and its labels.
type Series = (String, Vec<(String, String)>);

/// Metric name and label set → aggregate.
#[derive(Debug, Default)]
pub struct Registry {
    series: Mutex<BTreeMap<Series, Agg>>,
}

impl Registry {
    /// A registry fed with every EMF document this process flushes.
    pub fn install() -> Arc<Self> {
        let r = Arc::new(Self::default());
        let weak = Arc::downgrade(&r);
        wsfn::metrics::capture::observe(Arc::new(move |doc: &Value| {
            if let Some(r) = weak.upgrade() {
                r.record(doc);
            }
        }));
        r
    }

    /// Adds one EMF document.
    pub fn record(&self, doc: &Value) {
        let Some(def) = doc["_aws"]["CloudWatchMetrics"].get(0) else {
            return;
        };
        // The fullest dimension set is the label set.
        let dims: Vec<String> = def["Dimensions"]
            .as_array()
            .and_then(|sets| {
                sets.iter()
                    .filter_map(Value::as_array)
                    .max_by_key(|s| s.len())
            })
            .map(|s| {
                s.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let labels: Vec<(String, String)> = dims
            .iter()
            .map(|d| {
                (
                    d.to_ascii_lowercase(),
                    doc[d].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        for m in def["Metrics"].as_array().into_iter().flatten() {
            let Some(name) = m["Name"].as_str() else {
                continue;
            };
            // One value, or an array of samples.
            let samples: Vec<f64> = match &doc[name] {
                Value::Array(list) => list.iter().filter_map(Value::as_f64).collect(),
                v => v.as_f64().into_iter().collect(),
            };
            let a = series
                .entry((name.to_string(), labels.clone()))
                .or_default();
            for v in samples {
                a.count += 1;
                a.sum += v;
                a.max = a.max.max(v);
            }
            a.millis = m["Unit"] == "Milliseconds";
        }
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        for ((name, labels), a) in series.iter() {
            let l = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect::<Vec<_>>()
                .join(",");
            if a.millis {
                out.push_str(&format!("wsfn_{name}_count{{{l}}} {}\n", a.count));
                out.push_str(&format!("wsfn_{name}_sum{{{l}}} {}\n", a.sum));
                out.push_str(&format!("wsfn_{name}_max{{{l}}} {}\n", a.max));
            } else {
                out.push_str(&format!("wsfn_{name}{{{l}}} {}\n", a.sum));
            }
        }
        out
    }

    /// Totals by metric name (labels summed), for the exit summary.
    pub fn totals(&self) -> BTreeMap<String, f64> {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = BTreeMap::new();
        for ((name, _), a) in series.iter() {
            if !a.millis {
                *out.entry(name.clone()).or_default() += a.sum;
            }
        }
        out
    }

    /// One line for the terminal on exit.
    pub fn summary(&self) -> String {
        let t = self.totals();
        if t.is_empty() {
            return "no traffic".into();
        }
        t.iter()
            .filter(|(k, _)| k.as_str() != "ColdStart")
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `GET /metrics`.
pub async fn serve(State(r): State<Arc<Registry>>) -> Response<axum::body::Body> {
    let mut resp = Response::new(axum::body::Body::from(r.render()));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    resp
}
