//! wsfn: a real-time backend on API Gateway WebSockets and Lambda.
//!
//! The three handlers in [`handlers`] are plain async fns over an
//! [`app::App`]; the Lambda binaries, the local gateway and the tests all
//! call them the same way. The wire contract is `docs/protocol.md`.
//!
//! The `testkit` feature adds what the local gateway and tests need and
//! production does not: API Gateway event builders ([`events`]), a recording
//! pusher and token minting ([`testkit`]), and store inspection helpers.

mod actions;
pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod bus;
pub mod channel;
pub mod config;
mod error;
#[cfg(feature = "testkit")]
pub mod events;
pub mod fanout;
pub mod functions;
pub mod handlers;
pub mod hooks;
mod http;
pub mod instance_cache;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod logging;
pub mod metrics;
pub mod protocol;
pub mod push;
pub mod retry;
pub mod secrets;
pub mod sigv4;
pub mod store;
mod stream;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod time;

pub use aws_config;
pub use aws_lambda_events;
pub use aws_sdk_dynamodb;
pub use aws_sdk_eventbridge;
pub use error::HandlerError;
