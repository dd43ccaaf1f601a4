//! The HTTP surface on one port: WebSocket upgrades and the demo on `/`,
//! the management API, the Lambda Invoke API, `PutEvents`, the developer
//! endpoints and `/metrics`.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;

use crate::{dev, dynamo_faults, events_api, lambda_api, management, metrics};

/// The HTTP surface: WebSocket upgrades on `/`, management API and
/// `/metrics` beside it.
pub fn router(dev: Arc<dev::Dev>, registry: Arc<metrics::Registry>) -> Router {
    let gw = dev.gw.clone();
    let management = dev.management.clone();
    let mgmt = get(management::get)
        .post(management::post)
        .delete(management::delete)
        .with_state(management);
    let faults = match &dev.dynamo_faults {
        Some(proxy) => {
            let route = axum::routing::post(dynamo_faults::handle).with_state(proxy.clone());
            Router::new()
                .route(dynamo_faults::PATH, route.clone())
                .route(&format!("{}/", dynamo_faults::PATH), route)
        }
        None => Router::new(),
    };
    faults
        .route(
            "/",
            get(dev::root)
                .with_state(dev.clone())
                .merge(axum::routing::post(events_api::put_events).with_state(dev.events.clone())),
        )
        .route("/demo/{file}", get(dev::asset).with_state(dev.clone()))
        .route(
            "/_wsfn/token",
            axum::routing::post(dev::token).with_state(dev.clone()),
        )
        .route("/_wsfn/stats", get(dev::stats).with_state(dev.clone()))
        .route("/_wsfn/demo-hook", axum::routing::post(dev::demo_hook))
        .route(
            "/_wsfn/connections/{id}",
            axum::routing::delete(dev::drop_connection).with_state(dev),
        )
        .route("/metrics", get(metrics::serve).with_state(registry))
        .route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(lambda_api::invoke).with_state(gw),
        )
        .route("/@connections/{id}", mgmt.clone())
        .route("/{stage}/@connections/{id}", mgmt)
}
