//! `--fail-dynamodb`: DynamoDB answering a share of calls as it does when it
//! is overloaded or failing, for every function alike (in process and
//! through the Runtime API). The functions' real SDK clients point at this
//! proxy on wsfn-local's own port (`/_wsfn/dynamodb`); it forwards each call
//! to the real endpoint (DynamoDB Local) or, for a share of them, answers
//! instead: `ThrottlingException` or `ProvisionedThroughputExceededException`
//! (400, nothing written), `InternalServerError` (500) before the call
//! reaches the table, or 500 after it took effect — the case a retry must
//! survive — optionally after added latency. The SDK retries these as it
//! would against DynamoDB; what still fails reaches the handlers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use serde_json::json;

/// The shares of calls answered with each fault (0–1 each, at most 1 in all).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DynamoFaults {
    /// `ThrottlingException` (400), nothing written.
    pub throttle: f64,
    /// `ProvisionedThroughputExceededException` (400), nothing written.
    pub capacity: f64,
    /// `InternalServerError` (500) before the call reaches the table.
    pub before: f64,
    /// `InternalServerError` (500) after the call took effect.
    pub after: f64,
    /// Share of calls delayed by `latency`.
    pub slow: f64,
    /// Added latency of a delayed call.
    pub latency: Duration,
}

impl DynamoFaults {
    /// `P` (split evenly over throttle, capacity, before and after), or a
    /// comma list of `throttle=P`, `capacity=P`, `before=P`, `after=P`,
    /// `latency=MS` (every call) or `latency=MS@P` (a share P of calls).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let share = |v: &str, what: &str| -> Result<f64, String> {
            match v.trim().parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
                _ => Err(format!("{what} `{v}` must be a share from 0 to 1")),
            }
        };
        if let Ok(p) = spec.trim().parse::<f64>() {
            let p = share(&p.to_string(), "--fail-dynamodb")?;
            return Ok(Self {
                throttle: p / 4.0,
                capacity: p / 4.0,
                before: p / 4.0,
                after: p / 4.0,
                ..Self::default()
            });
        }
        let mut f = Self::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected KIND=SHARE"))?;
            match k.trim() {
                "throttle" => f.throttle = share(v, k)?,
                "capacity" => f.capacity = share(v, k)?,
                "before" => f.before = share(v, k)?,
                "after" => f.after = share(v, k)?,
                "latency" => {
                    let (ms, p) = v.split_once('@').unwrap_or((v, "1"));
                    let ms: u64 = ms
                        .trim()
                        .parse()
                        .map_err(|_| format!("latency `{ms}` must be milliseconds"))?;
                    f.latency = Duration::from_millis(ms);
                    f.slow = share(p, "latency share")?;
                }
                other => {
                    return Err(format!(
                        "unknown fault `{other}` (throttle, capacity, before, after, latency)"
                    ))
                }
            }
        }
        if f.throttle + f.capacity + f.before + f.after > 1.0 {
            return Err("the shares add up to more than 1".into());
        }
        Ok(f)
    }

    /// Whether anything is injected.
    pub fn any(&self) -> bool {
        self.throttle + self.capacity + self.before + self.after > 0.0
            || (self.slow > 0.0 && !self.latency.is_zero())
    }
}

/// What the proxy did, for `GET /_wsfn/stats`.
#[derive(Debug, Default)]
pub struct FaultCounts {
    /// Calls seen.
    pub calls: AtomicU64,
    /// Answered `ThrottlingException`.
    pub throttled: AtomicU64,
    /// Answered `ProvisionedThroughputExceededException`.
    pub over_capacity: AtomicU64,
    /// Answered 500 without forwarding.
    pub failed_before: AtomicU64,
    /// Forwarded, then answered 500.
    pub failed_after: AtomicU64,
    /// Delayed.
    pub delayed: AtomicU64,
}

impl FaultCounts {
    /// Calls answered with a fault (delays not counted).
    pub fn injected(&self) -> u64 {
        [
            &self.throttled,
            &self.over_capacity,
            &self.failed_before,
            &self.failed_after,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
    }

    /// The counts as JSON.
    pub fn json(&self) -> serde_json::Value {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "calls": get(&self.calls),
            "throttled": get(&self.throttled),
            "over_capacity": get(&self.over_capacity),
            "failed_before": get(&self.failed_before),
            "failed_after": get(&self.failed_after),
            "delayed": get(&self.delayed),
        })
    }
}

