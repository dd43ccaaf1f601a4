//! Events to the application (protocol §11) on both stores: each action's
//! event after it took effect, with its fields; nothing for what did not
//! happen; batches of at most 10; a failing bus retried, counted and never
//! felt by the client; no bus, no call.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::{error_code, token, Backend, Harness};
use serde_json::{json, Value};
use wsfn::bus::{BusEvent, EventSink};
use wsfn::protocol::ServerFrame;

/// Records every batch; fails the first `fail_calls` calls, and refuses
/// the entries whose detail type is `refuse` once each.
#[derive(Debug, Default)]
struct Recorder {
    batches: Mutex<Vec<Vec<BusEvent>>>,
    fail_calls: Mutex<usize>,
    refuse_once: Mutex<Vec<&'static str>>,
}

#[async_trait]
impl EventSink for Recorder {
    async fn put(&self, batch: &[BusEvent]) -> Result<Vec<usize>, String> {
        assert!(batch.len() <= 10, "a batch of {}", batch.len());
        {
            let mut fail = self.fail_calls.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err("ThrottlingException".into());
            }
        }
        let mut refuse = self.refuse_once.lock().unwrap();
        let bad: Vec<usize> = batch
            .iter()
            .enumerate()
            .filter(|(_, e)| refuse.contains(&e.detail_type))
            .map(|(i, _)| i)
            .collect();
        refuse.retain(|t| !batch.iter().any(|e| e.detail_type == *t));
        self.batches.lock().unwrap().push(
            batch
                .iter()
                .enumerate()
                .filter(|(i, _)| !bad.contains(i))
                .map(|(_, e)| e.clone())
                .collect(),
        );
        Ok(bad)
    }
}

impl Recorder {
    /// Every delivered event, as (type, detail), and forgets them.
    fn take(&self) -> Vec<(&'static str, Value)> {
        let batches = std::mem::take(&mut *self.batches.lock().unwrap());
        batches
            .into_iter()
            .flatten()
            .map(|e| (e.detail_type, e.detail))
            .collect()
    }
}

fn harness(b: Backend, sink: Arc<Recorder>) -> Harness {
    let mut h = Harness::new(
        b,
        &[
            ("EVENT_BUS", "app-events"),
            ("EVENT_MESSAGE_CHANNELS", "room:*"),
            ("PRESENCE_EVENTS", "room:*"),
        ],
    );
    h.app = h.app.clone().with_bus(sink);
    h
}

