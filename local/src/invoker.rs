//! How the gateway runs a route's function. Today: in process, calling the
//! wsfn handlers directly with an [`App`] built from that function's
//! template environment. The trait leaves room for an invoker that runs the
//! built `bootstrap` binaries through the Lambda Runtime API.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use wsfn::app::App;
use wsfn::config::{Config, VARS};
use wsfn::events::DEV_SECRET;
use wsfn::fanout::dispatch::{FanoutTask, LambdaDispatcher};
use wsfn::functions::Function;
use wsfn::handlers::{self, WsEvent};
use wsfn::push::PusherFactory;
use wsfn::store::Store;

use crate::template::{ApiSpec, FunctionSpec};

/// Why an invocation failed (API Gateway answers `Internal server error`).
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// No function with that logical id.
    #[error("unknown function {0}")]
    UnknownFunction(String),
    /// The event did not deserialize into the handler's type.
    #[error("bad event: {0}")]
    BadEvent(String),
    /// The handler returned an error.
    #[error("function error: {0}")]
    Function(String),
}

/// Runs one function with one event.
#[async_trait]
pub trait Invoker: Send + Sync {
    /// Invokes `function` (logical id) with an API Gateway WebSocket event.
    async fn invoke(
        &self,
        function: &str,
        event: serde_json::Value,
    ) -> Result<ApiGatewayProxyResponse, InvokeError>;

    /// Invokes any function with any JSON event and returns its JSON
    /// answer (the Lambda Invoke API's view).
    async fn invoke_json(
        &self,
        function: &str,
        event: serde_json::Value,
    ) -> Result<serde_json::Value, InvokeError> {
        to_json(self.invoke(function, event).await?)
    }
}

/// The deadline of an invocation starting now (ms since the Unix epoch),
/// as Lambda computes it from the function's `Timeout`.
pub(crate) fn deadline_ms(timeout: std::time::Duration) -> u64 {
    wsfn::time::now_millis() + u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX / 2)
}

/// A handler's answer as the JSON the Lambda Invoke API returns.
fn to_json(r: impl serde::Serialize) -> Result<serde_json::Value, InvokeError> {
    serde_json::to_value(r).map_err(|e| InvokeError::Function(e.to_string()))
}

/// What every function shares: the store, the management API clients and
/// the Lambda client fan-out shards are queued with.
#[derive(Clone)]
pub struct Shared {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Management API clients.
    pub pushers: Arc<dyn PusherFactory>,
    /// Lambda client for `FANOUT_FUNCTION` (this gateway's Invoke API).
    pub lambda: Option<aws_sdk_lambda::Client>,
    /// EventBridge client for `EVENT_BUS` (this gateway's PutEvents).
    pub events: Option<wsfn::aws_sdk_eventbridge::Client>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// Calls the handlers in this process.
#[derive(Debug)]
pub struct InProcessInvoker {
    /// Logical id → handler, its App, and its `Timeout` (each invocation's
    /// deadline, as Lambda gives one).
    functions: HashMap<String, (Function, App, std::time::Duration)>,
}

/// Why the functions could not be set up (bad config names the function and variable).
#[derive(Debug, thiserror::Error)]
#[error("function `{function}`: {reason}")]
pub struct SetupError {
    /// Logical id.
    pub function: String,
    /// What is wrong.
    pub reason: String,
}

/// The environment a function sees: template values, then the process
/// environment on top, then local defaults for what is still unset.
pub fn function_env(
    spec: &FunctionSpec,
    process: &dyn Fn(&str) -> Option<String>,
    management_endpoint: &str,
) -> (BTreeMap<String, String>, bool) {
    let mut env = spec.env.clone();
    for name in spec
        .env
        .keys()
        .map(String::as_str)
        .chain(VARS.iter().map(|v| v.name))
    {
        if let Some(v) = process(name) {
            env.insert(name.to_string(), v);
        }
    }
    // The template points the functions at the deployed API's endpoint;
    // locally they push through this gateway (unless the process says otherwise).
    if process("MANAGEMENT_ENDPOINT").is_none() {
        env.insert(
            "MANAGEMENT_ENDPOINT".into(),
            management_endpoint.to_string(),
        );
    }
    let unset = |k: &str| env.get(k).is_none_or(|v| v.trim().is_empty());
    let dev_secret = unset("JWT_SECRET") && unset("JWT_PUBLIC_KEY") && unset("JWT_JWKS_URL");
    if dev_secret {
        env.insert("JWT_SECRET".into(), DEV_SECRET.into());
    }
    (env, dev_secret)
}

impl InProcessInvoker {
    /// Builds one [`App`] per function of `spec`, sharing the store and pushers.
    /// Returns the invoker and whether the dev secret is in use.
    pub fn new(
        spec: &ApiSpec,
        process: &dyn Fn(&str) -> Option<String>,
        management_endpoint: &str,
        shared: Shared,
    ) -> Result<(Self, bool), SetupError> {
        let mut functions = HashMap::new();
        let mut dev = false;
        for f in spec.functions.values() {
            // The application's own functions (hooks) run as processes
            // ([`app_functions`], [`Split`]).
            let Some(handler) = Function::from_binary(&f.binary) else {
                continue;
            };
            let (env, dev_secret) = function_env(f, process, management_endpoint);
            dev |= dev_secret;
            let map: HashMap<String, String> = env.into_iter().collect();
            let config = Config::for_function(&|k| map.get(k).cloned(), handler).map_err(|e| {
                SetupError {
                    function: f.logical_id.clone(),
                    reason: e.to_string(),
                }
            })?;
            let dispatcher = match (&config.fanout_function, &shared.lambda) {
                (Some(name), Some(client)) => Some(Arc::new(LambdaDispatcher::new(
                    client.clone(),
                    name.clone(),
                ))),
                _ => None,
            };
            let mut app = App::new(config, shared.store.clone(), shared.pushers.clone());
            if let Some(client) = &shared.lambda {
                app = app.with_hook_lambda(client.clone());
            }
            if let (Some(bus), Some(client)) = (&app.config.event_bus, &shared.events) {
                let sink = wsfn::bus::EventBridgeSink::new(client.clone(), bus.clone());
                app = app.with_bus(Arc::new(sink));
            }
            let app = match dispatcher {
                Some(d) => app.with_dispatcher(d),
                None => app,
            };
            functions.insert(f.logical_id.clone(), (handler, app, f.timeout));
        }
        Ok((Self { functions }, dev))
    }
}

#[async_trait]
impl Invoker for InProcessInvoker {
    async fn invoke(
        &self,
        function: &str,
        event: serde_json::Value,
    ) -> Result<ApiGatewayProxyResponse, InvokeError> {
        let (handler, app, timeout) = self
            .functions
            .get(function)
            .ok_or_else(|| InvokeError::UnknownFunction(function.into()))?;
        let event: WsEvent =
            serde_json::from_value(event).map_err(|e| InvokeError::BadEvent(e.to_string()))?;
        // The function's log lines carry the invocation's fields, as on Lambda.
        let rid = event.request_context.request_id.clone().unwrap_or_default();
        let span = wsfn::logging::span_for(&rid, None, &event);
        let invocation = handlers::Invocation::new(&rid, deadline_ms(*timeout));
        let run = async {
            match handler {
                Function::Connect => Ok(handlers::connect(event, app, &invocation).await),
                Function::Disconnect => Ok(handlers::disconnect(event, app, &invocation).await),
                Function::Message => Ok(handlers::message(event, app, &invocation).await),
                Function::Publish | Function::Fanout => Err(InvokeError::BadEvent(format!(
                    "{function} is not a WebSocket route function"
                ))),
            }
        };
        let result = wsfn::logging::within(span, run).await?;
        result.map_err(|e| InvokeError::Function(e.to_string()))
    }

