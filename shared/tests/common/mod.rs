//! Shared test harness: both store backends and a handler driver.
#![allow(dead_code)]

pub(crate) mod calls;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use wsfn::app::App;
use wsfn::config::Config;
use wsfn::events::{self, ConnectionInfo};
use wsfn::handlers;
use wsfn::protocol::ServerFrame;
use wsfn::store::{create_table, DynamoStore, MemoryStore, Store};
use wsfn::testkit::RecordingPusher;

pub(crate) const SECRET: &str = "test-secret-0123456789";

/// DynamoDB Local endpoint, set by scripts/test.sh.
pub(crate) fn dynamodb_endpoint() -> String {
    std::env::var("WSFN_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!("WSFN_TEST_DYNAMODB_ENDPOINT is not set: run the tests with scripts/test.sh, which starts DynamoDB Local")
    })
}

pub(crate) async fn dynamo_client() -> wsfn::aws_sdk_dynamodb::Client {
    let creds =
        wsfn::aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests");
    let conf = wsfn::aws_sdk_dynamodb::config::Builder::new()
        .behavior_version_latest()
        .region(wsfn::aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .endpoint_url(dynamodb_endpoint())
        .build();
    wsfn::aws_sdk_dynamodb::Client::from_conf(conf)
}

pub(crate) fn unique(prefix: &str) -> String {
    use rand::Rng;
    format!(
        "{prefix}-{:012x}",
        rand::rng().random::<u64>() & 0xffff_ffff_ffff
    )
}

/// A fresh DynamoDB Local table and its store.
pub(crate) async fn dynamo_store() -> (Arc<DynamoStore>, String) {
    let client = dynamo_client().await;
    let table = unique("wsfn-test");
    create_table(&client, &table).await.expect("create table");
    (Arc::new(DynamoStore::new(client, table.clone())), table)
}

/// Every item of a table whose pk or sk mentions `needle` (test-only Scan).
pub(crate) async fn dynamo_items_mentioning(table: &str, needle: &str) -> usize {
    let client = dynamo_client().await;
    let mut n = 0;
    let mut start = None;
    loop {
        let r = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        for item in r.items() {
            let text = format!("{:?}", item);
            if text.contains(needle) {
                n += 1;
            }
        }
        match r.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return n,
        }
    }
}

#[derive(Clone)]
pub(crate) enum Backend {
    Memory(Arc<MemoryStore>),
    Dynamo(Arc<DynamoStore>, String),
}

impl Backend {
    pub(crate) async fn memory() -> Self {
        Self::Memory(Arc::new(MemoryStore::new()))
    }
    pub(crate) async fn dynamo() -> Self {
        let (s, t) = dynamo_store().await;
        Self::Dynamo(s, t)
    }
    pub(crate) fn store(&self) -> Arc<dyn Store> {
        match self {
            Self::Memory(s) => s.clone(),
            Self::Dynamo(s, _) => s.clone(),
        }
    }
    /// `n` handles on the same data, like `n` Lambda instances: separate
    /// DynamoDB clients (and per-process state) on one table; the embedded
    /// store is one process, so the same store.
    pub(crate) async fn instances(&self, n: usize) -> Vec<Arc<dyn Store>> {
        let mut out: Vec<Arc<dyn Store>> = Vec::new();
        for _ in 0..n {
            match self {
                Self::Memory(s) => out.push(s.clone()),
                Self::Dynamo(_, t) => {
                    out.push(Arc::new(DynamoStore::new(dynamo_client().await, t.clone())))
                }
            }
        }
        out
    }
    /// How many stored entries still mention this connection.
    pub(crate) async fn leftovers(&self, connection_id: &str) -> usize {
        match self {
            Self::Memory(s) => s.entries_of_connection(connection_id),
            Self::Dynamo(_, t) => dynamo_items_mentioning(t, connection_id).await,
        }
    }
}

/// Runs one async test body against both backends.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $name() { super::$name($crate::common::Backend::memory().await).await }) *
        }
        mod dynamodb {
            $(#[tokio::test] async fn $name() { super::$name($crate::common::Backend::dynamo().await).await }) *
        }
    };
}

/// Drives the WebSocket handlers like API Gateway would.
pub(crate) struct Harness {
    pub backend: Backend,
    pub app: App,
    pub pusher: RecordingPusher,
    next_request: std::sync::atomic::AtomicU64,
}

pub(crate) fn config(extra: &[(&str, &str)]) -> Config {
    let mut map: HashMap<String, String> = HashMap::from([
        ("TABLE_NAME".into(), "unused".into()),
        ("JWT_SECRET".into(), SECRET.into()),
    ]);
    for (k, v) in extra {
        map.insert(k.to_string(), v.to_string());
    }
    Config::from_map(&map).expect("config")
}

