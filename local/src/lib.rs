//! wsfn-local: a local API Gateway WebSocket emulator driven by template.yaml.
//! [`start`] builds everything and serves on a port; [`router`] is the whole
//! HTTP surface, for tests.

pub mod connections;
pub mod console;
pub mod dev;
pub mod dynamo_faults;
pub mod events_api;
pub mod gateway;
pub mod ids;
pub mod inspect;
pub mod invoker;
pub mod lambda_api;
pub mod management;
pub mod metrics;
pub mod runtime_api;
pub mod template;
pub mod virtuals;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use wsfn::push::ManagementPushers;
use wsfn::store::{DynamoStore, MemoryStore, Store};

use crate::console::Console;
use crate::gateway::{Gateway, GatewayOptions};
use crate::invoker::{InProcessInvoker, Invoker, Shared};
use crate::management::Faults;
use crate::template::FunctionSpec;

/// Everything `wsfn-local` can be told.
#[derive(Debug, Clone)]
pub struct Options {
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// SAM template path.
    pub template: String,
    /// Template parameter overrides.
    pub parameters: HashMap<String, String>,
    /// Use this DynamoDB API (e.g. DynamoDB Local) instead of the embedded store.
    pub dynamodb_endpoint: Option<String>,
    /// Idle timeout.
    pub idle_timeout: Duration,
    /// Maximum connection duration.
    pub max_duration: Duration,
    /// Injected management API behaviour.
    pub faults: Faults,
    /// No per-event log lines.
    pub quiet: bool,
    /// Print the functions' CloudWatch EMF metric lines to stdout.
    pub emf: bool,
    /// Function environment set here wins over the process environment and
    /// the template (tests and benchmarks use a table of their own).
    pub environment: HashMap<String, String>,
    /// Account-wide @connections rate limit to emulate (429 beyond).
    pub management_rps: Option<u32>,
    /// Answer POSTs to virtual subscriber ids (benchmarks).
    pub virtual_subscribers: bool,
    /// Failure drill: the first N Invoke API invocations of a function fail.
    pub fail_invocations: HashMap<String, u32>,
    /// DynamoDB faults (`--fail-dynamodb`): every function's calls pass a
    /// proxy that fails a share of them (needs `dynamodb_endpoint`).
    pub dynamodb_faults: dynamo_faults::DynamoFaults,
    /// Asynchronous invocations of one function running at once (32).
    pub async_concurrency: usize,
    /// Answer POSTs to connections without a socket and keep the frames
    /// (`wsfn-local invoke` shows what the function pushed).
    pub capture_pushes: bool,
    /// Run the built binaries through the Lambda Runtime API (needs
    /// DynamoDB: processes cannot share the embedded store).
    pub runtime_api: Option<RuntimeApiOptions>,
    /// Serve the demo app at `/` (`--no-demo` turns it off).
    pub demo: bool,
    /// POST each event the functions send to EventBridge here, as
    /// EventBridge delivers it to a target (`--events-webhook`).
    pub events_webhook: Option<String>,
}

/// `--invoker runtime-api` settings.
#[derive(Debug, Clone)]
pub struct RuntimeApiOptions {
    /// Where the function binaries are (`target/debug`).
    pub binaries: std::path::PathBuf,
    /// Most processes per function.
    pub max_instances: usize,
    /// Overrides every function's `Timeout` (tests).
    pub timeout: Option<Duration>,
    /// Limit each process to Lambda's CPU share for its `MemorySize`
    /// (cgroup `cpu` controller, where writable).
    pub cpu_share: bool,
}

