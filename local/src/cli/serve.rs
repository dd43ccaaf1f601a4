//! Serving: the gateway, its functions and the demo, until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use wsfn_local::dynamo_faults::DynamoFaults;
use wsfn_local::management::Faults;
use wsfn_local::{start, Options};

#[derive(Args)]
pub(super) struct Serve {
    /// Port to listen on.
    #[arg(long, default_value_t = 3001)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// SAM template.
    #[arg(long, default_value = "template.yaml")]
    template: String,
    /// Template parameter override, NAME=VALUE (repeatable).
    #[arg(long = "parameter", value_name = "NAME=VALUE")]
    parameters: Vec<String>,
    /// Use a DynamoDB API (e.g. DynamoDB Local) instead of the embedded store.
    #[arg(long, value_name = "URL")]
    dynamodb_endpoint: Option<String>,
    /// Idle timeout in seconds.
    #[arg(long, default_value_t = 600)]
    idle_timeout: u64,
    /// Maximum connection duration in seconds.
    #[arg(long, default_value_t = 7200)]
    max_duration: u64,
    /// Latency added to every management API POST, in ms.
    #[arg(long, default_value_t = 0)]
    push_latency_ms: u64,
    /// Share of POSTs answered 410 Gone (0.0-1.0).
    #[arg(long, default_value_t = 0.0)]
    fail_410: f64,
    /// Share of POSTs answered 429 (0.0-1.0).
    #[arg(long, default_value_t = 0.0)]
    fail_429: f64,
    /// Share of POSTs answered 500 (0.0-1.0).
    #[arg(long, default_value_t = 0.0)]
    fail_500: f64,
    /// Share of `message` deliveries silently dropped (0.0-1.0): the POST
    /// answers 200 and the frame never reaches the socket (client recovery drill).
    #[arg(long, default_value_t = 0.0)]
    drop_deliveries: f64,
    /// Do not serve the demo app at `/`.
    #[arg(long)]
    no_demo: bool,
    /// POST each event the functions send to EventBridge (EVENT_BUS) to this
    /// URL, shaped as EventBridge delivers an event to a target.
    #[arg(long, value_name = "URL")]
    events_webhook: Option<String>,
    /// Account-wide @connections rate limit to emulate, requests per second
    /// (API Gateway's default is 10000); beyond it answers 429.
    #[arg(long, value_name = "RPS")]
    management_rps: Option<u32>,
    /// How functions run: `in-process` (handlers called directly) or
    /// `runtime-api` (the built binaries, as processes speaking the Lambda
    /// Runtime API; needs --dynamodb-endpoint).
    #[arg(long, default_value = "in-process", value_parser = ["in-process", "runtime-api"])]
    invoker: String,
    /// Asynchronous (Event) invocations of one function running at once;
    /// more wait in its queue, as at a Lambda concurrency limit.
    #[arg(long, default_value_t = 32)]
    async_concurrency: usize,
    /// Most processes per function in runtime-api mode.
    #[arg(long, default_value_t = 10)]
    max_instances: usize,
    /// In runtime-api mode, give each process Lambda's CPU share for its
    /// MemorySize (memory ÷ 1,769 MB of a vCPU; needs a writable cgroup).
    #[arg(long)]
    cpu_share: bool,
    /// Answer POSTs to virtual subscriber ids (`…~v`, benchmarks) as if
    /// they were open connections, counting them.
    #[arg(long)]
    virtual_subscribers: bool,
    /// Failure drill: the first N Invoke API invocations of a function
    /// fail, FUNCTION=N (repeatable), e.g. FanoutFunction=1.
    #[arg(long = "fail-invocations", value_name = "FUNCTION=N")]
    fail_invocations: Vec<String>,
    /// DynamoDB faults for every function (needs --dynamodb-endpoint): a
    /// share P of calls fails (split evenly over the kinds), or a list of
    /// throttle=P, capacity=P, before=P (500, nothing written), after=P (500
    /// after the write took effect), latency=MS[@P].
    #[arg(long, value_name = "P|KIND=P,...")]
    fail_dynamodb: Option<String>,
    /// No per-event log lines.
    #[arg(long)]
    quiet: bool,
    /// Print the functions' CloudWatch EMF metric lines (as Lambda would log them).
    #[arg(long)]
    emf: bool,
}

