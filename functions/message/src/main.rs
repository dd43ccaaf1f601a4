//! The `$default` route Lambda: wiring only; the handler is `wsfn::handlers::message`.

use lambda_runtime::{run, service_fn, Diagnostic, Error, LambdaEvent};
use wsfn::handlers::{message_within, WsEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    wsfn::logging::init_json();
    let app = &wsfn::bootstrap::app_from_env(wsfn::functions::Function::Message).await?;
    run(service_fn(|event: LambdaEvent<WsEvent>| async move {
        let ctx = &event.context;
        let span = wsfn::logging::span_for(
            &ctx.request_id,
            ctx.xray_trace_id.as_deref(),
            &event.payload,
        );
        let deadline = Some(ctx.deadline);
        let outcome =
            wsfn::logging::within(span, message_within(event.payload, app, deadline)).await;
        outcome.map_err(|e| Diagnostic {
            error_type: e.error_type().into(),
            error_message: e.to_string(),
        })
    }))
    .await
}