impl Options {
    /// Defaults: 127.0.0.1:3001, ./template.yaml, embedded store, AWS timeouts.
    pub fn new(template: impl Into<String>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3001)),
            template: template.into(),
            parameters: HashMap::new(),
            dynamodb_endpoint: None,
            idle_timeout: Duration::from_secs(600),
            max_duration: Duration::from_secs(7200),
            faults: Faults::default(),
            quiet: false,
            emf: false,
            environment: HashMap::new(),
            management_rps: None,
            virtual_subscribers: false,
            fail_invocations: HashMap::new(),
            dynamodb_faults: dynamo_faults::DynamoFaults::default(),
            async_concurrency: 32,
            capture_pushes: false,
            runtime_api: None,
            demo: true,
            events_webhook: None,
        }
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad template.
    #[error(transparent)]
    Template(#[from] template::TemplateError),
    /// Bad function configuration.
    #[error(transparent)]
    Setup(#[from] invoker::SetupError),
    /// The Runtime API invoker could not start.
    #[error("runtime API invoker: {0}")]
    RuntimeApi(String),
    /// Faults asked for that cannot be injected.
    #[error("{0}")]
    Faults(String),
    /// DynamoDB endpoint unusable.
    #[error("DynamoDB at {endpoint}: {reason}")]
    Dynamo {
        /// The endpoint.
        endpoint: String,
        /// What failed.
        reason: String,
    },
    /// Could not listen.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
}

/// A running gateway.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (connections, spec).
    pub gateway: Arc<Gateway>,
    /// Which store it uses, for the banner.
    pub store_label: String,
    /// Whether the dev JWT secret is in use.
    pub dev_secret: bool,
    /// The store the functions share (tests and benchmarks inspect it).
    pub store: Arc<dyn Store>,
    /// The embedded store, when that is the one in use.
    pub memory: Option<Arc<MemoryStore>>,
    /// The DynamoDB table, when DynamoDB is in use.
    pub dynamo_table: Option<(wsfn::aws_sdk_dynamodb::Client, String)>,
    /// The functions' metrics (`GET /metrics`).
    pub metrics: Arc<metrics::Registry>,
    /// The management API (throttle and virtual subscriber counts).
    pub management: Arc<management::Surface>,
    /// The Runtime API invoker, in that mode.
    pub runtime: Option<Arc<runtime_api::RuntimeApiInvoker>>,
    /// EventBridge's `PutEvents` (the events the functions sent).
    pub events: Arc<events_api::EventsApi>,
    /// The DynamoDB fault proxy, with `dynamodb_faults`.
    pub dynamo_faults: Option<Arc<dynamo_faults::FaultProxy>>,
    server: tokio::task::JoinHandle<()>,
}

impl Running {
    /// `ws://` URL clients connect to.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The management endpoint the functions push to.
    pub fn management_endpoint(&self) -> String {
        format!("http://{}/{}", self.addr, self.gateway.opts.stage)
    }

    /// Closes every socket with 1001, runs their `$disconnect`s, stops serving.
    pub async fn shutdown(self) {
        self.gateway.shutdown(Duration::from_secs(10)).await;
        self.server.abort();
    }
}

/// The HTTP surface: WebSocket upgrades on `/`, management API and
/// `/metrics` beside it.
pub fn router(dev: Arc<dev::Dev>, registry: Arc<metrics::Registry>) -> Router {
    let gw = dev.gw.clone();
    let management = dev.management.clone();
    let mgmt = get(management::get)
        .post(management::post)
        .delete(management::delete)
        .with_state(management);
    let faults = match &dev.dynamo_faults {
        Some(proxy) => {
            let route = axum::routing::post(dynamo_faults::handle).with_state(proxy.clone());
            Router::new()
                .route(dynamo_faults::PATH, route.clone())
                .route(&format!("{}/", dynamo_faults::PATH), route)
        }
        None => Router::new(),
    };
    faults
        .route(
            "/",
            get(dev::root)
                .with_state(dev.clone())
                .merge(axum::routing::post(events_api::put_events).with_state(dev.events.clone())),
        )
        .route("/demo/{file}", get(dev::asset).with_state(dev.clone()))
        .route(
            "/_wsfn/token",
            axum::routing::post(dev::token).with_state(dev.clone()),
        )
        .route("/_wsfn/stats", get(dev::stats).with_state(dev.clone()))
        .route("/_wsfn/demo-hook", axum::routing::post(dev::demo_hook))
        .route(
            "/_wsfn/connections/{id}",
            axum::routing::delete(dev::drop_connection).with_state(dev),
        )
        .route("/metrics", get(metrics::serve).with_state(registry))
        .route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(lambda_api::invoke).with_state(gw),
        )
        .route("/@connections/{id}", mgmt.clone())
        .route("/{stage}/@connections/{id}", mgmt)
}

