//! Starting wsfn-local, stage by stage: listen, the store (embedded or
//! DynamoDB, maybe behind the fault proxy), the SDK clients the functions
//! use to reach this gateway, the invoker (in process, or the real binaries
//! through the Runtime API), the gateway itself, then serving.

use std::net::SocketAddr;
use std::sync::Arc;

use wsfn::push::ManagementPushers;

use crate::console::Console;
use crate::gateway::{Gateway, GatewayOptions};
use crate::invoker::{InProcessInvoker, Invoker, Shared};
use crate::{
    dev, dynamo_faults, events_api, management, metrics, router, template, Options, Running,
    StartError,
};

mod functions;
mod stores;

use functions::{build_invoker, sdk_config, token_issuer, Local};
use stores::build_store;

/// The stage wsfn-local serves.
const STAGE: &str = "local";

/// Loads the template, builds store, functions and gateway, and serves.
pub async fn start(opts: Options) -> Result<Running, StartError> {
    start_with(opts, |invoker| invoker).await
}

/// Like [`start`], with the invoker wrapped by `layer` (tests record or drop
/// events with it; a Runtime API invoker could slot in the same way).
pub async fn start_with(
    mut opts: Options,
    layer: impl FnOnce(Arc<dyn Invoker>) -> Arc<dyn Invoker>,
) -> Result<Running, StartError> {
    let spec = template::load(&opts.template, &opts.parameters)?;
    wsfn::metrics::set_enabled(opts.emf);
    let (listener, addr) = bind(opts.listen).await?;
    let management_endpoint = format!("http://{addr}/{STAGE}");
    if opts.demo {
        dev::configure_demo_hook(&mut opts.environment, &spec, addr);
    }
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    let sdk = sdk_config(&region);
    let environment = opts.environment.clone();
    let process = move |k: &str| {
        environment
            .get(k)
            .cloned()
            .or_else(|| std::env::var(k).ok())
    };
    let fault_proxy = fault_proxy(&opts)?;
    let local = Local {
        addr,
        region: region.clone(),
        management_endpoint: management_endpoint.clone(),
        faults: fault_proxy.is_some(),
    };
    let stores = build_store(&spec, &opts, &sdk, &process, &local).await?;
    let events = events_api::EventsApi::new(
        Console::new(opts.quiet),
        &region,
        opts.events_webhook.clone(),
    );
    let (in_process, dev_secret) = InProcessInvoker::new(
        &spec,
        &process,
        &management_endpoint,
        Shared {
            store: stores.store.clone(),
            pushers: Arc::new(ManagementPushers::new(sdk.clone())),
            lambda: Some(local.lambda_client(&sdk)),
            events: Some(local.events_client(&sdk)),
        },
    )?;
    let tokens = token_issuer(&spec, &process, &management_endpoint);
    let (invoker, runtime) =
        build_invoker(&spec, &opts, in_process, &stores, &local, &process).await?;
    let gw = Arc::new(Gateway::new(
        spec,
        layer(invoker),
        GatewayOptions {
            idle_timeout: opts.idle_timeout,
            max_duration: opts.max_duration,
            stage: STAGE.to_string(),
            domain: addr.to_string(),
            fail_invocations: opts.fail_invocations.clone(),
            async_concurrency: opts.async_concurrency,
        },
        Console::new(opts.quiet),
    ));
    let registry = metrics::Registry::install();
    let surface = management::Surface::new(
        gw.clone(),
        opts.faults,
        opts.management_rps,
        opts.virtual_subscribers,
    );
    let management = Arc::new(if opts.capture_pushes {
        surface.capturing()
    } else {
        surface
    });
    let dev = Arc::new(dev::Dev {
        gw: gw.clone(),
        demo: opts.demo,
        tokens,
        management: management.clone(),
        dynamo_faults: fault_proxy.clone(),
        events: events.clone(),
    });
    let server = serve(listener, router(dev, registry.clone()));
    Ok(Running {
        addr,
        gateway: gw,
        store_label: stores.label,
        dev_secret,
        store: stores.store,
        memory: stores.memory,
        dynamo_table: stores.dynamo_table,
        metrics: registry,
        management,
        runtime,
        events,
        dynamo_faults: fault_proxy,
        server,
    })
}

async fn bind(listen: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), StartError> {
    let bind_error = |e: std::io::Error| StartError::Bind {
        addr: listen,
        reason: e.to_string(),
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    Ok((listener, addr))
}

/// Serves `app` on `listener` until aborted.
fn serve(listener: tokio::net::TcpListener, app: axum::Router) -> tokio::task::JoinHandle<()> {
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    // Small frames both ways: without TCP_NODELAY, Nagle + delayed ACK adds ~40 ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("wsfn-local: server error: {e}");
        }
    })
}

/// With `--fail-dynamodb`, the functions reach DynamoDB through this
/// gateway's fault proxy; the table itself is created directly.
fn fault_proxy(opts: &Options) -> Result<Option<Arc<dynamo_faults::FaultProxy>>, StartError> {
    match (&opts.dynamodb_endpoint, opts.dynamodb_faults.any()) {
        (_, false) => Ok(None),
        (Some(endpoint), true) => Ok(Some(Arc::new(dynamo_faults::FaultProxy::new(
            endpoint,
            opts.dynamodb_faults,
        )))),
        (None, true) => Err(StartError::Faults(
            "--fail-dynamodb needs --dynamodb-endpoint: the embedded store has no DynamoDB calls to fail"
                .into(),
        )),
    }
}
