//! Pushing frames to connections through the API Gateway management API.
//! The [`Pusher`] trait keeps fan-out testable and lets the local gateway's
//! own `@connections` server be reached over real HTTP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_apigatewaymanagement::Client;

mod retry;
mod signed;

pub use retry::{push_with_retry, Retry};
pub use signed::SignedPusher;

/// Why a push failed; decides whether fan-out retries, cleans up or counts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// 410: the connection no longer exists; remove its items.
    #[error("connection gone")]
    Gone,
    /// 429: throttled; retry with backoff.
    #[error("throttled")]
    Throttled,
    /// 5xx, timeout or network error: worth a retry.
    #[error("transient failure: {0}")]
    Transient(String),
    /// Anything else (403, 413, ...): retrying will not help.
    #[error("push failed: {0}")]
    Failed(String),
}

impl PushError {
    /// Whether a retry may succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, Self::Throttled | Self::Transient(_))
    }
}

/// Sends to and closes connections.
#[async_trait]
pub trait Pusher: Send + Sync {
    /// Sends one text frame to a connection.
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), PushError>;
    /// Closes a connection (the gateway then fires `$disconnect`).
    async fn delete(&self, connection_id: &str) -> Result<(), PushError>;
    /// Whether the connection is still open (GetConnection: 410 means gone).
    async fn alive(&self, connection_id: &str) -> Result<bool, PushError>;
}

/// Gives the pusher for a management endpoint (`https://{domain}/{stage}` or
/// `MANAGEMENT_ENDPOINT`): the endpoint is only known from the first event.
pub trait PusherFactory: Send + Sync {
    /// The pusher for `endpoint`, built once and cached.
    fn pusher(&self, endpoint: &str) -> Arc<dyn Pusher>;
}

/// The real management API client.
#[derive(Debug)]
pub struct ManagementPusher {
    client: Client,
}

fn classify<E, R>(e: aws_sdk_apigatewaymanagement::error::SdkError<E, R>) -> PushError
where
    E: aws_sdk_apigatewaymanagement::error::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    use aws_sdk_apigatewaymanagement::error::SdkError;
    match &e {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or_default();
            let status = se.raw().status_code();
            // Code and message for logs, never the raw HTTP exchange.
            let detail = format!(
                "{status} {}: {}",
                if code.is_empty() { "Unknown" } else { code },
                se.err().message().unwrap_or_default()
            );
            if code == "GoneException" || status == 410 {
                PushError::Gone
            } else if code == "LimitExceededException" || status == 429 {
                PushError::Throttled
            } else if status >= 500 {
                PushError::Transient(detail)
            } else {
                PushError::Failed(detail)
            }
        }
        SdkError::TimeoutError(_) => PushError::Transient("timeout".into()),
        SdkError::DispatchFailure(d) => PushError::Transient(format!(
            "dispatch failure ({})",
            if d.is_timeout() {
                "timeout"
            } else if d.is_io() {
                "io"
            } else {
                "connection"
            }
        )),
        SdkError::ResponseError(_) => PushError::Transient("unreadable response".into()),
        _ => PushError::Failed("request could not be built".into()),
    }
}

/// Status code access for the SDK's raw response type.
pub(crate) trait HttpStatus {
    /// The HTTP status.
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_sdk_apigatewaymanagement::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

impl ManagementPusher {
    /// A client for one management endpoint. SDK retries are off: fan-out
    /// owns retry policy (backoff with jitter, Gone never retried).
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        Self {
            client: Client::from_conf(conf),
        }
    }
}

#[async_trait]
impl Pusher for ManagementPusher {
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), PushError> {
        self.client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(payload))
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn delete(&self, connection_id: &str) -> Result<(), PushError> {
        self.client
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn alive(&self, connection_id: &str) -> Result<bool, PushError> {
        match self
            .client
            .get_connection()
            .connection_id(connection_id)
            .send()
            .await
            .map_err(classify)
        {
            Ok(_) => Ok(true),
            Err(PushError::Gone) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Builds and caches one pusher per endpoint: a [`SignedPusher`] (the SDK
/// client when it cannot be built).
pub struct ManagementPushers {
    sdk: aws_config::SdkConfig,
    cache: Mutex<HashMap<String, Arc<dyn Pusher>>>,
}

impl std::fmt::Debug for ManagementPushers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagementPushers").finish_non_exhaustive()
    }
}

impl ManagementPushers {
    /// Uses the SDK config loaded once at cold start.
    pub fn new(sdk: aws_config::SdkConfig) -> Self {
        Self {
            sdk,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

impl PusherFactory for ManagementPushers {
    fn pusher(&self, endpoint: &str) -> Arc<dyn Pusher> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(endpoint.to_string())
            .or_insert_with(|| match SignedPusher::new(&self.sdk, endpoint) {
                Ok(p) => Arc::new(p),
                Err(e) => {
                    tracing::warn!(error = %e, "lean pusher unavailable; pushing through the SDK client");
                    Arc::new(ManagementPusher::new(&self.sdk, endpoint))
                }
            })
            .clone()
    }
}
