//! The Lambda entry points. Each is a plain async fn of one shape,
//! `(event, &App, &Invocation)`, called by the Lambda binaries, the local
//! gateway and the tests alike.

mod connect;
mod deliver;
mod disconnect;
mod fanout;
mod invocation;
mod message;
mod server;

pub use crate::fanout::dispatch::FanoutTask;
pub use connect::connect;
pub use disconnect::disconnect;
pub use fanout::{fanout, ShardReport};
pub use invocation::Invocation;
pub use message::message;
pub use server::{backend, MAX_REASON_CHARS, OPS, REVOKED_CODE, REVOKED_REASON};
pub use server::{
    publish_api, PublishError, PublishRequest, PublishResponse, PublishResult, MAX_BATCH,
    SERVER_FROM,
};

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::encodings::Body;

/// The request event of the three WebSocket routes.
pub use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest as WsEvent;

/// A response with a status and a short text body.
pub fn response(status: u16, body: &str) -> ApiGatewayProxyResponse {
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = i64::from(status);
    if !body.is_empty() {
        r.body = Some(Body::Text(body.to_string()));
    }
    r
}
