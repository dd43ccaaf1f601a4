//! Big channels: one server publish to virtual subscribers, sharded.

use super::*;

#[derive(clap::Args)]
pub(super) struct BigArgs {
    /// Virtual subscriber counts, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "100000")]
    subscribers: Vec<usize>,
    /// Injected management API latency per POST, ms.
    #[arg(long, default_value_t = 20)]
    push_latency_ms: u64,
    /// FANOUT_SHARD_SIZE values to compare.
    #[arg(long, value_delimiter = ',', default_value = "5000")]
    shard_size: Vec<usize>,
    /// FANOUT_CONCURRENCY.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Account @connections rate limit to emulate (API Gateway: 10000).
    #[arg(long)]
    management_rps: Option<u32>,
    /// DynamoDB endpoint (DynamoDB Local); embedded store when absent.
    #[arg(long)]
    dynamodb_endpoint: Option<String>,
    /// Template.
    #[arg(long, default_value = "template.yaml")]
    template: String,
}

pub(super) async fn big(args: BigArgs) -> ExitCode {
    let store = if args.dynamodb_endpoint.is_some() {
        "DynamoDB Local"
    } else {
        "embedded"
    };
    let rps = args
        .management_rps
        .map_or("none".to_string(), |r| format!("{r}/s"));
    println!("\n### Big channel: one server publish, virtual subscribers ({store} store, {} ms per push, concurrency {}, account limit {rps})\n", args.push_latency_ms, args.concurrency);
    println!("| subscribers | shard size | shards | delivered once | duplicates | publish → last push | ideal | wall ÷ ideal | longest invocation | invocation time (sum) | GB-s at 256 MB | 429s absorbed |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut ok = true;
    for &n in &args.subscribers {
        for &shard_size in &args.shard_size {
            let mut gateway = Options::new(args.template.clone());
            gateway.dynamodb_endpoint = args.dynamodb_endpoint.clone();
            gateway.faults.latency = Duration::from_millis(args.push_latency_ms);
            gateway.management_rps = args.management_rps;
            let opts = wsfn_bench::big::BigOptions {
                gateway,
                subscribers: n,
                shard_size,
                concurrency: args.concurrency,
            };
            match wsfn_bench::big::big_channel(opts).await {
                Ok(r) => {
                    ok &= r.reached == n && r.repeated == 0;
                    println!(
                        "| {} | {} | {} | {} ({:.1} %) | {} | {:.2} s | {:.2} s | {:.2} | {:.2} s | {:.1} s | {:.2} | {} |",
                        r.subscribers,
                        shard_size,
                        r.shards,
                        r.reached,
                        100.0 * r.reached as f64 / n.max(1) as f64,
                        r.repeated,
                        r.wall.as_secs_f64(),
                        r.ideal.as_secs_f64(),
                        r.wall.as_secs_f64() / r.ideal.as_secs_f64().max(1e-9),
                        r.longest.as_secs_f64(),
                        r.busy.as_secs_f64(),
                        r.busy.as_secs_f64() * 0.25,
                        r.throttled,
                    );
                }
                Err(e) => {
                    eprintln!("wsfn-bench big: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("wsfn-bench big: not every subscriber got the message exactly once");
        ExitCode::FAILURE
    }
}