fn sdk_config(region: &str) -> wsfn::aws_config::SdkConfig {
    use wsfn::aws_sdk_dynamodb::config::{Credentials, Region};
    let creds = match (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Ok(k), Ok(s)) => Credentials::new(k, s, None, None, "environment"),
        _ => Credentials::new("wsfnlocal", "wsfnlocal", None, None, "wsfn-local"),
    };
    wsfn::aws_config::SdkConfig::builder()
        .behavior_version(wsfn::aws_config::BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(wsfn::aws_sdk_dynamodb::config::SharedCredentialsProvider::new(creds))
        .build()
}

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
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| StartError::Bind {
            addr: opts.listen,
            reason: e.to_string(),
        })?;
    let addr = listener.local_addr().map_err(|e| StartError::Bind {
        addr: opts.listen,
        reason: e.to_string(),
    })?;
    let stage = "local".to_string();
    let management_endpoint = format!("http://{addr}/{stage}");
    if opts.demo {
        dev::configure_demo_hook(&mut opts.environment, &spec, addr);
    }
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    let sdk = sdk_config(&region);
    let process = |k: &str| {
        opts.environment
            .get(k)
            .cloned()
            .or_else(|| std::env::var(k).ok())
    };

    // With faults, the functions reach DynamoDB through this gateway's
    // fault proxy; the table itself is created directly.
    let fault_proxy = match (&opts.dynamodb_endpoint, opts.dynamodb_faults.any()) {
        (_, false) => None,
        (Some(endpoint), true) => Some(Arc::new(dynamo_faults::FaultProxy::new(
            endpoint,
            opts.dynamodb_faults,
        ))),
        (None, true) => {
            return Err(StartError::Faults(
                "--fail-dynamodb needs --dynamodb-endpoint: the embedded store has no DynamoDB calls to fail"
                    .into(),
            ))
        }
    };
    let functions_endpoint = |endpoint: &str| match &fault_proxy {
        Some(_) => format!("http://{addr}{}", dynamo_faults::PATH),
        None => endpoint.to_string(),
    };
    let mut memory = None;
    let mut dynamo_table = None;
    let (store, store_label): (Arc<dyn Store>, String) = match &opts.dynamodb_endpoint {
        None => {
            let m = Arc::new(MemoryStore::new());
            memory = Some(m.clone());
            (m, "embedded (in memory; state is lost on exit)".into())
        }
        Some(endpoint) => {
            let table = spec
                .routes
                .values()
                .find_map(|f| f.env.get("TABLE_NAME").cloned())
                .filter(|t| !t.is_empty())
                .or_else(|| spec.table.as_ref().map(|t| t.name.clone()))
                .unwrap_or_else(|| "wsfn".into());
            let table = process("TABLE_NAME").unwrap_or(table);
            if let Some(t) = &spec.table {
                if t.ttl_attribute.as_deref() != Some(wsfn::store::keys::TTL) {
                    return Err(StartError::Dynamo {
                        endpoint: endpoint.clone(),
                        reason: format!(
                            "table `{}` must enable TTL on attribute `ttl`",
                            t.logical_id
                        ),
                    });
                }
            }
            let conf = wsfn::aws_sdk_dynamodb::config::Builder::from(&sdk)
                .endpoint_url(endpoint)
                .build();
            let client = wsfn::aws_sdk_dynamodb::Client::from_conf(conf);
            wsfn::store::create_table(&client, &table)
                .await
                .map_err(|e| StartError::Dynamo {
                    endpoint: endpoint.clone(),
                    reason: e.to_string(),
                })?;
            dynamo_table = Some((client.clone(), table.clone()));
            let functions_client =
                wsfn::store::dynamo_client(&sdk, Some(&functions_endpoint(endpoint)));
            (
                Arc::new(DynamoStore::new(functions_client, table.clone())),
                format!("DynamoDB at {endpoint}, table {table}"),
            )
        }
    };
    // Fan-out shards go through this gateway's Lambda Invoke API with the
    // real Lambda client, as they go through Lambda's when deployed.
    let lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&sdk)
            .endpoint_url(format!("http://{addr}"))
            .build(),
    );
    // Events go to this gateway's PutEvents with the real EventBridge client.
    let events_client = wsfn::aws_sdk_eventbridge::Client::from_conf(
        wsfn::aws_sdk_eventbridge::config::Builder::from(&sdk)
            .endpoint_url(format!("http://{addr}"))
            .build(),
    );
    let events = events_api::EventsApi::new(
        Console::new(opts.quiet),
        &region,
        opts.events_webhook.clone(),
    );
    let pushers = Arc::new(ManagementPushers::new(sdk));
    let (invoker, dev_secret) = InProcessInvoker::new(
        &spec,
        &process,
        &management_endpoint,
        Shared {
            store: store.clone(),
            pushers,
            lambda: Some(lambda),
            events: Some(events_client),
        },
    )?;
    let tokens = token_issuer(&spec, &process, &management_endpoint);
    let mut runtime = None;
    // A function process's environment: the template's and the process's
    // values, then this gateway's endpoints and the credentials.
    let creds = |k: &str| std::env::var(k).unwrap_or_else(|_| "wsfnlocal".into());
    let process_env = |f: &FunctionSpec, table: Option<&String>, dynamo: Option<String>| {
        let (env, _) = invoker::function_env(f, &process, &management_endpoint);
        let mut env: HashMap<String, String> = env.into_iter().collect();
        // Locally the secrets are in the environment, not in Secrets
        // Manager (the binaries refuse both at once).
        for (value, arn) in [
            ("JWT_SECRET", "JWT_SECRET_ARN"),
            ("HOOK_SECRET", "HOOK_SECRET_ARN"),
        ] {
            if env.get(value).is_some_and(|v| !v.is_empty()) {
                env.remove(arn);
            }
        }
        if let Some(table) = table {
            env.insert("TABLE_NAME".into(), table.clone());
        }
        env.insert("AWS_REGION".into(), region.clone());
        env.insert("AWS_DEFAULT_REGION".into(), region.clone());
        env.insert("AWS_ACCESS_KEY_ID".into(), creds("AWS_ACCESS_KEY_ID"));
        env.insert(
            "AWS_SECRET_ACCESS_KEY".into(),
            creds("AWS_SECRET_ACCESS_KEY"),
        );
        if let Some(endpoint) = dynamo {
            env.insert("AWS_ENDPOINT_URL_DYNAMODB".into(), endpoint);
        }
        env.insert("AWS_ENDPOINT_URL_LAMBDA".into(), format!("http://{addr}"));
        env.insert(
            "AWS_ENDPOINT_URL_EVENTBRIDGE".into(),
            format!("http://{addr}"),
        );
        env
    };
    let invoker: Arc<dyn Invoker> = match &opts.runtime_api {
        None if invoker::app_functions(&spec).is_empty() => Arc::new(invoker),
        // The application's functions (hooks) run as processes.
        None => {
            let app: Vec<(FunctionSpec, HashMap<String, String>)> = invoker::app_functions(&spec)
                .into_iter()
                .map(|f| {
                    (
                        f.clone(),
                        process_env(f, None, opts.dynamodb_endpoint.clone()),
                    )
                })
                .collect();
            let ids = app.iter().map(|(f, _)| f.logical_id.clone()).collect();
            let r = runtime_api::RuntimeApiInvoker::start(
                app,
                runtime_api::default_binaries(),
                4,
                opts.quiet,
                false,
            )
            .await
            .map_err(StartError::RuntimeApi)?;
            Arc::new(invoker::Split {
                wsfn: Arc::new(invoker),
                app: (ids, Arc::new(r)),
            })
        }
        Some(rt) => {
            let Some((_, table)) = &dynamo_table else {
                return Err(StartError::RuntimeApi(
                    "needs --dynamodb-endpoint: function processes cannot share the embedded store"
                        .into(),
                ));
            };
            let endpoint =
                functions_endpoint(opts.dynamodb_endpoint.as_deref().unwrap_or_default());
            let functions = spec
                .functions
                .values()
                .map(|f| {
                    let env = process_env(f, Some(table), Some(endpoint.clone()));
                    let mut f = f.clone();
                    if let Some(t) = rt.timeout {
                        f.timeout = t;
                    }
                    (f, env)
                })
                .collect();
            let r = Arc::new(
                runtime_api::RuntimeApiInvoker::start(
                    functions,
                    rt.binaries.clone(),
                    rt.max_instances,
                    opts.quiet,
                    rt.cpu_share,
                )
                .await
                .map_err(StartError::RuntimeApi)?,
            );
            runtime = Some(r.clone());
            r
        }
    };
    let gw = Arc::new(Gateway::new(
        spec,
        layer(invoker),
        GatewayOptions {
            idle_timeout: opts.idle_timeout,
            max_duration: opts.max_duration,
            stage,
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
    let app = router(dev, registry.clone()).into_make_service_with_connect_info::<SocketAddr>();
    // Small frames both ways: without TCP_NODELAY, Nagle + delayed ACK adds ~40 ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("wsfn-local: server error: {e}");
        }
    });
    Ok(Running {
        addr,
        gateway: gw,
        store_label,
        dev_secret,
        store,
        memory,
        dynamo_table,
        metrics: registry,
        management,
        runtime,
        events,
        dynamo_faults: fault_proxy,
        server,
    })
}

