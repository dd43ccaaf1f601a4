//! `wsfn-bench`: fan-out latency/throughput and connect churn against a real
//! wsfn-local, embedded store or DynamoDB Local. Prints Markdown tables.
//! Run through `bash scripts/bench.sh` (starts DynamoDB Local, raises the
//! file limit, builds in release).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use wsfn_bench::{churn, fanout, gateway, hot, subscriber_process, Clients};
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
    /// Big channels: one server publish to virtual subscribers, sharded.
    Big(BigArgs),
    /// What a publish hook adds to a publish's ack time (p50/p99).
    Hooks(HooksArgs),
    /// CPU per push of the management API client (this process only).
    PushCpu(PushCpuArgs),
    /// The built binaries through the Runtime API: init, warm duration,
    /// RSS, CPU per push and projected fan-out time per memory size.
    Functions(FunctionsArgs),
    /// Hours of churn and traffic against wsfn-local (a process) on
    /// DynamoDB Local: RSS, table items, lost messages (scripts/soak.sh).
    Soak(wsfn_bench::soak_cli::SoakCli),
    /// Internal: a wsfn-local with virtual subscribers, for push-cpu.
    ServeVirtual {
        #[arg(long, default_value = "template.yaml")]
        template: String,
        #[arg(long, default_value_t = 0)]
        push_latency_ms: u64,
    },
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
struct HooksArgs {
    /// Sequential publishes measured per configuration.
    #[arg(long, default_value_t = 500)]
    n: usize,
    #[arg(long, default_value = "template.yaml")]
    template: String,
    /// DynamoDB Local instead of the embedded store.
    #[arg(long, value_name = "URL")]
    dynamodb_endpoint: Option<String>,
}

