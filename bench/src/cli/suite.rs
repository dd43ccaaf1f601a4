//! The default suite: fan-out tables, connect/disconnect churn, one hot
//! channel; Markdown on stdout.

use super::*;

#[derive(clap::Args)]
pub(super) struct Args {
    /// Subscriber counts, comma separated (the subscribers run in a child process).
    #[arg(long, value_delimiter = ',', default_value = "10,100,1000,10000")]
    subscribers: Vec<usize>,
    /// Injected management API latency per POST, ms.
    #[arg(long, value_delimiter = ',', default_value = "0,20")]
    push_latency_ms: Vec<u64>,
    /// FANOUT_CONCURRENCY values to compare.
    #[arg(long, value_delimiter = ',', default_value = "64")]
    concurrency: Vec<usize>,
    /// Share of POSTs answered 429 (retried by fan-out).
    #[arg(long, default_value_t = 0.0)]
    fail_429: f64,
    /// Share of POSTs answered 500 (retried by fan-out).
    #[arg(long, default_value_t = 0.0)]
    fail_500: f64,
    /// DynamoDB endpoint (DynamoDB Local); embedded store when absent.
    #[arg(long)]
    pub(super) dynamodb_endpoint: Option<String>,
    /// Connections for the churn benchmark (0 skips it).
    #[arg(long, default_value_t = 1000)]
    churn: usize,
    /// Publishers for the hot-channel benchmark (0 skips it).
    #[arg(long, default_value_t = 15)]
    hot_publishers: usize,
    /// Publishes per hot-channel publisher.
    #[arg(long, default_value_t = 40)]
    hot_each: usize,
    /// Publishes each hot-channel publisher keeps in flight.
    #[arg(long, default_value_t = 10)]
    hot_pipeline: usize,
    /// Template.
    #[arg(long, default_value = "template.yaml")]
    template: String,
}