/// How the functions' tokens are signed, when wsfn-local can sign them
/// (HS256 with `JWT_SECRET` or the dev secret).
fn token_issuer(
    spec: &template::ApiSpec,
    process: &dyn Fn(&str) -> Option<String>,
    management_endpoint: &str,
) -> Option<dev::TokenIssuer> {
    // A function that verifies tokens (not the application's own).
    let f = spec.functions.values().find(|f| {
        wsfn::functions::Function::from_binary(&f.binary).is_some_and(|k| k.verifies_tokens())
    })?;
    let (env, _) = invoker::function_env(f, process, management_endpoint);
    let get = |k: &str| env.get(k).filter(|v| !v.trim().is_empty()).cloned();
    if get("JWT_PUBLIC_KEY").is_some() || get("JWT_JWKS_URL").is_some() {
        return None;
    }
    Some(dev::TokenIssuer {
        secret: get("JWT_SECRET")?,
        issuer: get("JWT_ISSUER"),
        audience: get("JWT_AUDIENCE"),
    })
}

/// A sample event's time fields set to now, as API Gateway would send them
/// (an old `connectedAt` would make every reply carry a `reconnect` frame).
pub fn current_times(mut event: serde_json::Value) -> serde_json::Value {
    let now = wsfn::time::now_millis();
    if let Some(ctx) = event
        .get_mut("requestContext")
        .and_then(|c| c.as_object_mut())
    {
        for field in ["connectedAt", "requestTimeEpoch"] {
            if ctx.contains_key(field) {
                ctx.insert(field.into(), serde_json::json!(now));
            }
        }
        if ctx.contains_key("requestTime") {
            ctx.insert(
                "requestTime".into(),
                serde_json::json!(wsfn::time::format_clf(now)),
            );
        }
    }
    event
}

#[cfg(test)]
mod tests {
    #[test]
    fn sample_event_times_become_current() {
        let event = serde_json::json!({"requestContext": {"connectedAt": 1, "requestTimeEpoch": 2, "requestTime": "x"}, "body": "{}"});
        let now = wsfn::time::now_millis();
        let e = super::current_times(event);
        let ctx = &e["requestContext"];
        assert!(ctx["connectedAt"].as_u64().unwrap_or(0) >= now);
        assert!(ctx["requestTimeEpoch"].as_u64().unwrap_or(0) >= now);
        assert_ne!(ctx["requestTime"], "x");
        assert_eq!(e["body"], "{}");
        // Events without a request context (publish, fanout) are untouched.
        let publish = serde_json::json!({"channel": "room:a", "data": 1});
        assert_eq!(super::current_times(publish.clone()), publish);
    }
}
