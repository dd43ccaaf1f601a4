//! wsfn-cli against wsfn-local: the README's terminal walkthrough.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");

fn cli(url: &str, user: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wsfn-cli"));
    c.args(["--url", url, "--dev-user", user])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

#[tokio::test]
async fn subscribe_publish_and_history_from_a_terminal() {
    let mut o = wsfn_local::Options::new(TEMPLATE);
    o.listen = "127.0.0.1:0".parse().unwrap();
    o.quiet = true;
    let running = wsfn_local::start(o).await.unwrap();
    let url = running.ws_url();

    let mut sub = cli(&url, "alice")
        .args(["subscribe", "room:cli", "--count", "2"])
        .spawn()
        .unwrap();
    let mut err = BufReader::new(sub.stderr.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = err.next_line().await.unwrap() {
            if line.contains("subscribed to room:cli") {
                return;
            }
        }
        panic!("the subscriber exited before subscribing");
    });
    ready.await.expect("subscribed in time");

    let publish = cli(&url, "bob")
        .args(["publish", "room:cli", r#"{"text":"hi"}"#, "plain words"])
        .output()
        .await
        .unwrap();
    assert!(publish.status.success(), "{publish:?}");
    let acks: Vec<serde_json::Value> = String::from_utf8_lossy(&publish.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(acks.len(), 2);
    assert_eq!(
        (acks[0]["seq"].as_u64(), acks[1]["seq"].as_u64()),
        (Some(1), Some(2))
    );

    let out = tokio::time::timeout(Duration::from_secs(20), sub.wait_with_output())
        .await
        .expect("the subscriber exits after --count messages")
        .unwrap();
    assert!(out.status.success());
    let messages: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["data"], serde_json::json!({"text": "hi"}));
    assert_eq!(messages[1]["data"], "plain words");
    assert_eq!(messages[1]["from"], "bob");

    let history = cli(&url, "carol")
        .args(["history", "room:cli"])
        .output()
        .await
        .unwrap();
    assert!(history.status.success(), "{history:?}");
    let page: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(2));

    // Without a token source: a clear error, not a hang.
    let bad = Command::new(env!("CARGO_BIN_EXE_wsfn-cli"))
        .args(["--url", &url, "publish", "room:cli", "x"])
        .env_remove("WSFN_TOKEN")
        .output()
        .await
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("a token is needed"));
    running.shutdown().await;
}
