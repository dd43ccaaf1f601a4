//! The Lambda Invoke API on the gateway's port, so `aws lambda invoke
//! --endpoint-url http://127.0.0.1:3001 --function-name PublishFunction …`
//! and the AWS SDKs' Lambda clients work locally unchanged:
//! `POST /2015-03-31/functions/{name}/invocations` with a function name or
//! ARN; `RequestResponse` (default), `Event` (202, run in the background
//! with Lambda's two retries) and `DryRun` (204); an unknown function is
//! 404 `ResourceNotFoundException`, a function error is 200 with
//! `X-Amz-Function-Error: Unhandled`, as Lambda answers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde_json::json;

use crate::gateway::Gateway;
use crate::invoker::InvokeError;

/// Lambda retries a failed asynchronous invocation twice.
const ASYNC_ATTEMPTS: u32 = 3;

/// The function's logical id from a name or an ARN
/// (`arn:aws:lambda:region:account:function:Name[:qualifier]`).
pub fn function_name(name_or_arn: &str) -> &str {
    match name_or_arn.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => name_or_arn,
    }
}

fn answer(status: StatusCode, body: serde_json::Value, headers: &[(&str, &str)]) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(k, v);
        }
    }
    r
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response<Body> {
    answer(
        status,
        json!({"Type": "User", "message": message}),
        &[("x-amzn-ErrorType", kind)],
    )
}

/// The logical id of the function a name (logical id or `FunctionName`)
/// designates.
fn logical_id(gw: &Gateway, name: &str) -> Option<String> {
    if gw.spec.functions.contains_key(name) {
        return Some(name.to_string());
    }
    gw.spec
        .functions
        .values()
        .find(|f| f.name.as_deref() == Some(name))
        .map(|f| f.logical_id.clone())
}

/// The console's name for an invocation: a fan-out shard says so, with its
/// channel and id range.
fn label(function: &str, event: &serde_json::Value) -> String {
    match (event.get("channel"), event.get("range")) {
        (Some(channel), Some(range)) => {
            let bound = |k: &str| {
                range
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            format!(
                "{function} fanout {} [{}..{})",
                channel.as_str().unwrap_or_default(),
                bound("from"),
                bound("to")
            )
        }
        _ => function.to_string(),
    }
}

/// Runs one invocation, unless the failure drill fails it first.
async fn run(
    gw: &Gateway,
    function: &str,
    event: serde_json::Value,
) -> Result<serde_json::Value, InvokeError> {
    gw.count_invocation(function);
    if gw.inject_failure(function) {
        return Err(InvokeError::Function(
            "injected failure (--fail-invocations)".into(),
        ));
    }
    gw.invoker.invoke_json(function, event).await
}

/// `POST /2015-03-31/functions/{name}/invocations`.
pub async fn invoke(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let asked = function_name(&name);
    let Some(function) = logical_id(&gw, asked) else {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: arn:aws:lambda:local:000000000000:function:{asked}"),
        );
    };
    let event: serde_json::Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestContentException",
                    &format!("Could not parse request body into json: {e}"),
                )
            }
        }
    };
    let kind = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse");
    match kind {
        "DryRun" => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
        "Event" => {
            tokio::spawn(async move {
                let _slot = gw.async_slot(&function).await;
                let label = label(&function, &event);
                for attempt in 1..=ASYNC_ATTEMPTS {
                    let started = Instant::now();
                    let result = run(&gw, &function, event.clone()).await;
                    let status = if result.is_ok() { "ok" } else { "error" };
                    gw.console.event(
                        &format!("{label} (async #{attempt})"),
                        "-",
                        status,
                        started.elapsed(),
                    );
                    match result {
                        Ok(_) => return,
                        Err(e) if attempt < ASYNC_ATTEMPTS => {
                            gw.console
                                .note(&format!("{function} failed ({e}); Lambda retries it"));
                            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt)))
                                .await;
                        }
                        Err(e) => gw.console.note(&format!(
                            "{function} failed {ASYNC_ATTEMPTS} times ({e}); dropped"
                        )),
                    }
                }
            });
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::ACCEPTED;
            r
        }
        "RequestResponse" => {
            let started = Instant::now();
            let result = run(&gw, &function, event).await;
            let status = if result.is_ok() { "200" } else { "error" };
            gw.console.event(&function, "-", status, started.elapsed());
            match result {
                Ok(v) => answer(StatusCode::OK, v, &[("x-amz-executed-version", "$LATEST")]),
                Err(e) => answer(
                    StatusCode::OK,
                    json!({"errorType": "wsfn.InvokeError", "errorMessage": e.to_string()}),
                    &[
                        ("x-amz-function-error", "Unhandled"),
                        ("x-amz-executed-version", "$LATEST"),
                    ],
                ),
            }
        }
        other => error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            &format!("unknown InvocationType {other}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_and_arns() {
        use super::function_name;
        assert_eq!(function_name("PublishFunction"), "PublishFunction");
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:123456789012:function:PublishFunction"),
            "PublishFunction"
        );
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:123456789012:function:PublishFunction:$LATEST"),
            "PublishFunction"
        );
    }
}