    async fn invoke_json(
        &self,
        function: &str,
        event: serde_json::Value,
    ) -> Result<serde_json::Value, InvokeError> {
        let (handler, app, timeout) = self
            .functions
            .get(function)
            .ok_or_else(|| InvokeError::UnknownFunction(function.into()))?;
        let rid = crate::ids::request_id();
        let invocation = handlers::Invocation::new(&rid, deadline_ms(*timeout));
        let bad = |e: serde_json::Error| InvokeError::BadEvent(e.to_string());
        let failed = |e: wsfn::HandlerError| InvokeError::Function(e.to_string());
        match handler {
            Function::Publish => {
                let span = wsfn::logging::invocation_span(&rid, None, None, Some("publish"));
                let work = handlers::backend(event, app, &invocation);
                to_json(wsfn::logging::within(span, work).await.map_err(failed)?)
            }
            Function::Fanout => {
                let task: FanoutTask = serde_json::from_value(event).map_err(bad)?;
                let span = wsfn::logging::invocation_span(&rid, None, None, Some("fanout"));
                let work = handlers::fanout(task, app, &invocation);
                to_json(wsfn::logging::within(span, work).await.map_err(failed)?)
            }
            _ => to_json(self.invoke(function, event).await?),
        }
    }
}

/// The template's functions that are not wsfn's: the application's own
/// (a hook Lambda), run as processes through the Runtime API whatever the
/// invoker mode.
pub fn app_functions(spec: &ApiSpec) -> Vec<&FunctionSpec> {
    spec.functions
        .values()
        .filter(|f| Function::from_binary(&f.binary).is_none())
        .collect()
}

/// wsfn's functions in one invoker, the application's in another.
pub struct Split {
    /// wsfn's functions.
    pub wsfn: Arc<dyn Invoker>,
    /// The application's functions (logical ids) and their invoker.
    pub app: (Vec<String>, Arc<dyn Invoker>),
}

impl std::fmt::Debug for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Split")
            .field("app", &self.app.0)
            .finish_non_exhaustive()
    }
}

impl Split {
    fn pick(&self, function: &str) -> &Arc<dyn Invoker> {
        if self.app.0.iter().any(|f| f == function) {
            &self.app.1
        } else {
            &self.wsfn
        }
    }
}

#[async_trait]
impl Invoker for Split {
    async fn invoke(
        &self,
        function: &str,
        event: serde_json::Value,
    ) -> Result<ApiGatewayProxyResponse, InvokeError> {
        self.pick(function).invoke(function, event).await
    }

    async fn invoke_json(
        &self,
        function: &str,
        event: serde_json::Value,
    ) -> Result<serde_json::Value, InvokeError> {
        self.pick(function).invoke_json(function, event).await
    }
}
