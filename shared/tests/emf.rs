//! The EMF lines of a scripted session, parsed: one line per invocation of
//! each function, in the configured namespace, `Function` as a dimension
//! set of its own, the outcome counted, and `ColdStart` once per process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use common::{token, Backend, Harness};
use serde_json::{json, Value};
use wsfn::metrics::capture;

/// Sum of metric `name` over the captured lines of `function`.
fn total(lines: &[Value], function: &str, name: &str) -> f64 {
    lines
        .iter()
        .filter(|l| l["Function"] == function)
        .filter_map(|l| l[name].as_f64())
        .sum()
}

#[tokio::test]
async fn a_scripted_session_emits_the_expected_metrics() {
    capture::start();
    let h = Harness::new(
        Backend::memory().await,
        &[
            ("METRICS_NAMESPACE", "wsfn-test"),
            ("MAX_CONNECTIONS_PER_USER", "2"),
            ("ALLOWED_ORIGINS", "https://app.example"),
            ("MANAGEMENT_ENDPOINT", "http://127.0.0.1:9/local"),
        ],
    );
    let alice = token("alice", &["room:*"], &["room:*"]);
    h.connect("a1=", &alice).await;
    h.connect("a2=", &alice).await;
    let auth = format!("Bearer {alice}");
    assert_eq!(
        h.connect_with("a3=", &[("Authorization", &auth)], &[])
            .await
            .0,
        429
    );
    assert_eq!(
        h.connect_with("x=", &[("Authorization", "Bearer nope")], &[])
            .await
            .0,
        401
    );
    assert_eq!(
        h.connect_with(
            "o=",
            &[("Authorization", &auth), ("Origin", "https://evil.example")],
            &[]
        )
        .await
        .0,
        403
    );
    h.connect("b1=", &token("bob", &["room:*"], &[])).await;
    for id in ["a2=", "b1="] {
        h.send(id, json!({"action":"subscribe","channel":"room:x"}))
            .await;
    }
    h.send(
        "a1=",
        json!({"action":"publish","channel":"room:x","data":1}),
    )
    .await;
    h.send("a1=", json!({"action":"ping"})).await;
    h.disconnect("b1=").await;
    // A server batch: one line for the invocation, each metric defined once.
    let batch = json!({"messages": [
        {"channel": "room:x", "data": 1}, {"channel": "room:x", "data": 2}, {"channel": "bad name", "data": 3}
    ]});
    wsfn::handlers::publish_api(
        serde_json::from_value(batch).unwrap(),
        &h.app,
        &wsfn::handlers::Invocation {
            request_id: Some("lambda-req"),
            deadline_ms: None,
        },
    )
    .await
    .unwrap();
    let lines = capture::take();

    assert!(lines
        .iter()
        .all(|l| l["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "wsfn-test"));
    // One line per invocation: 6 handshakes, 4 frames, 1 disconnect.
    let per_function = |f: &str| lines.iter().filter(|l| l["Function"] == f).count();
    assert_eq!(
        (
            per_function("connect"),
            per_function("message"),
            per_function("disconnect")
        ),
        (6, 4, 1)
    );
    let counts: HashMap<&str, f64> = [
        ("Connected", 3.0),
        ("RejectedLimit", 1.0),
        ("RejectedToken", 1.0),
        ("RejectedOrigin", 1.0),
    ]
    .into_iter()
    .collect();
    for (name, want) in counts {
        assert_eq!(total(&lines, "connect", name), want, "{name}");
    }
    assert_eq!(total(&lines, "message", "Delivered"), 2.0);
    assert_eq!(total(&lines, "disconnect", "Disconnected"), 1.0);
    let d = lines
        .iter()
        .find(|l| l["Function"] == "disconnect")
        .unwrap();
    assert_eq!(d["CloseCode"], "1000");
    assert_eq!(
        d["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Function"], ["Function", "CloseCode"]])
    );
    // The request id travels as a property, not a dimension.
    assert!(lines.iter().all(|l| l["requestId"].is_string()));
    let p: Vec<&Value> = lines
        .iter()
        .filter(|l| l["Function"] == "publish")
        .collect();
    assert_eq!(p.len(), 1);
    let names: Vec<&str> = p[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        names.len(),
        "a metric defined twice: {names:?}"
    );
    assert_eq!(
        (
            p[0]["Published"].as_f64(),
            p[0]["Delivered"].as_f64(),
            p[0]["PublishRefused"].as_f64()
        ),
        (Some(2.0), Some(2.0), Some(1.0)),
        "{}",
        p[0]
    );
    assert_eq!(
        p[0]["FanoutMs"].as_array().map(Vec::len),
        Some(2),
        "one sample per fan-out"
    );
    let cold: f64 = lines.iter().filter_map(|l| l["ColdStart"].as_f64()).sum();
    assert_eq!(cold, 1.0, "one cold start per process");
}

/// Every metrics line survives the strictest `LogLevel` the template offers:
/// its `level` is never below the configured one (Lambda drops such lines).
#[test]
fn metrics_lines_survive_every_log_level_of_the_template() {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let block = &template[template.find("\n  LogLevel:").expect("LogLevel parameter")..];
    let allowed = block
        .lines()
        .find_map(|l| l.trim().strip_prefix("AllowedValues:"))
        .expect("LogLevel AllowedValues");
    let levels: Vec<&str> = allowed
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(str::trim)
        .collect();
    assert!(levels.contains(&"FATAL"), "{levels:?}");
    let rank = |l: &str| {
        wsfn::metrics::LOG_LEVELS
            .iter()
            .position(|x| *x == l)
            .unwrap()
    };
    for configured in levels {
        let emitted = wsfn::metrics::emf_level(Some(configured));
        assert!(
            rank(emitted) >= rank(configured),
            "LogLevel {configured}: EMF lines at {emitted} would be dropped"
        );
        assert!(rank(emitted) >= rank("INFO"), "never below INFO");
    }
    assert_eq!(wsfn::metrics::emf_level(None), "INFO");
    // The line itself carries the level.
    let mut m = wsfn::metrics::Metrics::new("ns", "message");
    m.count("Delivered", 1);
    let doc = m.to_emf(1);
    assert!(doc["level"].is_string(), "{doc}");
}
