//! The backend's function (`PublishFunction`): publishing and the server
//! API's operations. Wiring only; the handler is `wsfn::handlers::backend`.

use lambda_runtime::{run, service_fn, Diagnostic, Error, LambdaEvent};
use wsfn::handlers::{backend, Invocation};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    wsfn::logging::init_json();
    let app = &wsfn::bootstrap::app_from_env(wsfn::functions::Function::Publish).await?;
    run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            let ctx = &event.context;
            let span = wsfn::logging::invocation_span(
                &ctx.request_id,
                ctx.xray_trace_id.as_deref(),
                None,
                Some("publish"),
            );
            let invocation = Invocation {
                request_id: Some(&ctx.request_id),
                deadline_ms: Some(ctx.deadline),
            };
            let work = backend(event.payload, app, invocation);
            wsfn::logging::within(span, work)
                .await
                .map_err(|e| Diagnostic {
                    error_type: e.error_type().into(),
                    error_message: e.to_string(),
                })
        },
    ))
    .await
}
