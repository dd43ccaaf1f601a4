//! CPU per push of the management API client, and the virtual-subscriber gateway it pushes to.

use super::*;

#[derive(clap::Args)]
pub(super) struct PushCpuArgs {
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
pub(super) async fn serve_virtual(template: String, latency_ms: u64) -> ExitCode {
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

pub(super) async fn push_cpu(args: PushCpuArgs) -> ExitCode {
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
