//! Hooks end to end: wsfn-client over real WebSockets to wsfn-local (the
//! embedded store, and DynamoDB Local — through the real binaries when
//! `WSFN_TEST_INVOKER=runtime-api`), whose functions call a real signed
//! HTTP hook server: a rewritten publish, a refused subscribe, an rpc.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../shared/tests/hook_server/mod.rs"]
mod hook_server;

use std::time::Duration;

use futures::StreamExt;
use hook_server::{Answer, HookServer, SECRET};
use serde_json::{json, Value};
use wsfn_client::{Client, Error, Options, TokenSource};
use wsfn_local::{start, Options as LocalOptions};

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");

fn answer(req: &Value) -> Answer {
    Answer::json(match (req["hook"].as_str(), req["channel"].as_str()) {
        (Some("subscribe"), Some("vip:lounge")) => {
            json!({"allow": false, "code": "forbidden", "message": "members only"})
        }
        (Some("subscribe"), _) => json!({"allow": true}),
        (Some("publish"), _) => {
            let text = req["data"]["text"].as_str().unwrap_or_default();
            json!({"allow": true, "data": {"text": text.replace("darn", "****")}})
        }
        (Some("rpc"), _) => json!({"data": {"method": req["method"], "user": req["user"]}}),
        _ => json!({"allow": false}),
    })
}

fn options(server: &HookServer, dynamodb: bool) -> LocalOptions {
    let mut o = LocalOptions::new(TEMPLATE);
    o.listen = "127.0.0.1:0".parse().unwrap();
    o.quiet = true;
    let hooks = json!({
        "subscribe": {"target": server.url, "channels": ["vip:*"]},
        "publish": {"target": server.url, "channels": ["room:*"]},
        "rpc": server.url,
    });
    o.environment.insert("HOOKS".into(), hooks.to_string());
    o.environment.insert("HOOK_SECRET".into(), SECRET.into());
    if dynamodb {
        o.dynamodb_endpoint =
            Some(std::env::var("WSFN_TEST_DYNAMODB_ENDPOINT").expect(
                "WSFN_TEST_DYNAMODB_ENDPOINT is not set: run the tests with scripts/test.sh",
            ));
        o.environment.insert(
            "TABLE_NAME".into(),
            format!("wsfn-hooks-{:x}", rand::random::<u64>()),
        );
        if std::env::var("WSFN_TEST_INVOKER").as_deref() == Ok("runtime-api") {
            o.runtime_api = Some(wsfn_local::RuntimeApiOptions {
                binaries: wsfn_local::runtime_api::default_binaries(),
                max_instances: 4,
                cpu_share: false,
                timeout: None,
            });
        }
    }
    o
}

async fn hooks_run_end_to_end(dynamodb: bool) {
    let server = HookServer::start(answer).await;
    let running = start(options(&server, dynamodb)).await.unwrap();
    let url = running.ws_url();
    let token = TokenSource::wsfn_local_dev(&url, "ann", Duration::from_secs(3600));
    let client = Client::connect(url, Options::new(token));

    let mut room = client.subscribe("room:1").await.unwrap();
    let ack = client
        .publish("room:1", json!({"text": "darn it"}))
        .await
        .unwrap();
    assert_eq!(ack.seq, 1);
    let got = tokio::time::timeout(Duration::from_secs(10), room.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got.data,
        json!({"text": "**** it"}),
        "the hook's replacement"
    );

    match client.subscribe("vip:lounge").await {
        Err(Error::Server { code, message }) => {
            assert_eq!(
                (code.as_str(), message.as_str()),
                ("forbidden", "members only")
            )
        }
        other => panic!("{other:?}"),
    }
    client.subscribe("vip:bar").await.unwrap();

    let data = client.rpc("whoami", json!(null)).await.unwrap();
    assert_eq!(data, json!({"method": "whoami", "user": "ann"}));

    let received = server.received();
    assert!(received.iter().all(|r| r.signed), "every request signed");
    assert_eq!(
        server.calls("publish").len(),
        1,
        "one call per hooked action"
    );
    client.close();
    running.shutdown().await;
}

#[tokio::test]
async fn hooks_through_wsfn_local_embedded() {
    hooks_run_end_to_end(false).await;
}

#[tokio::test]
async fn hooks_through_wsfn_local_dynamodb_local() {
    hooks_run_end_to_end(true).await;
}
