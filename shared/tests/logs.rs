//! The log shape: one JSON object per line with Lambda's top-level fields
//! (`timestamp`, `level`, `message`) and the invocation's `requestId`,
//! `xrayTraceId`, `connectionId`, `route`, `coldStart`; tokens never logged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{info, token, Backend, Harness};
use serde_json::Value;
use wsfn::events;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn log_lines_follow_lambda_conventions_and_never_carry_tokens() {
    let buf = Buf::default();
    let sink = buf.clone();
    let sub =
        wsfn::logging::subscriber(move || sink.clone(), wsfn::logging::filter("info").unwrap());
    let _guard = tracing::subscriber::set_default(sub);
    let h = Harness::new(Backend::memory().await, &[]);
    let good = token("alice", &[], &[]);
    // A refused and an accepted handshake, each inside its invocation span.
    let tampered = format!("{}x", &good[..good.len() - 1]);
    for (id, tok) in [("l1=", tampered.as_str()), ("l2=", good.as_str())] {
        let auth = format!("Bearer {tok}");
        let ev = events::parse(events::connect_json(
            &info(id),
            &[("Authorization".into(), auth)],
            &[],
            "apigw-req",
            wsfn::time::now_millis(),
        ));
        let span = wsfn::logging::span_for("lambda-req-1", Some("Root=1-abc-def"), &ev);
        let r = wsfn::logging::within(
            span,
            wsfn::handlers::connect(ev, &h.app, &Default::default()),
        )
        .await
        .unwrap();
        assert!(r.status_code == 401 || r.status_code == 200);
    }
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 2, "{text}");
    for l in &lines {
        let ts = l["timestamp"].as_str().unwrap();
        assert!(
            ts.ends_with('Z') && ts.contains('T') && ts.len() == 24,
            "{ts}"
        );
        assert!(["INFO", "WARN", "ERROR"].contains(&l["level"].as_str().unwrap()));
        assert!(l["message"].is_string(), "{l}");
        assert_eq!(l["requestId"], "lambda-req-1");
        assert_eq!(l["xrayTraceId"], "Root=1-abc-def");
        assert_eq!(l["route"], "$connect");
        assert!(l["connectionId"].as_str().unwrap().starts_with('l'));
        assert!(l["coldStart"].is_boolean());
    }
    assert!(lines.iter().any(|l| l["message"] == "token refused"));
    assert!(lines.iter().any(|l| l["message"] == "connected"));
    assert!(
        !text.contains(&good[20..60]) && !text.contains(&tampered[20..60]),
        "a token was logged: {text}"
    );
    // Only the first invocation of the process is a cold start.
    let cold: Vec<bool> = lines
        .iter()
        .map(|l| l["coldStart"].as_bool().unwrap())
        .collect();
    assert!(cold[0] && !*cold.last().unwrap(), "{cold:?}");
}