pub(crate) fn info(id: &str) -> ConnectionInfo {
    ConnectionInfo {
        connection_id: id.into(),
        domain_name: "abc123.execute-api.us-east-1.amazonaws.com".into(),
        stage: "prod".into(),
        api_id: "abc123".into(),
        connected_at: wsfn::time::now_millis(),
        source_ip: "127.0.0.1".into(),
    }
}

pub(crate) fn token(sub: &str, subscribe: &[&str], publish: &[&str]) -> String {
    wsfn::testkit::token(SECRET, sub, subscribe, publish)
}

impl Harness {
    pub(crate) fn new(backend: Backend, extra: &[(&str, &str)]) -> Self {
        let pusher = RecordingPusher::new();
        let app = App::new(config(extra), backend.store(), Arc::new(pusher.clone()));
        Self {
            backend,
            app,
            pusher,
            next_request: 0.into(),
        }
    }

    fn rid(&self) -> String {
        let n = self
            .next_request
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("req-{n}")
    }

    /// `$connect` with arbitrary headers and query; returns status and the
    /// `Sec-WebSocket-Protocol` response header.
    pub(crate) async fn connect_with(
        &self,
        id: &str,
        headers: &[(&str, &str)],
        query: &[(&str, &str)],
    ) -> (i64, Option<String>) {
        let h: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let q: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let ev = events::parse(events::connect_json(
            &info(id),
            &h,
            &q,
            &self.rid(),
            wsfn::time::now_millis(),
        ));
        let r = handlers::connect(ev, &self.app, &Default::default())
            .await
            .expect("connect handler");
        let proto = r
            .headers
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (r.status_code, proto)
    }

    /// `$connect` of a connection opened `age` ago; returns the status.
    pub(crate) async fn connect_aged(
        &self,
        id: &str,
        token: &str,
        age: std::time::Duration,
    ) -> i64 {
        let auth = format!("Bearer {token}");
        let mut i = info(id);
        i.connected_at -= age.as_millis() as u64;
        let ev = events::parse(events::connect_json(
            &i,
            &[("Authorization".to_string(), auth)],
            &[],
            &self.rid(),
            wsfn::time::now_millis(),
        ));
        handlers::connect(ev, &self.app, &Default::default())
            .await
            .expect("connect handler")
            .status_code
    }

    /// `$connect` with a bearer header; asserts success.
    pub(crate) async fn connect(&self, id: &str, token: &str) {
        let auth = format!("Bearer {token}");
        let (status, _) = self
            .connect_with(id, &[("Authorization", &auth)], &[])
            .await;
        assert_eq!(status, 200, "connect {id}");
    }

    pub(crate) async fn disconnect(&self, id: &str) {
        let ev = events::parse(events::disconnect_json(
            &info(id),
            1000,
            "Client closed",
            &self.rid(),
            wsfn::time::now_millis(),
        ));
        let r = handlers::disconnect(ev, &self.app, &Default::default())
            .await
            .expect("disconnect handler");
        assert_eq!(r.status_code, 200);
    }

    /// Delivers a raw frame to the message handler; replies stay in the
    /// recorder (collect them with [`Harness::received`]).
    pub(crate) async fn deliver(&self, id: &str, body: &str) {
        let ev = events::parse(events::message_json(
            &info(id),
            "$default",
            body,
            "msg",
            &self.rid(),
            wsfn::time::now_millis(),
        ));
        let r = handlers::message(ev, &self.app, &Default::default())
            .await
            .expect("message handler");
        assert_eq!(r.status_code, 200);
    }

    /// Sends a raw frame and returns what the sender received.
    pub(crate) async fn send_raw(&self, id: &str, body: &str) -> Vec<ServerFrame> {
        self.deliver(id, body).await;
        self.pusher.take(id)
    }

    /// Sends a frame without collecting replies (for pipelined sends).
    pub(crate) async fn send_quiet(&self, id: &str, frame: Value) {
        self.deliver(id, &frame.to_string()).await;
    }

    pub(crate) async fn send(&self, id: &str, frame: Value) -> Vec<ServerFrame> {
        self.send_raw(id, &frame.to_string()).await
    }

    pub(crate) fn received(&self, id: &str) -> Vec<ServerFrame> {
        self.pusher.take(id)
    }
}

pub(crate) fn error_code(
    frames: &[ServerFrame],
) -> Option<(Option<String>, wsfn::protocol::ErrorCode)> {
    frames.iter().find_map(|f| match f {
        ServerFrame::Error { id, code, .. } => Some((id.clone(), *code)),
        _ => None,
    })
}

pub(crate) fn messages(frames: &[ServerFrame]) -> Vec<wsfn::protocol::MessageFrame> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}
