//! `$disconnect`: removes the connection and everything it owns. Idempotent:
//! API Gateway may deliver it late, twice or never (then TTL sweeps).

use aws_lambda_events::apigw::ApiGatewayProxyResponse;

use super::deliver::announce_leaves;
use super::{response, Invocation, WsEvent};
use crate::app::App;
use crate::bus;
use crate::error::HandlerError;

/// Handles `$disconnect`; a `connection.closed` event (`EVENT_BUS`) follows.
pub async fn disconnect(
    event: WsEvent,
    app: &App,
    invocation: &Invocation<'_>,
) -> Result<ApiGatewayProxyResponse, HandlerError> {
    let rid = event.request_context.request_id.as_deref();
    let work = cleanup(&event, app);
    app.with_events("disconnect", rid, invocation.deadline_ms, work)
        .await
}

async fn cleanup(event: &WsEvent, app: &App) -> Result<ApiGatewayProxyResponse, HandlerError> {
    let ctx = &event.request_context;
    let Some(id) = ctx.connection_id.as_deref() else {
        return Ok(response(400, "missing connectionId"));
    };
    let removed = app.store.remove_connection(id).await?;
    bus::emit("connection.closed", || {
        serde_json::json!({
            "connection": id,
            "user": removed.user,
            "code": ctx.disconnect_status_code,
            "reason": ctx.disconnect_reason,
        })
    });
    app.forget_removed(id, &removed);
    if let Some(pusher) = app.pusher_for(ctx.domain_name.as_deref(), ctx.stage.as_deref()) {
        announce_leaves(app, pusher.as_ref(), id, &removed).await;
    }
    let mut metrics = app.metrics("disconnect");
    if let Some(rid) = ctx.request_id.as_deref() {
        metrics.property("requestId", rid);
    }
    metrics
        .dimension(
            "CloseCode",
            ctx.disconnect_status_code.unwrap_or(0).to_string(),
        )
        .count("Disconnected", 1)
        .count("SubscriptionsRemoved", removed.subscriptions)
        .flush();
    tracing::info!(
        connection = %id,
        status = ctx.disconnect_status_code,
        reason = ctx.disconnect_reason.as_deref().unwrap_or_default(),
        existed = removed.connection,
        subscriptions = removed.subscriptions,
        "disconnected"
    );
    Ok(response(200, ""))
}
