//! The Rust hook example on DynamoDB Local: its rules called directly, and
//! the built Lambda run by wsfn-local (through the Runtime API) as the hook
//! of a template that holds it, with wsfn-client on real WebSockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use app_hooks::Rules;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use futures::StreamExt;
use serde_json::json;
use wsfn_client::{Client, Error, Options, TokenSource};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn endpoint() -> String {
    std::env::var("WSFN_TEST_DYNAMODB_ENDPOINT")
        .expect("WSFN_TEST_DYNAMODB_ENDPOINT is not set: run the tests with scripts/test.sh")
}

/// The app's table on DynamoDB Local, with a private room of one member.
async fn app_table() -> (aws_sdk_dynamodb::Client, String) {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .load()
        .await;
    let db = aws_sdk_dynamodb::Client::new(&sdk);
    let table = format!("app-{:x}", rand::random::<u64>());
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    db.create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .unwrap();
    for sk in ["private", "member#ann"] {
        db.put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S("room:staff".into()))
            .item("sk", AttributeValue::S(sk.into()))
            .send()
            .await
            .unwrap();
    }
    (db, table)
}

async fn stored(db: &aws_sdk_dynamodb::Client, table: &str, channel: &str) -> Vec<String> {
    let r = db
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("msgs#{channel}")))
        .send()
        .await
        .unwrap();
    r.items()
        .iter()
        .filter_map(|i| i.get("data")?.as_s().ok().cloned())
        .collect()
}

#[tokio::test]
async fn the_rules() {
    let (db, table) = app_table().await;
    let rules = Rules {
        db: db.clone(),
        table: table.clone(),
        banned: vec!["darn".into()],
    };
    let ask = |req: serde_json::Value| {
        let rules = rules.clone();
        async move { rules.handle(&req).await.unwrap() }
    };
    let sub =
        |user: &str, channel: &str| json!({"hook": "subscribe", "user": user, "channel": channel});
    assert_eq!(ask(sub("ann", "room:staff")).await, json!({"allow": true}));
    assert_eq!(ask(sub("bob", "room:staff")).await["code"], "forbidden");
    assert_eq!(ask(sub("bob", "room:lobby")).await, json!({"allow": true}));
    let p = ask(json!({"hook": "publish", "user": "ann", "channel": "room:lobby", "data": {"text": "Darn it"}, "id": "m1"})).await;
    assert_eq!(p, json!({"allow": true, "data": {"text": "**** it"}}));
    assert_eq!(
        stored(&db, &table, "room:lobby").await,
        vec![r#"{"text":"**** it"}"#]
    );
    let bad =
        ask(json!({"hook": "publish", "user": "ann", "channel": "room:lobby", "data": 3})).await;
    assert_eq!(bad["code"], "bad_request");
    let members =
        ask(json!({"hook": "rpc", "method": "roomMembers", "data": {"room": "room:staff"}})).await;
    assert_eq!(members, json!({"data": ["ann"]}));
    let c = ask(json!({"hook": "connect", "user": "ann", "claims": {"sub": "ann"}})).await;
    assert_eq!(c, json!({"allow": true, "info": {"name": "ann"}}));
    assert!(rules.handle(&json!({"hook": "nope"})).await.is_err());
}

/// template.yaml with the example's snippet added, as a team would.
fn template_with_snippet(table: &str) -> String {
    let mut t: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(format!("{ROOT}/template.yaml")).unwrap())
            .unwrap();
    let mut s: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(format!("{ROOT}/examples/hooks-rust/template-snippet.yaml"))
            .unwrap(),
    )
    .unwrap();
    let f = &mut s["Resources"]["AppHooksFunction"];
    f["Properties"]["Environment"]["Variables"]["APP_TABLE"] = table.into();
    t["Resources"]["AppHooksFunction"] = f.clone();
    let path =
        std::env::temp_dir().join(format!("wsfn-app-hooks-{:x}.yaml", rand::random::<u64>()));
    std::fs::write(&path, serde_yaml::to_string(&t).unwrap()).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn through_wsfn_local_dynamodb_local() {
    let (db, table) = app_table().await;
    let mut o = wsfn_local::Options::new(template_with_snippet(&table));
    o.listen = "127.0.0.1:0".parse().unwrap();
    o.quiet = true;
    o.dynamodb_endpoint = Some(endpoint());
    o.environment.insert(
        "TABLE_NAME".into(),
        format!("wsfn-{:x}", rand::random::<u64>()),
    );
    let hooks = json!({
        "connect": "AppHooksFunction",
        "subscribe": {"target": "AppHooksFunction", "channels": ["room:*"]},
        "publish": {"target": "AppHooksFunction", "channels": ["room:*"]},
        "rpc": "AppHooksFunction",
    });
    o.environment.insert("HOOKS".into(), hooks.to_string());
    if std::env::var("WSFN_TEST_INVOKER").as_deref() == Ok("runtime-api") {
        o.runtime_api = Some(wsfn_local::RuntimeApiOptions {
            binaries: wsfn_local::runtime_api::default_binaries(),
            max_instances: 4,
            cpu_share: false,
            timeout: None,
        });
    }
    let running = wsfn_local::start(o).await.unwrap();
    let url = running.ws_url();
    let client = |user: &str| {
        let token = TokenSource::wsfn_local_dev(&url, user, Duration::from_secs(3600));
        Client::connect(url.clone(), Options::new(token))
    };
    let (ann, bob) = (client("ann"), client("bob"));
    let mut staff = ann.subscribe("room:staff").await.unwrap();
    match bob.subscribe("room:staff").await {
        Err(Error::Server { code, .. }) => assert_eq!(code, "forbidden"),
        other => panic!("bob entered: {other:?}"),
    }
    ann.publish("room:staff", json!({"text": "darn it"}))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), staff.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.data, json!({"text": "**** it"}));
    assert_eq!(stored(&db, &table, "room:staff").await.len(), 1);
    let who = bob
        .rpc("roomMembers", json!({"room": "room:staff"}))
        .await
        .unwrap();
    assert_eq!(who, json!(["ann"]));
    let members = ann.presence("room:staff").await.unwrap();
    assert_eq!(members[0].info, Some(json!({"name": "ann"})));
    ann.close();
    bob.close();
    running.shutdown().await;
}