async fn hooks(args: HooksArgs) -> ExitCode {
    let mut base = Options::new(args.template);
    base.dynamodb_endpoint = args.dynamodb_endpoint.clone();
    let store = if args.dynamodb_endpoint.is_some() {
        "DynamoDB Local"
    } else {
        "embedded"
    };
    match wsfn_bench::hooks::hook_latency(&base, args.n).await {
        Ok(rows) => {
            println!("\n### Publish with a hook ({store} store)\n");
            println!("| publish hook | publishes | p50 ack ms | p99 ack ms | hook calls |");
            println!("|---|---|---|---|---|");
            for r in &rows {
                println!(
                    "| {} | {} | {:.2} | {:.2} | {} |",
                    r.hook, r.n, r.p50_ms, r.p99_ms, r.hook_calls
                );
            }
            if let Some((plain, hooked)) = rows.split_first() {
                for h in hooked {
                    println!(
                        "\nadded by the {} hook: p50 {:.2} ms, p99 {:.2} ms",
                        h.hook,
                        h.p50_ms - plain.p50_ms,
                        h.p99_ms - plain.p99_ms
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("error {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(clap::Args)]
struct FunctionsArgs {
    /// Virtual subscribers of the fan-out measurement.
    #[arg(long, default_value_t = 10000)]
    subscribers: usize,
    /// Injected management API latency per POST, ms.
    #[arg(long, default_value_t = 20)]
    push_latency_ms: u64,
    /// FANOUT_CONCURRENCY.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// DynamoDB Local (the processes cannot share the embedded store).
    #[arg(long)]
    dynamodb_endpoint: String,
    /// Where the function binaries are.
    #[arg(long, default_value = "target/release")]
    binaries: std::path::PathBuf,
    /// Run each process at Lambda's CPU share for its MemorySize (cgroup).
    #[arg(long)]
    cpu_share: bool,
    /// Template.
    #[arg(long, default_value = "template.yaml")]
    template: String,
}

fn print_fanout(
    fan: &wsfn_bench::functions::FanoutRow,
    latency: Duration,
    subscribers: usize,
    concurrency: usize,
) {
    println!(
        "measured: wall {:.2} s, CPU {:.2} s = **{:.1} µs per push**, peak RSS {} MB; latency bound {:.2} s\n",
        fan.wall.as_secs_f64(),
        fan.cpu.as_secs_f64(),
        fan.cpu_us_per_push(),
        fan.peak_mb,
        (latency * (subscribers as u32) / (concurrency.max(1) as u32)).as_secs_f64()
    );
    println!("| MemorySize | vCPU share | projected wall | GB-s per 10,000 pushes |");
    println!("|---|---|---|---|");
    for mb in [256u32, 512, 1024, 1769] {
        let wall = fan.projected(mb);
        let per_10k =
            wall.as_secs_f64() * f64::from(mb) / 1024.0 * 10_000.0 / fan.delivered.max(1) as f64;
        println!(
            "| {mb} MB | {:.2} | {:.2} s | {:.3} |",
            f64::from(mb) / 1769.0,
            wall.as_secs_f64(),
            per_10k
        );
    }
}

async fn functions(args: FunctionsArgs) -> ExitCode {
    let latency = Duration::from_millis(args.push_latency_ms);
    let (rows, fans) = match wsfn_bench::functions::functions(
        &args.template,
        &args.dynamodb_endpoint,
        args.binaries.clone(),
        args.subscribers,
        latency,
        args.concurrency,
        args.cpu_share,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wsfn-bench functions: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "\n### The binaries through the Runtime API ({})\n",
        args.binaries.display()
    );
    println!("| function | init (spawn → first /next), median (max) of 5 | cold duration | warm duration (median of 9) | peak RSS |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        let ms = |d: Option<&Duration>| d.copied().unwrap_or_default().as_secs_f64() * 1e3;
        println!(
            "| {} | {:.1} ms ({:.1} ms) | {:.1} ms | {:.1} ms | {} MB |",
            r.function,
            ms(r.inits.get(r.inits.len() / 2)),
            ms(r.inits.last()),
            r.cold.duration.as_secs_f64() * 1e3,
            r.warm.as_secs_f64() * 1e3,
            r.peak_mb
        );
    }
    let mut complete = true;
    for (label, fan) in &fans {
        println!(
            "\n### One fan-out in one {label} process: {} pushes, {} ms each, concurrency {}\n",
            fan.delivered, args.push_latency_ms, args.concurrency
        );
        print_fanout(fan, latency, args.subscribers, args.concurrency);
        complete &= fan.delivered as usize == args.subscribers;
    }
    if complete {
        ExitCode::SUCCESS
    } else {
        let got: Vec<u64> = fans.iter().map(|(_, f)| f.delivered).collect();
        eprintln!(
            "wsfn-bench functions: delivered {got:?} of {} each",
            args.subscribers
        );
        ExitCode::FAILURE
    }
}

#[derive(clap::Args)]
struct PushCpuArgs {
    /// Pushes per measurement.
    #[arg(long, default_value_t = 10000)]
    n: usize,
    /// Pushes in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Injected latency per POST in the serving process, ms.
    #[arg(long, default_value_t = 20)]
    push_latency_ms: u64,
    /// Template.
    #[arg(long, default_value = "template.yaml")]
    template: String,
}

/// Serves a gateway with virtual subscribers until stdin closes; prints its
/// management endpoint first.
async fn serve_virtual(template: String, latency_ms: u64) -> ExitCode {
    let mut o = Options::new(template);
    o.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    o.quiet = true;
    o.virtual_subscribers = true;
    o.faults.latency = Duration::from_millis(latency_ms);
    let running = match wsfn_local::start(o).await {
        Ok(r) => r,
        Err(e) => {
            println!("error {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", running.management_endpoint());
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink)
    })
    .await;
    running.shutdown().await;
    ExitCode::SUCCESS
}

async fn push_cpu(args: PushCpuArgs) -> ExitCode {
    use tokio::io::AsyncBufReadExt;
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("wsfn-bench push-cpu: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut child = match tokio::process::Command::new(exe)
        .args(["serve-virtual", "--template", &args.template])
        .args(["--push-latency-ms", &args.push_latency_ms.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wsfn-bench push-cpu: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(stdout) = child.stdout.take() else {
        return ExitCode::FAILURE;
    };
    let endpoint = match tokio::io::BufReader::new(stdout).lines().next_line().await {
        Ok(Some(l)) if l.starts_with("http") => l,
        other => {
            eprintln!("wsfn-bench push-cpu: server said {other:?}");
            return ExitCode::FAILURE;
        }
    };
    let sdk = wsfn::aws_config::SdkConfig::builder()
        .behavior_version(wsfn::aws_config::BehaviorVersion::latest())
        .region(wsfn::aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(
            wsfn::aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                wsfn::aws_sdk_dynamodb::config::Credentials::new(
                    "AKIDBENCH",
                    "bench-secret",
                    None,
                    None,
                    "bench",
                ),
            ),
        )
        .build();
    let payload = serde_json::json!({"type":"message","channel":"bench:cpu","seq":1,"epoch":"0123456789abcdef","from":"@server","data":{"bench":true,"text":"a typical small chat message"}}).to_string();
    println!(
        "\n### CPU per push, pushing process only ({} pushes, {} in flight, {} ms per push)\n",
        args.n, args.concurrency, args.push_latency_ms
    );
    println!("| client | pushes ok | wall | CPU µs per push |");
    println!("|---|---|---|---|");
    let signed = match wsfn::push::SignedPusher::new(&sdk, &endpoint) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("wsfn-bench push-cpu: {e}");
            return ExitCode::FAILURE;
        }
    };
    let clients: Vec<(&str, std::sync::Arc<dyn wsfn::push::Pusher>)> = vec![
        (
            "aws-sdk-apigatewaymanagement",
            std::sync::Arc::new(wsfn::push::ManagementPusher::new(&sdk, &endpoint)),
        ),
        (
            "SigV4 over hyper (wsfn::push::SignedPusher)",
            std::sync::Arc::new(signed),
        ),
    ];
    for (name, pusher) in clients {
        // A warm-up round (connections, credentials), then the measurement.
        let _ =
            wsfn_bench::pushcpu::measure(pusher.clone(), 500, args.concurrency, payload.as_bytes())
                .await;
        match wsfn_bench::pushcpu::measure(pusher, args.n, args.concurrency, payload.as_bytes())
            .await
        {
            Ok(r) => println!(
                "| {name} | {} | {:.2} s | {:.1} |",
                r.ok,
                r.wall.as_secs_f64(),
                r.cpu_us_per_push
            ),
            Err(e) => {
                eprintln!("wsfn-bench push-cpu: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    drop(child.stdin.take());
    let _ = child.wait().await;
    ExitCode::SUCCESS
}

#[derive(clap::Args)]
struct BigArgs {
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

async fn big(args: BigArgs) -> ExitCode {
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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let child = match cli.child {
        Some(Child::Big(args)) => return big(args).await,
        Some(Child::Hooks(mut args)) => {
            // `scripts/bench.sh hooks …` passes the endpoint before the
            // subcommand on its DynamoDB Local run.
            args.dynamodb_endpoint = args.dynamodb_endpoint.or(cli.args.dynamodb_endpoint);
            return hooks(args).await;
        }
        Some(Child::PushCpu(args)) => return push_cpu(args).await,
        Some(Child::Functions(args)) => return functions(args).await,
        Some(Child::Soak(args)) => return wsfn_bench::soak_cli::run(args).await,
        Some(Child::ServeVirtual {
            template,
            push_latency_ms,
        }) => return serve_virtual(template, push_latency_ms).await,
        other => other,
    };
    if let Some(Child::SubscribeClients {
        url,
        channel,
        n,
        wait_secs,
    }) = child
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
                ..Faults::default()
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
    if args.hot_publishers > 0 {
        if let Err(e) = hot_channel(&args, store).await {
            eprintln!("wsfn-bench: hot channel: {e}");
            return ExitCode::FAILURE;
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