/// Runs the suite.
pub(super) async fn run(args: Args) -> ExitCode {
    let clients = match std::env::current_exe() {
        Ok(exe) => Clients::Process(exe),
        Err(_) => Clients::InProcess,
    };
    let store = if args.dynamodb_endpoint.is_some() {
        "DynamoDB Local"
    } else {
        "embedded"
    };
    // A fresh table per run, so the leftover check sees only this run.
    std::env::set_var(
        "TABLE_NAME",
        format!("wsfn-bench-{:x}", rand::random::<u32>()),
    );
    if let Err(e) = fanout_tables(&args, &clients, store).await {
        eprintln!("wsfn-bench: {e}");
        return ExitCode::FAILURE;
    }
    if args.hot_publishers > 0 {
        if let Err(e) = hot_channel(&args, store).await {
            eprintln!("wsfn-bench: hot channel: {e}");
            return ExitCode::FAILURE;
        }
    }
    if args.churn > 0 {
        if let Err(e) = churn_table(&args, store).await {
            eprintln!("wsfn-bench: churn: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn hot_row(how: &str, r: &hot::HotResult) {
    let yes = |b: bool| if b { "yes" } else { "NO" };
    let opt = |v: Option<String>| v.unwrap_or_else(|| "—".into());
    println!(
        "| {how} | {} | {} | {} | {} | {} | {} | {} | {:.0} ms | {:.0} | {:.0} ms | {:.0} ms |",
        if r.ephemeral {
            "ephemeral"
        } else {
            "sequenced"
        },
        r.publishers,
        r.acked,
        r.errors,
        if r.ephemeral { "n/a" } else { yes(r.gap_free) },
        opt(r.delivered.map(|d| d.to_string())),
        opt(r
            .no_stream
            .map(|n| if n { "none" } else { "written" }.to_string())),
        r.elapsed.as_secs_f64() * 1e3,
        r.per_second(),
        r.p50.as_secs_f64() * 1e3,
        r.p99.as_secs_f64() * 1e3,
    );
}

/// One channel, many publishers: through the gateway, and (on DynamoDB)
/// with independent store instances racing on the stream head.
async fn hot_channel(args: &Args, store: &str) -> Result<(), wsfn_bench::BenchError> {
    let mut opts = Options::new(args.template.clone());
    opts.dynamodb_endpoint = args.dynamodb_endpoint.clone();
    // The rate limit is not what this measures: keep it out of the way.
    opts.parameters
        .insert("RateLimitPerSecond".into(), "100000".into());
    opts.parameters
        .insert("RateLimitBurst".into(), "1000000".into());
    opts.parameters
        .insert("EphemeralChannels".into(), "bench:*".into());
    let running = gateway(opts).await?;
    println!("\n### One hot channel ({store} store)\n");
    println!("| path | publishes | publishers | acked | errors | gap-free | one subscriber got | stream items | elapsed | publishes/s | p50 ack | p99 ack |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for ephemeral in [false, true] {
        let r = hot::through_gateway(
            &running,
            args.hot_publishers,
            args.hot_each,
            args.hot_pipeline,
            ephemeral,
        )
        .await?;
        hot_row("WebSocket → gateway → message handler", &r);
    }
    running.shutdown().await;
    if let Some(endpoint) = &args.dynamodb_endpoint {
        let table = format!("wsfn-bench-hot-{:x}", rand::random::<u32>());
        let mut instances: Vec<std::sync::Arc<dyn wsfn::store::Store>> = Vec::new();
        for i in 0..args.hot_publishers.min(5) {
            let sdk = wsfn::aws_config::defaults(wsfn::aws_config::BehaviorVersion::latest())
                .endpoint_url(endpoint)
                .load()
                .await;
            let client = wsfn::aws_sdk_dynamodb::Client::new(&sdk);
            if i == 0 {
                wsfn::store::create_table(&client, &table)
                    .await
                    .map_err(|e| wsfn_bench::BenchError(e.to_string()))?;
            }
            instances.push(std::sync::Arc::new(wsfn::store::DynamoStore::new(
                client,
                table.clone(),
            )));
        }
        let each = args.hot_publishers * args.hot_each / instances.len().max(1);
        let r = hot::across_instances(instances, each, args.hot_pipeline).await?;
        hot_row("store instances racing (like Lambda instances)", &r);
    }
    Ok(())
}

/// The fan-out table: every latency × concurrency × subscriber count.
async fn fanout_tables(
    args: &Args,
    clients: &Clients,
    store: &str,
) -> Result<(), wsfn_bench::BenchError> {
    println!("\n### Fan-out ({store} store)\n");
    println!("| subscribers | push latency | concurrency | delivered | publish → last delivery | ideal | p50 | p99 | deliveries/s | RSS during publish (peak) | growth | subscriber reads alone |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &latency_ms in &args.push_latency_ms {
        for &concurrency in &args.concurrency {
            let mut opts = Options::new(args.template.clone());
            opts.dynamodb_endpoint = args.dynamodb_endpoint.clone();
            opts.parameters
                .insert("FanoutConcurrency".into(), concurrency.to_string());
            // Benchmark subscribers are many users; keep the rate limit out of the way.
            opts.parameters
                .insert("RateLimitPerSecond".into(), "100000".into());
            opts.faults = Faults {
                latency: Duration::from_millis(latency_ms),
                gone: 0.0,
                throttle: args.fail_429,
                error: args.fail_500,
                ..Faults::default()
            };
            let running = gateway(opts).await?;
            for &n in &args.subscribers {
                match fanout(&running, clients, n, Duration::from_millis(latency_ms), concurrency).await {
                    Ok(r) => println!(
                        "| {} | {} ms | {} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} | {} MiB | {} MiB | {:.0} ms |",
                        r.subscribers,
                        latency_ms,
                        concurrency,
                        r.delivered,
                        r.last_delivery.as_secs_f64() * 1e3,
                        r.ideal.as_secs_f64() * 1e3,
                        r.p50.as_secs_f64() * 1e3,
                        r.p99.as_secs_f64() * 1e3,
                        r.per_second,
                        r.peak_rss_kib / 1024,
                        r.publish_rss_growth_kib / 1024,
                        r.subscriber_read.as_secs_f64() * 1e3,
                    ),
                    Err(e) => {
                        return Err(wsfn_bench::BenchError(format!("fan-out to {n}: {e}")))
                    }
                }
            }
            running.shutdown().await;
        }
    }
    Ok(())
}

/// Connect/disconnect churn, and what it leaves behind.
async fn churn_table(args: &Args, store: &str) -> Result<(), wsfn_bench::BenchError> {
    let mut opts = Options::new(args.template.clone());
    opts.dynamodb_endpoint = args.dynamodb_endpoint.clone();
    let running = gateway(opts).await?;
    let r = churn(&running, args.churn, 50).await?;
    println!("\n### Connect/disconnect churn ({store} store)\n");
    println!("| connections | $connect + $disconnect per second | items left afterwards |\n|---|---|---|");
    println!(
        "| {} | {:.0} | {} |",
        r.connections, r.per_second, r.leftovers
    );
    running.shutdown().await;
    Ok(())
}