fn types(events: &[(&'static str, Value)]) -> Vec<&'static str> {
    events.iter().map(|(t, _)| *t).collect()
}

async fn every_action_its_event(b: Backend) {
    let sink = Arc::new(Recorder::default());
    let h = harness(b, sink.clone());
    let all = token("ann", &["room:*", "news:*"], &["room:*", "news:*"]);
    h.connect("a1=", &all).await;
    let got = sink.take();
    assert_eq!(types(&got), vec!["connection.opened"]);
    assert_eq!(got[0].1["connection"], "a1=");
    assert_eq!(got[0].1["user"], "ann");
    assert!(got[0].1["ts"].as_u64().is_some());

    h.send("a1=", json!({"action":"subscribe","channel":"room:1"}))
        .await;
    let got = sink.take();
    assert_eq!(types(&got), vec!["subscription.created", "presence.joined"]);
    assert_eq!(got[0].1["channel"], "room:1");
    // Subscribing again: nothing happened, no event.
    h.send("a1=", json!({"action":"subscribe","channel":"room:1"}))
        .await;
    assert!(sink.take().is_empty());

    let r = h
        .send(
            "a1=",
            json!({"action":"publish","channel":"room:1","data":{"t":1},"id":"m1"}),
        )
        .await;
    assert!(r.iter().any(|f| matches!(f, ServerFrame::Ack { .. })));
    let got = sink.take();
    assert_eq!(types(&got), vec!["message.published"]);
    assert_eq!(got[0].1["message"]["seq"], 1);
    assert_eq!(got[0].1["message"]["data"], json!({"t": 1}));
    assert_eq!(got[0].1["message"]["type"], "message");
    // A duplicate, a refused publish, and a channel not listed: none.
    h.send(
        "a1=",
        json!({"action":"publish","channel":"room:1","data":{"t":1},"id":"m1"}),
    )
    .await;
    h.send(
        "a1=",
        json!({"action":"publish","channel":"secret:1","data":1}),
    )
    .await;
    h.send(
        "a1=",
        json!({"action":"publish","channel":"news:1","data":1}),
    )
    .await;
    assert!(sink.take().is_empty());

    h.send("a1=", json!({"action":"unsubscribe","channel":"room:1"}))
        .await;
    assert_eq!(
        types(&sink.take()),
        vec!["subscription.removed", "presence.left"]
    );

    h.send("a1=", json!({"action":"subscribe","channel":"room:2"}))
        .await;
    sink.take();
    h.disconnect("a1=").await;
    let got = sink.take();
    assert_eq!(types(&got), vec!["connection.closed", "presence.left"]);
    assert_eq!(got[0].1["code"], 1000);
    assert_eq!(got[0].1["user"], "ann");
    // A refused handshake happened to nobody.
    let (status, _) = h.connect_with("x1=", &[], &[]).await;
    assert_eq!(status, 401);
    assert!(sink.take().is_empty());
}

async fn a_failing_bus_is_retried_and_never_felt(b: Backend) {
    let sink = Arc::new(Recorder::default());
    let h = harness(b, sink.clone());
    h.connect("a1=", &token("ann", &["room:*"], &["room:*"]))
        .await;
    sink.take();
    // The first call fails, then one entry is refused once: all arrive.
    *sink.fail_calls.lock().unwrap() = 1;
    *sink.refuse_once.lock().unwrap() = vec!["presence.joined"];
    let r = h
        .send(
            "a1=",
            json!({"action":"subscribe","channel":"room:1","id":"s"}),
        )
        .await;
    assert!(matches!(r[0], ServerFrame::Subscribed { .. }), "{r:?}");
    let mut got = types(&sink.take());
    got.sort_unstable();
    assert_eq!(got, vec!["presence.joined", "subscription.created"]);
    // A bus that never answers: the client's reply is unchanged.
    *sink.fail_calls.lock().unwrap() = 1000;
    let r = h
        .send(
            "a1=",
            json!({"action":"publish","channel":"room:1","data":1,"id":"p"}),
        )
        .await;
    assert!(error_code(&r).is_none(), "{r:?}");
    assert!(matches!(r[0], ServerFrame::Ack { seq: 1, .. }), "{r:?}");
    assert!(sink.take().is_empty());
}

async fn many_events_go_in_batches_of_ten(b: Backend) {
    let sink = Arc::new(Recorder::default());
    let h = harness(b, sink.clone());
    let t = token("ann", &["room:*"], &["room:*"]);
    h.connect("a1=", &t).await;
    for i in 0..12 {
        h.send(
            "a1=",
            json!({"action":"subscribe","channel":format!("room:{i}")}),
        )
        .await;
    }
    sink.take();
    // One disconnect: 12 leaves and the close, in two calls.
    h.disconnect("a1=").await;
    let batches = sink.batches.lock().unwrap().clone();
    assert_eq!(
        batches.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![10, 3]
    );
}

both_backends!(
    every_action_its_event,
    a_failing_bus_is_retried_and_never_felt,
    many_events_go_in_batches_of_ten,
);

#[test]
fn a_bad_bus_names_the_variable() {
    let cfg = |bus: &str| {
        wsfn::config::Config::from_map(&std::collections::HashMap::from([
            ("TABLE_NAME".to_string(), "t".to_string()),
            ("JWT_SECRET".to_string(), "s".repeat(32)),
            ("EVENT_BUS".to_string(), bus.to_string()),
        ]))
    };
    let e = cfg("bad bus!").unwrap_err().to_string();
    assert!(e.starts_with("EVENT_BUS is invalid"), "{e}");
    let arn = "arn:aws:events:eu-west-1:123456789012:event-bus/app";
    assert_eq!(cfg(arn).unwrap().event_bus.as_deref(), Some(arn));
    assert_eq!(cfg("app").unwrap().event_bus.as_deref(), Some("app"));
}
