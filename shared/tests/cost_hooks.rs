//! What hooks and events cost per action, measured against DynamoDB Local
//! with a real HTTP hook server and a counting event sink: one hook call
//! per hooked action (none for a retry, `history` or `presence`), the reads
//! the hooks need, and `PutEvents` calls. Prints the table of docs/cost.md
//! ("Hooks and events") and fails when it drifts. Unhooked actions cost
//! what `cost.rs` says, HOOKS or not (its rows run without HOOKS; here the
//! unhooked channel rows must equal them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod hook_server;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use common::calls::counted_backend;
use common::{token, Harness};
use hook_server::{Answer, HookServer, SECRET};
use serde_json::json;
use wsfn::bus::{BusEvent, EventSink};

#[derive(Debug, Default)]
struct CountingSink(AtomicU32);

#[async_trait]
impl EventSink for CountingSink {
    async fn put(&self, _batch: &[BusEvent]) -> Result<Vec<usize>, String> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn cost_of_hooks_and_events() {
    let (calls, backend) = counted_backend("wsfn-cost-hooks").await;
    let server = HookServer::start(|req| match req["hook"].as_str() {
        Some("rpc") => Answer::json(json!({"data": 1})),
        _ => Answer::json(json!({"allow": true})),
    })
    .await;
    let hooks = json!({
        "connect": server.url,
        "subscribe": {"target": server.url, "channels": ["room:*"]},
        "publish": {"target": server.url, "channels": ["room:*"]},
        "rpc": server.url,
    })
    .to_string();
    let mut h = Harness::new(
        backend,
        &[
            ("RATE_LIMIT_PER_SECOND", "1000"),
            ("HOOKS", &hooks),
            ("HOOK_SECRET", SECRET),
            ("EVENT_BUS", "app"),
            ("EVENT_MESSAGE_CHANNELS", "room:e*"),
            (
                "MANAGEMENT_ENDPOINT",
                "https://abc123.execute-api.us-east-1.amazonaws.com/prod",
            ),
        ],
    );
    let sink = Arc::new(CountingSink::default());
    h.app = h.app.clone().with_bus(sink.clone());
    let mut rows: Vec<(&str, String, u32, usize, u32)> = vec![];
    let seen_hooks = std::cell::Cell::new(0);
    let mut row = |name: &'static str, h: &Harness| {
        let c = calls.take();
        let hook_calls = server.received().len() - seen_hooks.get();
        seen_hooks.set(seen_hooks.get() + hook_calls);
        let puts = sink.0.swap(0, Ordering::Relaxed);
        rows.push((name, c, h.pusher.take_post_count(), hook_calls, puts));
    };
    calls.take();
    h.connect("c1=", &token("alice", &["news:*"], &["news:*"]))
        .await;
    row("$connect, connect hook (1 event)", &h);
    h.connect("c2=", &token("bob", &[], &[])).await;
    h.send("c2=", json!({"action":"subscribe","channel":"room:a"}))
        .await;
    calls.take();
    h.pusher.take_post_count();
    seen_hooks.set(server.received().len());
    sink.0.swap(0, Ordering::Relaxed);
    h.send("c1=", json!({"action":"subscribe","channel":"room:a"}))
        .await;
    row("subscribe, hooked channel (1 event)", &h);
    h.send("c1=", json!({"action":"subscribe","channel":"news:a"}))
        .await;
    row("subscribe, channel no hook covers (1 event)", &h);
    let publish = json!({"action":"publish","channel":"room:a","data":1,"id":"k1"});
    h.send("c1=", publish.clone()).await;
    row("publish with id, hooked channel, 2 subscribers", &h);
    h.send("c1=", publish).await;
    row("publish with id, hooked channel, duplicate", &h);
    h.send(
        "c1=",
        json!({"action":"publish","channel":"news:a","data":1}),
    )
    .await;
    row("publish, channel no hook covers, 1 subscriber", &h);
    h.send(
        "c1=",
        json!({"action":"history","channel":"room:a","limit":10}),
    )
    .await;
    row("history, hooked channel", &h);
    h.send("c1=", json!({"action":"rpc","method":"m","data":null}))
        .await;
    row("rpc", &h);

    println!(
        "\n| hooked action | DynamoDB calls | management API calls | hook calls | PutEvents calls |\n|---|---|---|---|---|"
    );
    let lines: Vec<String> = rows
        .iter()
        .map(|(n, c, p, hk, e)| format!("| {n} | {c} | {p} | {hk} | {e} |"))
        .collect();
    for l in &lines {
        println!("{l}");
    }
    let expected = [
        (
            "$connect, connect hook (1 event)",
            "1× TransactWriteItems",
            0,
            1,
            1,
        ),
        (
            "subscribe, hooked channel (1 event)",
            "2× GetItem, 1× TransactWriteItems, 1× UpdateItem",
            1,
            1,
            1,
        ),
        (
            "subscribe, channel no hook covers (1 event)",
            "2× GetItem, 1× PutItem, 1× TransactWriteItems, 1× UpdateItem",
            1,
            0,
            1,
        ),
        (
            "publish with id, hooked channel, 2 subscribers",
            "3× GetItem, 1× Query, 1× TransactWriteItems, 1× UpdateItem",
            3,
            1,
            0,
        ),
        (
            "publish with id, hooked channel, duplicate",
            "2× GetItem, 1× UpdateItem",
            1,
            0,
            0,
        ),
        (
            "publish, channel no hook covers, 1 subscriber",
            "2× GetItem, 1× Query, 1× TransactWriteItems, 1× UpdateItem",
            2,
            0,
            0,
        ),
        (
            "history, hooked channel",
            "3× GetItem, 1× Query, 1× UpdateItem",
            1,
            0,
            0,
        ),
        ("rpc", "1× GetItem, 1× UpdateItem", 1, 1, 0),
    ];
    assert_eq!(rows.len(), expected.len());
    for ((n, c, p, hk, e), (en, ec, ep, ehk, ee)) in rows.iter().zip(expected) {
        assert_eq!(
            (*n, c.as_str(), *p, *hk, *e),
            (en, ec, ep, ehk, ee),
            "docs/cost.md hooks table is out of date"
        );
    }
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cost.md"))
        .expect("docs/cost.md");
    for l in &lines {
        assert!(doc.contains(l.as_str()), "docs/cost.md lacks:\n{l}");
    }
}