/// The proxy's state.
#[derive(Debug)]
pub struct FaultProxy {
    target: String,
    faults: DynamoFaults,
    client: Client<HttpConnector, Full<Bytes>>,
    /// What it did.
    pub counts: FaultCounts,
}

/// The path the functions' DynamoDB endpoint points at.
pub const PATH: &str = "/_wsfn/dynamodb";

impl FaultProxy {
    /// A proxy to `target` (`http://127.0.0.1:8000`).
    pub fn new(target: &str, faults: DynamoFaults) -> Self {
        Self {
            target: target.trim_end_matches('/').to_string(),
            faults,
            client: Client::builder(hyper_util::rt::TokioExecutor::new()).build_http(),
            counts: FaultCounts::default(),
        }
    }
}

enum Fault {
    Throttle,
    Capacity,
    Before,
    After,
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response<Body> {
    let body =
        json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"), "message": message});
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    r
}

/// `POST /_wsfn/dynamodb`: one DynamoDB API call, forwarded or failed.
pub async fn handle(State(proxy): State<Arc<FaultProxy>>, req: Request) -> Response<Body> {
    let f = &proxy.faults;
    let c = &proxy.counts;
    c.calls.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            "unreadable body",
        );
    };
    if f.slow > 0.0 && !f.latency.is_zero() && rand::random::<f64>() < f.slow {
        c.delayed.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(f.latency).await;
    }
    let roll = rand::random::<f64>();
    let fault = [
        (f.throttle, Fault::Throttle),
        (f.capacity, Fault::Capacity),
        (f.before, Fault::Before),
        (f.after, Fault::After),
    ]
    .into_iter()
    .scan(0.0, |acc, (p, kind)| {
        *acc += p;
        Some((*acc, kind))
    })
    .find(|(upto, _)| roll < *upto)
    .map(|(_, kind)| kind);
    match fault {
        Some(Fault::Throttle) => {
            c.throttled.fetch_add(1, Ordering::Relaxed);
            return error(
                StatusCode::BAD_REQUEST,
                "ThrottlingException",
                "Rate of requests exceeds the allowed throughput. (--fail-dynamodb)",
            );
        }
        Some(Fault::Capacity) => {
            c.over_capacity.fetch_add(1, Ordering::Relaxed);
            return error(
                StatusCode::BAD_REQUEST,
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded. (--fail-dynamodb)",
            );
        }
        Some(Fault::Before) => {
            c.failed_before.fetch_add(1, Ordering::Relaxed);
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Internal server error (--fail-dynamodb, before the call)",
            );
        }
        _ => {}
    }
    let mut forward = hyper::Request::builder()
        .method(parts.method)
        .uri(format!("{}/", proxy.target));
    for (k, v) in &parts.headers {
        if k != header::HOST {
            forward = forward.header(k, v);
        }
    }
    let Ok(forward) = forward.body(Full::new(body)) else {
        return error(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            "bad request",
        );
    };
    let answer = match proxy.client.request(forward).await {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                &format!("the DynamoDB endpoint behind --fail-dynamodb: {e}"),
            )
        }
    };
    let (parts, body) = answer.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if matches!(fault, Some(Fault::After)) {
        c.failed_after.fetch_add(1, Ordering::Relaxed);
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Internal server error (--fail-dynamodb, after the call took effect)",
        );
    }
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = parts.status;
    *r.headers_mut() = parts.headers;
    r
}

#[cfg(test)]
mod tests {
    use super::DynamoFaults;

    #[test]
    fn specs() {
        let f = DynamoFaults::parse("0.1").unwrap();
        assert_eq!((f.throttle, f.after), (0.025, 0.025));
        let f = DynamoFaults::parse("throttle=0.05, after=0.1, latency=200@0.5").unwrap();
        assert_eq!(
            (f.throttle, f.capacity, f.after, f.slow),
            (0.05, 0.0, 0.1, 0.5)
        );
        assert_eq!(f.latency.as_millis(), 200);
        assert!(f.any());
        for bad in [
            "2",
            "throttle=x",
            "oops=0.1",
            "before=0.6,after=0.6",
            "latency=fast",
        ] {
            assert!(DynamoFaults::parse(bad).is_err(), "{bad}");
        }
        assert!(!DynamoFaults::parse("0").unwrap().any());
    }
}
