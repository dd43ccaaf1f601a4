//! The cost model (docs/cost.md): what each action, an idle hour and an
//! active hour cost at list prices, computed from what `cost.rs` measured
//! (DynamoDB request units, management API calls) — beside AppSync Events'
//! published prices for the same work. The test fails when docs/cost.md's
//! table differs from what this computes.

use std::collections::BTreeMap;

/// List prices, us-east-1, as published on 2026-12-07
/// (aws.amazon.com/api-gateway/pricing, /lambda/pricing,
/// /dynamodb/pricing/on-demand, /appsync/pricing).
pub(crate) mod price {
    /// API Gateway WebSocket: a message (32 KB units), either direction.
    pub(crate) const MESSAGE: f64 = 1.00e-6;
    /// API Gateway WebSocket: a connection-minute.
    pub(crate) const CONNECTION_MINUTE: f64 = 0.25e-6;
    /// Lambda: a request.
    pub(crate) const LAMBDA_REQUEST: f64 = 0.20e-6;
    /// Lambda: a GB-second on arm64 (the template's default architecture).
    pub(crate) const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
    /// DynamoDB on demand: a read request unit.
    pub(crate) const RRU: f64 = 0.125e-6;
    /// DynamoDB on demand: a write request unit.
    pub(crate) const WRU: f64 = 0.625e-6;
    /// AppSync Events: an operation (a publish, each delivery, ...).
    pub(crate) const APPSYNC_OPERATION: f64 = 1.00e-6;
    /// AppSync Events: a connection-minute.
    pub(crate) const APPSYNC_CONNECTION_MINUTE: f64 = 0.08e-6;
}

/// Billed time of one invocation: MessageFunction's warm duration in the
/// functions benchmark (29–31 ms, docs/performance.md), at 256 MB.
const INVOCATION_GB_SECONDS: f64 = 0.030 * 0.25;
/// The clients' default heartbeat (a ping after 100 s without a frame).
pub(crate) const PING_INTERVAL_S: f64 = 100.0;
/// Before this model: a ping every 25 s, through the message function.
const OLD_PING_INTERVAL_S: f64 = 25.0;

/// What one function action used: its request units and management API calls.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measured {
    pub(crate) rru: f64,
    pub(crate) wru: f64,
    pub(crate) posts: u32,
}

impl Measured {
    /// A client frame handled by the message function: the frame, each
    /// frame pushed back or out, one invocation, the units.
    fn dollars(&self) -> f64 {
        f64::from(1 + self.posts) * price::MESSAGE
            + price::LAMBDA_REQUEST
            + INVOCATION_GB_SECONDS * price::LAMBDA_GB_SECOND
            + self.rru * price::RRU
            + self.wru * price::WRU
    }
}

fn usd(x: f64) -> String {
    if x == 0.0 {
        "$0".into()
    } else {
        format!("${x:.1e}")
    }
}

/// The model's rows: what is priced, wsfn, AppSync Events, and the basis.
pub(crate) fn rows(m: &BTreeMap<&str, Measured>) -> Vec<[String; 4]> {
    let get = |name: &str| *m.get(name).unwrap_or_else(|| panic!("no row {name}"));
    let ping = 2.0 * price::MESSAGE;
    let old_ping = get("ping, if it reaches the message function").dollars();
    let per_hour = |interval: f64| 3600.0 / interval;
    let fee_hour = 60.0 * price::CONNECTION_MINUTE;
    let appsync_hour = 60.0 * price::APPSYNC_CONNECTION_MINUTE;
    let history = get("history").dollars();
    let heartbeat_hour = per_hour(PING_INTERVAL_S) * ping;
    let delivered = |n: f64| n * price::MESSAGE;
    let publish3 = get("publish, 3 subscribers").dollars();
    let publish100 = get("publish, 100 subscribers").dollars();
    let row = |a: &str, b: f64, c: Option<f64>, d: &str| {
        [
            a.to_string(),
            usd(b),
            c.map_or("—".into(), usd),
            d.to_string(),
        ]
    };
    vec![
        row(
            "ping (API Gateway's MOCK route)",
            ping,
            None,
            "2 messages; no function, no table",
        ),
        row(
            "ping through the message function (before)",
            old_ping,
            None,
            "2 messages, 1 invocation, 1 RRU + 1 WRU",
        ),
        row(
            "idle connection-hour: heartbeat",
            heartbeat_hour,
            Some(0.0),
            &format!(
                "36 pings (one per 100 s of silence); before: {} (144 through the function)",
                usd(per_hour(OLD_PING_INTERVAL_S) * old_ping)
            ),
        ),
        row(
            "idle connection-hour: connection minutes",
            fee_hour,
            Some(appsync_hour),
            "60 connection-minutes",
        ),
        row(
            "each quiet subscribed channel, per hour",
            history,
            Some(0.0),
            "one `history` read an hour (the lost-message check)",
        ),
        row(
            "active connection-hour, 1 message a minute",
            delivered(60.0) + fee_hour,
            Some(60.0 * price::APPSYNC_OPERATION + appsync_hour),
            "60 deliveries + connection minutes; frames keep it alive (no pings)",
        ),
        row(
            "active connection-hour, 1 message a second",
            delivered(3600.0) + fee_hour,
            Some(3600.0 * price::APPSYNC_OPERATION + appsync_hour),
            "3,600 deliveries + connection minutes",
        ),
        row(
            "publish to a channel of 3",
            publish3,
            Some(4.0 * price::APPSYNC_OPERATION),
            "frame, ack, 3 deliveries, 1 invocation, measured units",
        ),
        row(
            "publish to a channel of 100",
            publish100,
            Some(101.0 * price::APPSYNC_OPERATION),
            "frame, ack, 100 deliveries, 1 invocation, measured units",
        ),
        row(
            "ephemeral publish to a channel of 3",
            get("publish ephemeral, 3 subscribers").dollars(),
            Some(4.0 * price::APPSYNC_OPERATION),
            "frame, ack, 3 deliveries, 1 invocation; the rate limit's write only",
        ),
        row(
            "subscribe to a `PRESENCE_EVENTS` channel of 3 (a join to the 2 others)",
            get("subscribe, PRESENCE_EVENTS channel (join to 2 others)").dollars(),
            None,
            "frame, reply, 2 `join` deliveries, 1 invocation, measured units",
        ),
        row(
            "`history` read (a tail check after a burst)",
            history,
            None,
            "frame, reply, 1 invocation, measured units",
        ),
    ]
}

/// The rows as docs/cost.md shows them.
pub(crate) fn markdown(rows: &[[String; 4]]) -> Vec<String> {
    rows.iter()
        .map(|[a, b, c, d]| format!("| {a} | {b} | {c} | {d} |"))
        .collect()
}
