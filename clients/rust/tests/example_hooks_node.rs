//! The Node.js hook example (`examples/hooks-node`) as a team runs it: a
//! `node server.js` process, wsfn-local calling it through `HOOKS`, and
//! wsfn-client over real WebSockets — members-only rooms, the word filter,
//! the member's name in presence, and its rpc method.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use wsfn_client::{Client, Error, Options, TokenSource};
use wsfn_local::{start, Options as LocalOptions};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const SECRET: &str = "example-secret-0123456789";

/// `node server.js` on a free port; the process (killed on drop) and its URL.
async fn node_hooks() -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new("node")
        .arg(format!("{ROOT}/examples/hooks-node/server.js"))
        .env("PORT", "0")
        .env("HOOK_SECRET", SECRET)
        .env("MEMBERS", r#"{"room:staff": ["ann"]}"#)
        .env("BANNED_WORDS", "darn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node is installed (the test command needs it)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("the server starts")
        .unwrap()
        .unwrap();
    let url = line.trim_start_matches("hooks on ").to_string();
    (child, url)
}

#[tokio::test]
async fn the_node_example_runs_the_room() {
    let (_node, url) = node_hooks().await;
    let mut o = LocalOptions::new(format!("{ROOT}/template.yaml"));
    o.listen = "127.0.0.1:0".parse().unwrap();
    o.quiet = true;
    let hooks = json!({
        "connect": url,
        "subscribe": {"target": url, "channels": ["room:*"]},
        "publish": {"target": url, "channels": ["room:*"]},
        "rpc": url,
    });
    o.environment.insert("HOOKS".into(), hooks.to_string());
    o.environment.insert("HOOK_SECRET".into(), SECRET.into());
    let running = start(o).await.unwrap();
    let ws = running.ws_url();
    let client = |user: &str| {
        let token = TokenSource::wsfn_local_dev(&ws, user, Duration::from_secs(3600));
        Client::connect(ws.clone(), Options::new(token))
    };
    let (ann, bob) = (client("ann"), client("bob"));

    let mut staff = ann.subscribe("room:staff").await.unwrap();
    match bob.subscribe("room:staff").await {
        Err(Error::Server { code, .. }) => assert_eq!(code, "forbidden"),
        other => panic!("bob entered the staff room: {other:?}"),
    }
    ann.publish("room:staff", json!({"text": "darn it"}))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), staff.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.data, json!({"text": "**** it"}));
    match ann.publish("room:staff", json!(42)).await {
        Err(Error::Server { code, .. }) => assert_eq!(code, "bad_request"),
        other => panic!("{other:?}"),
    }
    let members = ann.presence("room:staff").await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].info, Some(json!({"name": "ann"})));
    let who = bob
        .rpc("roomMembers", json!({"room": "room:staff"}))
        .await
        .unwrap();
    assert_eq!(who, json!(["ann"]));
    ann.close();
    bob.close();
    running.shutdown().await;
}
