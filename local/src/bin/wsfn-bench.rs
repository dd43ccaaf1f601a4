//! `wsfn-bench`: fan-out latency/throughput and connect churn against a real
//! wsfn-local, embedded store or DynamoDB Local. Prints Markdown tables.
//! Run through `bash scripts/bench.sh` (starts DynamoDB Local, raises the
//! file limit, builds in release).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use wsfn_local::bench::{churn, fanout, gateway, subscriber_process, Clients};
use wsfn_local::management::Faults;
use wsfn_local::Options;

#[derive(Parser)]
#[command(about = "wsfn fan-out and churn benchmark")]
struct Cli {
    #[command(subcommand)]
    child: Option<Child>,
    #[command(flatten)]
    args: Args,
}

#[derive(clap::Subcommand)]
enum Child {
    /// Internal: hold subscriber sockets in a separate process.
    SubscribeClients {
        #[arg(long)]
        url: String,
        #[arg(long)]
        channel: String,
        #[arg(long)]
        n: usize,
        #[arg(long)]
        wait_secs: u64,
    },
}

#[derive(clap::Args)]
struct Args {
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
    dynamodb_endpoint: Option<String>,
    /// Connections for the churn benchmark (0 skips it).
    #[arg(long, default_value_t = 1000)]
    churn: usize,
    /// Template.
    #[arg(long, default_value = "template.yaml")]
    template: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Child::SubscribeClients {
        url,
        channel,
        n,
        wait_secs,
    }) = cli.child
    {
        return match subscriber_process(&url, &channel, n, Duration::from_secs(wait_secs)).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                println!("error {e}");
                ExitCode::FAILURE
            }
        };
    }
    let args = cli.args;
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
            };
            let running = match gateway(opts).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("wsfn-bench: {e}");
                    return ExitCode::FAILURE;
                }
            };
            for &n in &args.subscribers {
                match fanout(&running, &clients, n, Duration::from_millis(latency_ms), concurrency).await {
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
                        eprintln!("wsfn-bench: fan-out to {n}: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            running.shutdown().await;
        }
    }
    if args.churn > 0 {
        let mut opts = Options::new(args.template.clone());
        opts.dynamodb_endpoint = args.dynamodb_endpoint.clone();
        let running = match gateway(opts).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("wsfn-bench: {e}");
                return ExitCode::FAILURE;
            }
        };
        match churn(&running, args.churn, 50).await {
            Ok(r) => {
                println!("\n### Connect/disconnect churn ({store} store)\n");
                println!("| connections | $connect + $disconnect per second | items left afterwards |\n|---|---|---|");
                println!(
                    "| {} | {:.0} | {} |",
                    r.connections, r.per_second, r.leftovers
                );
            }
            Err(e) => {
                eprintln!("wsfn-bench: churn: {e}");
                return ExitCode::FAILURE;
            }
        }
        running.shutdown().await;
    }
    ExitCode::SUCCESS
}
