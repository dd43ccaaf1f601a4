//! The fan-out shard Lambda (`FanoutFunction`): wiring only; the handler is `wsfn::handlers::fanout`.

use lambda_runtime::{run, service_fn, Diagnostic, Error, LambdaEvent};
use wsfn::dispatch::FanoutTask;
use wsfn::handlers::{fanout, Invocation};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    wsfn::logging::init_json();
    let app = &wsfn::bootstrap::app_from_env(wsfn::functions::Function::Fanout).await?;
    run(service_fn(|event: LambdaEvent<FanoutTask>| async move {
        let ctx = &event.context;
        let span = wsfn::logging::invocation_span(
            &ctx.request_id,
            ctx.xray_trace_id.as_deref(),
            None,
            Some("fanout"),
        );
        let invocation = Invocation {
            request_id: Some(&ctx.request_id),
            deadline_ms: Some(ctx.deadline),
        };
        let work = fanout(event.payload, app, invocation);
        wsfn::logging::within(span, work)
            .await
            .map_err(|e| Diagnostic {
                error_type: e.error_type().into(),
                error_message: e.to_string(),
            })
    }))
    .await
}
