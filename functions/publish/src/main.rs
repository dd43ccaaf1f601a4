//! The server publish Lambda (`PublishFunction`): wiring only; the handler is `wsfn::handlers::publish_api`.

use lambda_runtime::{run, service_fn, Diagnostic, Error, LambdaEvent};
use wsfn::handlers::{publish_api, Invocation, PublishRequest};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    wsfn::logging::init_json();
    let app = &wsfn::bootstrap::app_from_env(wsfn::functions::Function::Publish).await?;
    run(service_fn(
        |event: LambdaEvent<PublishRequest>| async move {
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
            let work = publish_api(event.payload, app, invocation);
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
