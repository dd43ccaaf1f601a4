//! What `wsfn-local` can be told ([`Options`]), and why it may not start.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::management::Faults;
use crate::{dynamo_faults, invoker, template};

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
