//! The `$disconnect` Lambda: wiring only; the handler is `wsfn::handlers::disconnect`.

use lambda_runtime::{run, service_fn, Diagnostic, Error, LambdaEvent};
use wsfn::handlers::{disconnect, WsEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    wsfn::logging::init_json();
    let app = &wsfn::bootstrap::app_from_env(wsfn::functions::Function::Disconnect).await?;
    run(service_fn(|event: LambdaEvent<WsEvent>| async move {
        let ctx = &event.context;
        let span = wsfn::logging::span_for(
            &ctx.request_id,
            ctx.xray_trace_id.as_deref(),
            &event.payload,
        );
        let outcome = wsfn::logging::within(span, disconnect(event.payload, app)).await;
        outcome.map_err(|e| Diagnostic {
            error_type: e.error_type().into(),
            error_message: e.to_string(),
        })
    }))
    .await
}
