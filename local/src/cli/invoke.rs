//! `wsfn-local invoke`: one function, one event (the Docker-free
//! `sam local invoke`).

use std::process::ExitCode;

use std::net::SocketAddr;

use clap::Args;
use wsfn_local::{start, Options};

#[derive(Args)]
pub(super) struct InvokeArgs {
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
pub(super) async fn invoke(args: InvokeArgs) -> ExitCode {
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
