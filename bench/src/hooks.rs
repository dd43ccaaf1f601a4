//! What a hook adds to a publish: sequential publishes (each waits for its
//! ack) through wsfn-local without a hook, then with a `publish` hook on a
//! loopback HTTP server that checks the signature and allows, and (on
//! DynamoDB Local) with the Rust example's hook Lambda run by wsfn-local
//! through the Runtime API (it rewrites and stores each message); p50/p99
//! of the ack time, and what the hook added.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;
use wsfn_client::{Client, Options as ClientOptions, TokenSource};
use wsfn_local::Options;

use crate::{fail, gateway, BenchError};

/// The hook secret of the run.
const SECRET: &str = "bench-hook-secret-0123456789";

/// One configuration's ack times.
#[derive(Debug, Clone)]
pub struct HookRow {
    /// `none` or `HTTP (loopback)`.
    pub hook: &'static str,
    /// Publishes measured.
    pub n: usize,
    /// Median ack time, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Calls the hook server answered.
    pub hook_calls: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// A loopback hook server that verifies each signature and allows; its URL
/// and a counter of the calls it answered.
async fn hook_server() -> Result<(String, Arc<std::sync::atomic::AtomicUsize>), BenchError> {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = calls.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let counter = counter.clone();
            async move {
                let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
                let ts: u64 = header("x-wsfn-timestamp").parse().unwrap_or(0);
                if wsfn::hooks::signature(SECRET.as_bytes(), ts, &body)
                    != header("x-wsfn-signature")
                {
                    return (StatusCode::UNAUTHORIZED, String::new());
                }
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (StatusCode::OK, json!({"allow": true}).to_string())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| fail("hook server", e))?;
    let url = format!(
        "http://{}/hook",
        listener.local_addr().map_err(|e| fail("hook server", e))?
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, calls))
}

/// `n` sequential publishes on `room:bench`; their ack times, sorted.
async fn publish_times(mut opts: Options, n: usize) -> Result<Vec<Duration>, BenchError> {
    // The limiter is not what is measured: back-to-back publishes would
    // spend the default burst and wait for the client's backoff.
    opts.environment
        .insert("RATE_LIMIT_PER_SECOND".into(), "100000".into());
    let running = gateway(opts).await?;
    let url = running.ws_url();
    let token = TokenSource::wsfn_local_dev(&url, "bench", Duration::from_secs(3600));
    let client = Client::connect(url, ClientOptions::new(token));
    let mut times = Vec::with_capacity(n);
    // Warm-up: the first publish creates the stream and warms connections.
    for i in 0..n + 20 {
        let started = Instant::now();
        client
            .publish("room:bench", json!({"text": format!("message {i}")}))
            .await
            .map_err(|e| fail("publish", e))?;
        if i >= 20 {
            times.push(started.elapsed());
        }
    }
    client.close();
    running.shutdown().await;
    times.sort();
    Ok(times)
}

/// `template.yaml` with the Rust hook example's function added (as a team
/// adds it), written to a temporary file; its path.
fn template_with_example(template: &str) -> Result<String, BenchError> {
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| fail(p, e));
    let yaml =
        |s: String| serde_yaml::from_str::<serde_yaml::Value>(&s).map_err(|e| fail("yaml", e));
    let mut t = yaml(read(template)?)?;
    let dir = std::path::Path::new(template)
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let dir = if dir.is_empty() { ".".to_string() } else { dir };
    let snippet = yaml(read(&format!(
        "{dir}/examples/hooks-rust/template-snippet.yaml"
    ))?)?;
    t["Resources"]["AppHooksFunction"] = snippet["Resources"]["AppHooksFunction"].clone();
    let path =
        std::env::temp_dir().join(format!("wsfn-bench-hooks-{:x}.yaml", rand::random::<u64>()));
    let text = serde_yaml::to_string(&t).map_err(|e| fail("yaml", e))?;
    std::fs::write(&path, text).map_err(|e| fail("template", e))?;
    Ok(path.display().to_string())
}

/// With DynamoDB Local: the Rust example's hook Lambda (its binary, built
/// next to this one, run through the Runtime API), its table created here.
async fn lambda_hook(base: &Options, n: usize) -> Result<Vec<Duration>, BenchError> {
    let Some(endpoint) = &base.dynamodb_endpoint else {
        return Err(BenchError(
            "the Lambda hook row needs DynamoDB Local".into(),
        ));
    };
    let sdk = wsfn::aws_config::defaults(wsfn::aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let db = wsfn::store::dynamo_client(&sdk, Some(endpoint));
    let table = format!("app-bench-{:x}", rand::random::<u32>());
    wsfn::store::create_table(&db, &table)
        .await
        .map_err(|e| fail("app table", e))?;
    let mut o = base.clone();
    o.template = template_with_example(&base.template)?;
    let hooks = json!({"publish": {"target": "AppHooksFunction", "channels": ["room:*"]}});
    o.environment.insert("HOOKS".into(), hooks.to_string());
    o.environment.insert("APP_TABLE".into(), table.clone());
    let times = publish_times(o.clone(), n).await;
    let _ = std::fs::remove_file(&o.template);
    let times = times?;
    // Every publish passed the Lambda: it stored each message it allowed.
    let stored = db
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            wsfn::aws_sdk_dynamodb::types::AttributeValue::S("msgs#room:bench".into()),
        )
        .select(wsfn::aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .map_err(|e| fail("app table", e))?
        .count() as usize;
    if stored != n + 20 {
        return Err(BenchError(format!(
            "the Lambda hook stored {stored} of {} publishes",
            n + 20
        )));
    }
    Ok(times)
}

/// Both configurations on `base` (embedded store or DynamoDB Local).
pub async fn hook_latency(base: &Options, n: usize) -> Result<Vec<HookRow>, BenchError> {
    let row = |hook, times: &[Duration], hook_calls| HookRow {
        hook,
        n: times.len(),
        p50_ms: percentile(times, 0.5),
        p99_ms: percentile(times, 0.99),
        hook_calls,
    };
    // A first run warms the store (DynamoDB Local's JVM) and is dropped, so
    // the configurations compare on equal terms.
    publish_times(base.clone(), n.min(200)).await?;
    let plain = publish_times(base.clone(), n).await?;
    let (url, calls) = hook_server().await?;
    let mut hooked = base.clone();
    let hooks = json!({"publish": {"target": url, "channels": ["room:*"]}});
    hooked.environment.insert("HOOKS".into(), hooks.to_string());
    hooked
        .environment
        .insert("HOOK_SECRET".into(), SECRET.into());
    let with_hook = publish_times(hooked, n).await?;
    let answered = calls.load(std::sync::atomic::Ordering::Relaxed);
    if answered != n + 20 {
        return Err(BenchError(format!(
            "the hook answered {answered} of {} publishes",
            n + 20
        )));
    }
    let mut rows = vec![
        row("none", &plain, 0),
        row("HTTP, loopback", &with_hook, answered),
    ];
    if base.dynamodb_endpoint.is_some() {
        let lambda = lambda_hook(base, n).await?;
        rows.push(row("Lambda (Runtime API process)", &lambda, n + 20));
    }
    Ok(rows)
}
