//! `wsfn-local`: run the backend locally (`cargo run -p wsfn-local`), or mint
//! a dev token (`wsfn-local token --sub alice`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use wsfn_local::dynamo_faults::DynamoFaults;
use wsfn_local::management::Faults;
use wsfn_local::{start, Options};

#[derive(Parser)]
#[command(
    version,
    about = "Local API Gateway WebSocket emulator for wsfn, driven by template.yaml"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Serve,
}

#[derive(Subcommand)]
enum Command {
    /// Print a signed HS256 dev token (JWT_SECRET, or the dev secret).
    Token(TokenArgs),
    /// Run one function with an event file (the Docker-free `sam local invoke`).
    Invoke(InvokeArgs),
}

#[derive(Args)]
struct InvokeArgs {
    /// Function logical id (`MessageFunction`) or route key (`$default`).
    function: String,
    /// Event JSON file (see events/).
    #[arg(long, short = 'e')]
    event: String,
    /// SAM template.
    #[arg(long, default_value = "template.yaml")]
    template: String,
    /// Run the real binary through the Lambda Runtime API (built if needed)
    /// and print Lambda's REPORT line; needs --dynamodb-endpoint.
    #[arg(long)]
    runtime_api: bool,
    /// DynamoDB API to use (DynamoDB Local) instead of the embedded store.
    #[arg(long, value_name = "URL")]
    dynamodb_endpoint: Option<String>,
}

