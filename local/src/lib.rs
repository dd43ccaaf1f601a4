//! wsfn-local: a local API Gateway WebSocket emulator driven by template.yaml.
//! [`start`] builds everything and serves on a port; [`router`] is the whole
//! HTTP surface, for tests.

pub mod connections;
pub mod console;
pub mod dev;
pub mod dynamo_faults;
pub mod events_api;
pub mod gateway;
pub mod ids;
pub mod inspect;
pub mod invoker;
pub mod lambda_api;
pub mod management;
pub mod metrics;
mod options;
mod router;
pub mod runtime_api;
mod start;
pub mod template;
pub mod virtuals;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use wsfn::store::{MemoryStore, Store};

use crate::gateway::Gateway;

pub use options::{Options, RuntimeApiOptions, StartError};
pub use router::router;
pub use start::{start, start_with};

/// A running gateway.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (connections, spec).
    pub gateway: Arc<Gateway>,
    /// Which store it uses, for the banner.
    pub store_label: String,
    /// Whether the dev JWT secret is in use.
    pub dev_secret: bool,
    /// The store the functions share (tests and benchmarks inspect it).
    pub store: Arc<dyn Store>,
    /// The embedded store, when that is the one in use.
    pub memory: Option<Arc<MemoryStore>>,
    /// The DynamoDB table, when DynamoDB is in use.
    pub dynamo_table: Option<(wsfn::aws_sdk_dynamodb::Client, String)>,
    /// The functions' metrics (`GET /metrics`).
    pub metrics: Arc<metrics::Registry>,
    /// The management API (throttle and virtual subscriber counts).
    pub management: Arc<management::Surface>,
    /// The Runtime API invoker, in that mode.
    pub runtime: Option<Arc<runtime_api::RuntimeApiInvoker>>,
    /// EventBridge's `PutEvents` (the events the functions sent).
    pub events: Arc<events_api::EventsApi>,
    /// The DynamoDB fault proxy, with `dynamodb_faults`.
    pub dynamo_faults: Option<Arc<dynamo_faults::FaultProxy>>,
    server: tokio::task::JoinHandle<()>,
}

impl Running {
    /// `ws://` URL clients connect to.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The management endpoint the functions push to.
    pub fn management_endpoint(&self) -> String {
        format!("http://{}/{}", self.addr, self.gateway.opts.stage)
    }

    /// Closes every socket with 1001, runs their `$disconnect`s, stops serving.
    pub async fn shutdown(self) {
        self.gateway.shutdown(Duration::from_secs(10)).await;
        self.server.abort();
    }
}

/// A sample event's time fields set to now, as API Gateway would send them
/// (an old `connectedAt` would make every reply carry a `reconnect` frame).
pub fn current_times(mut event: serde_json::Value) -> serde_json::Value {
    let now = wsfn::time::now_millis();
    if let Some(ctx) = event
        .get_mut("requestContext")
        .and_then(|c| c.as_object_mut())
    {
        for field in ["connectedAt", "requestTimeEpoch"] {
            if ctx.contains_key(field) {
                ctx.insert(field.into(), serde_json::json!(now));
            }
        }
        if ctx.contains_key("requestTime") {
            ctx.insert(
                "requestTime".into(),
                serde_json::json!(wsfn::time::format_clf(now)),
            );
        }
    }
    event
}

#[cfg(test)]
mod tests {
    #[test]
    fn sample_event_times_become_current() {
        let event = serde_json::json!({"requestContext": {"connectedAt": 1, "requestTimeEpoch": 2, "requestTime": "x"}, "body": "{}"});
        let now = wsfn::time::now_millis();
        let e = super::current_times(event);
        let ctx = &e["requestContext"];
        assert!(ctx["connectedAt"].as_u64().unwrap_or(0) >= now);
        assert!(ctx["requestTimeEpoch"].as_u64().unwrap_or(0) >= now);
        assert_ne!(ctx["requestTime"], "x");
        assert_eq!(e["body"], "{}");
        // Events without a request context (publish, fanout) are untouched.
        let publish = serde_json::json!({"channel": "room:a", "data": 1});
        assert_eq!(super::current_times(publish.clone()), publish);
    }
}
