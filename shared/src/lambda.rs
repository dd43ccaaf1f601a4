//! The Lambda binaries' one entry point: logging, the function's [`App`]
//! from the environment (cold start), then every invocation through its
//! handler with the runtime's request id and deadline, inside a span that
//! carries them (and the connection and route, for WebSocket events).
//! Handler errors become the runtime's `Diagnostic` with wsfn's error type.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::app::App;
use crate::error::HandlerError;
use crate::functions::Function;
use crate::handlers::Invocation;
use crate::logging::Traced;

/// The error `main` returns: a cold-start failure or the runtime's own.
pub use lambda_runtime::Error;

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        Diagnostic {
            error_type: e.error_type().into(),
            error_message: e.to_string(),
        }
    }
}

/// Runs `function` under the Lambda runtime with `handler`; returns only
/// when the runtime does (or at cold start, with the configuration error
/// that names the variable).
pub async fn run<E, R, H>(function: Function, handler: H) -> Result<(), Error>
where
    E: DeserializeOwned + Traced,
    R: Serialize,
    H: AsyncFn(E, &App, &Invocation<'_>) -> Result<R, HandlerError>,
{
    crate::logging::init_json();
    let app = &crate::bootstrap::app_from_env(function).await?;
    let handler = &handler;
    lambda_runtime::run(service_fn(|event: LambdaEvent<E>| async move {
        let ctx = &event.context;
        let span = crate::logging::span_for(
            &ctx.request_id,
            ctx.xray_trace_id.as_deref(),
            &event.payload,
        );
        let invocation = Invocation::new(&ctx.request_id, ctx.deadline);
        let work = handler(event.payload, app, &invocation);
        crate::logging::within(span, work)
            .await
            .map_err(Diagnostic::from)
    }))
    .await
}