/// Invokes one function in process against the embedded store; replies the
/// function pushes go to a throw-away gateway (so they answer 410, logged).
async fn invoke(args: InvokeArgs) -> ExitCode {
    let event = match std::fs::read_to_string(&args.event)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!("wsfn-local invoke: {}: {e}", args.event);
            return ExitCode::FAILURE;
        }
    };
    let event = wsfn_local::current_times(event);
    let mut opts = Options::new(args.template.clone());
    opts.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    opts.quiet = true;
    opts.capture_pushes = true;
    opts.dynamodb_endpoint = args.dynamodb_endpoint.clone();
    if args.runtime_api {
        if args.dynamodb_endpoint.is_none() {
            eprintln!("wsfn-local invoke: --runtime-api needs --dynamodb-endpoint (the binary is its own process)");
            return ExitCode::FAILURE;
        }
        let binaries: Vec<String> =
            match wsfn_local::template::load(&args.template, &Default::default()) {
                Ok(spec) => spec.functions.values().map(|f| f.binary.clone()).collect(),
                Err(e) => {
                    eprintln!("wsfn-local invoke: {e}");
                    return ExitCode::FAILURE;
                }
            };
        if let Err(e) = wsfn_local::runtime_api::build(&binaries) {
            eprintln!("wsfn-local invoke: {e}");
            return ExitCode::FAILURE;
        }
        opts.runtime_api = Some(wsfn_local::RuntimeApiOptions {
            binaries: wsfn_local::runtime_api::default_binaries(),
            max_instances: 1,
            timeout: None,
            cpu_share: false,
        });
    }
    let running = match start(opts).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wsfn-local invoke: {e}");
            return ExitCode::FAILURE;
        }
    };
    let spec = &running.gateway.spec;
    let function = spec
        .routes
        .get(&args.function)
        .map(|f| f.logical_id.clone())
        .unwrap_or(args.function);
    let result = match running.runtime.clone() {
        Some(rt) => {
            let (r, report) = rt.run_reported(&function, event).await;
            if let Some(report) = report {
                eprintln!("{report}");
            }
            r.and_then(|body| {
                serde_json::from_slice(&body)
                    .map_err(|e| wsfn_local::invoker::InvokeError::Function(e.to_string()))
            })
        }
        None => running.gateway.invoker.invoke_json(&function, event).await,
    };
    // What the function pushed through the management API, as it went out.
    if let Some(captured) = &running.management.captured {
        for (id, frame) in captured.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            eprintln!("pushed to {id}: {frame}");
        }
    }
    running.shutdown().await;
    match result {
        Ok(r) => {
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wsfn-local invoke: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Args)]
struct Serve {
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

#[derive(Args)]
struct TokenArgs {
    /// User id (`sub`).
    #[arg(long)]
    sub: String,
    /// Channel pattern the token may subscribe to (repeatable).
    #[arg(long)]
    subscribe: Vec<String>,
    /// Channel pattern the token may publish to (repeatable).
    #[arg(long)]
    publish: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
    /// Per-second rate limit override.
    #[arg(long)]
    rate: Option<f64>,
}

fn token(args: TokenArgs) -> ExitCode {
    if args.sub.is_empty() || args.sub.starts_with('@') {
        eprintln!("wsfn-local token: --sub must be a user id, not empty and not beginning with `@` (reserved for the backend)");
        return ExitCode::FAILURE;
    }
    let secret = std::env::var("JWT_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| wsfn::testkit::DEV_SECRET.to_string());
    let claims = wsfn::auth::TokenClaims {
        sub: args.sub,
        exp: wsfn::time::now_secs() + args.ttl,
        subscribe: args.subscribe,
        publish: args.publish,
        rate: args.rate,
        nbf: None,
        iss: std::env::var("JWT_ISSUER").ok().filter(|s| !s.is_empty()),
        aud: std::env::var("JWT_AUDIENCE").ok().filter(|s| !s.is_empty()),
        iat: Some(wsfn::time::now_secs()),
        info: None,
    };
    match wsfn::auth::sign_hs256(&secret, &claims) {
        Ok(t) => {
            println!("{t}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wsfn-local token: {e}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Token(args)) => return token(args),
        Some(Command::Invoke(args)) => return invoke(args).await,
        None => {}
    }
    let s = cli.serve;
    if !s.quiet {
        // The functions' own log lines (why a handshake was refused, what a
        // fan-out did), one JSON object each, as CloudWatch would show them.
        wsfn::logging::init_json();
    }
    let mut parameters = std::collections::HashMap::new();
    for p in &s.parameters {
        let Some((k, v)) = p.split_once('=') else {
            eprintln!("wsfn-local: --parameter `{p}` must be NAME=VALUE");
            return ExitCode::FAILURE;
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
            eprintln!("wsfn-local: {name} must be between 0 and 1");
            return ExitCode::FAILURE;
        }
    }
    let mut fail_invocations = std::collections::HashMap::new();
    for f in &s.fail_invocations {
        match f.split_once('=').map(|(k, n)| (k, n.parse::<u32>())) {
            Some((k, Ok(n))) => {
                fail_invocations.insert(k.to_string(), n);
            }
            _ => {
                eprintln!("wsfn-local: --fail-invocations `{f}` must be FUNCTION=N");
                return ExitCode::FAILURE;
            }
        }
    }
    let dynamodb_faults = match s.fail_dynamodb.as_deref().map(DynamoFaults::parse) {
        None => DynamoFaults::default(),
        Some(Ok(f)) => f,
        Some(Err(e)) => {
            eprintln!("wsfn-local: --fail-dynamodb: {e}");
            return ExitCode::FAILURE;
        }
    };
    if s.management_rps == Some(0) {
        eprintln!("wsfn-local: --management-rps must be at least 1");
        return ExitCode::FAILURE;
    }
    let runtime_api = if s.invoker == "runtime-api" {
        let binaries: Vec<String> = match wsfn_local::template::load(&s.template, &parameters) {
            Ok(spec) => spec.functions.values().map(|f| f.binary.clone()).collect(),
            Err(e) => {
                eprintln!("wsfn-local: {e}");
                return ExitCode::FAILURE;
            }
        };
        eprintln!("wsfn-local: building {} …", binaries.join(", "));
        if let Err(e) = wsfn_local::runtime_api::build(&binaries) {
            eprintln!("wsfn-local: {e}");
            return ExitCode::FAILURE;
        }
        Some(wsfn_local::RuntimeApiOptions {
            binaries: wsfn_local::runtime_api::default_binaries(),
            max_instances: s.max_instances.max(1),
            timeout: None,
            cpu_share: s.cpu_share,
        })
    } else {
        None
    };
    let opts = Options {
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