/// Runs the gateway until Ctrl-C.
pub(super) async fn serve(s: Serve) -> ExitCode {
    let opts = match options(s) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("wsfn-local: {e}");
            return ExitCode::FAILURE;
        }
    };
    let demo = opts.demo;
    let running = match start(opts).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wsfn-local: {e}");
            return ExitCode::FAILURE;
        }
    };
    running.gateway.console.banner(
        &running.gateway.spec,
        &running.ws_url(),
        &running.management_endpoint(),
        &running.store_label,
        running.dev_secret,
        demo.then(|| format!("http://{}/", running.addr)).as_deref(),
    );
    let _ = tokio::signal::ctrl_c().await;
    let open = running.gateway.connections.len();
    eprintln!("\nwsfn-local: shutting down; closing {open} connection(s) with 1001");
    let metrics = running.metrics.clone();
    running.shutdown().await;
    eprintln!("wsfn-local: session totals: {}", metrics.summary());
    ExitCode::SUCCESS
}

/// The gateway's options from the command line; what is wrong, if anything.
fn options(s: Serve) -> Result<Options, String> {
    if !s.quiet {
        // The functions' own log lines (why a handshake was refused, what a
        // fan-out did), one JSON object each, as CloudWatch would show them.
        wsfn::logging::init_json();
    }
    let mut parameters = std::collections::HashMap::new();
    for p in &s.parameters {
        let Some((k, v)) = p.split_once('=') else {
            return Err(format!("--parameter `{p}` must be NAME=VALUE"));
        };
        parameters.insert(k.to_string(), v.to_string());
    }
    if !s.no_demo {
        // The demo's who-is-here list and typing indicator need presence
        // events on its rooms and ephemeral messages on its typing channels
        // (the template's defaults are off: no cost unless asked for).
        // --parameter overrides; --no-demo leaves the template's defaults.
        parameters
            .entry("PresenceEvents".to_string())
            .or_insert_with(|| "room:*".to_string());
        parameters
            .entry("EphemeralChannels".to_string())
            .or_insert_with(|| "typing:*".to_string());
    }
    for (name, v) in [
        ("--fail-410", s.fail_410),
        ("--fail-429", s.fail_429),
        ("--fail-500", s.fail_500),
        ("--drop-deliveries", s.drop_deliveries),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return Err(format!("{name} must be between 0 and 1"));
        }
    }
    let mut fail_invocations = std::collections::HashMap::new();
    for f in &s.fail_invocations {
        match f.split_once('=').map(|(k, n)| (k, n.parse::<u32>())) {
            Some((k, Ok(n))) => {
                fail_invocations.insert(k.to_string(), n);
            }
            _ => {
                return Err(format!("--fail-invocations `{f}` must be FUNCTION=N"));
            }
        }
    }
    let dynamodb_faults = match s.fail_dynamodb.as_deref().map(DynamoFaults::parse) {
        None => DynamoFaults::default(),
        Some(Ok(f)) => f,
        Some(Err(e)) => {
            return Err(format!("--fail-dynamodb: {e}"));
        }
    };
    if s.management_rps == Some(0) {
        return Err("--management-rps must be at least 1".into());
    }
    let runtime_api = if s.invoker == "runtime-api" {
        let binaries: Vec<String> = match wsfn_local::template::load(&s.template, &parameters) {
            Ok(spec) => spec.functions.values().map(|f| f.binary.clone()).collect(),
            Err(e) => {
                return Err(e.to_string());
            }
        };
        eprintln!("wsfn-local: building {} …", binaries.join(", "));
        wsfn_local::runtime_api::build(&binaries)?;
        Some(wsfn_local::RuntimeApiOptions {
            binaries: wsfn_local::runtime_api::default_binaries(),
            max_instances: s.max_instances.max(1),
            timeout: None,
            cpu_share: s.cpu_share,
        })
    } else {
        None
    };
    Ok(Options {
        listen: SocketAddr::new(s.host, s.port),
        template: s.template,
        parameters,
        dynamodb_endpoint: s.dynamodb_endpoint,
        idle_timeout: Duration::from_secs(s.idle_timeout),
        max_duration: Duration::from_secs(s.max_duration),
        faults: Faults {
            latency: Duration::from_millis(s.push_latency_ms),
            gone: s.fail_410,
            throttle: s.fail_429,
            error: s.fail_500,
            drop_messages: s.drop_deliveries,
        },
        quiet: s.quiet,
        emf: s.emf,
        environment: Default::default(),
        management_rps: s.management_rps,
        virtual_subscribers: s.virtual_subscribers,
        fail_invocations,
        dynamodb_faults,
        async_concurrency: s.async_concurrency.max(1),
        capture_pushes: false,
        runtime_api,
        demo: !s.no_demo,
        events_webhook: s.events_webhook,
    })
}
