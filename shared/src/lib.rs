//! wsfn: a real-time backend on API Gateway WebSockets and Lambda.
//!
//! The wire contract is `docs/protocol.md`; this crate is everything behind
//! it. Five Lambda functions share it, each a plain async fn in
//! [`handlers`] with one shape, `(event, &App, &Invocation)`:
//!
//! | function | handler | event |
//! |---|---|---|
//! | `$connect` | [`handlers::connect`] | [`WsEvent`] |
//! | `$disconnect` | [`handlers::disconnect`] | [`WsEvent`] |
//! | `$default` (every client frame) | [`handlers::message`] | [`WsEvent`] |
//! | the backend's function (publish, server API) | [`handlers::backend`] | JSON |
//! | a big channel's fan-out shard | [`handlers::fanout`] | [`handlers::FanoutTask`] |
//!
//! The Lambda binaries are a few lines over `lambda::run` (feature
//! `lambda`); wsfn-local and the tests call the same handlers in process.
//!
//! # A tour
//!
//! - [`App`]: what a handler is given — the [`Config`] (one table of
//!   environment variables, [`config::VARS`]), the store, the push client,
//!   the fan-out dispatcher, hooks and the event bus. Built at cold start
//!   by [`bootstrap::app_from_env`].
//! - [`protocol`]: every wire frame; [`channel`]: channel names and
//!   patterns; [`auth`]: where the token travels, how it is verified.
//! - [`store`]: narrow traits by concern (connections, subscriptions,
//!   streams, rate) with two backends, DynamoDB and the embedded store,
//!   which pass one contract suite.
//! - [`push`]: the management API client (SigV4 by hand, [`sigv4`]) and
//!   its retry; [`fanout`]: delivering one frame to a channel's
//!   subscribers, split into shards for big channels.
//! - [`hooks`]: the application's code deciding on connects, subscribes,
//!   publishes and `rpc`; [`bus`]: events to EventBridge.
//! - [`metrics`] (CloudWatch EMF) and [`logging`] (JSON lines with the
//!   invocation's fields), after Powertools' conventions.
//! - [`functions`]: which binary each function is, whether it verifies
//!   tokens, the IAM actions its code calls (checked against the template).
//!
//! Internals (the action router, the stream append, the instance cache,
//! retries, secrets) are private. Errors: one enum per layer — actions map
//! to wire codes, [`HandlerError`] to Lambda's error types.
//!
//! # Features
//!
//! | feature | adds | used by |
//! |---|---|---|
//! | `lambda` | `lambda::run`, the Lambda runtime entry point | the five function binaries |
//! | `emulator` | API Gateway event builders, the dev secret, the EMF observer, embedded-store inspection | wsfn-local |
//! | `testkit` | `emulator`, plus a recording pusher and dispatcher, token minting, captured metrics | tests and benchmarks |
//!
//! No feature is on by default, and the function binaries enable only
//! `lambda`: neither emulator nor test support is in what is deployed.

mod actions;
pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod bus;
pub mod channel;
pub mod config;
mod error;
#[cfg(feature = "emulator")]
pub mod events;
pub mod fanout;
pub mod functions;
pub mod handlers;
pub mod hooks;
mod http;
mod instance_cache;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod logging;
pub mod metrics;
pub mod protocol;
pub mod push;
mod retry;
mod secrets;
pub mod sigv4;
pub mod store;
mod stream;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod time;

pub use app::App;
pub use aws_config;
pub use aws_lambda_events;
pub use aws_sdk_dynamodb;
pub use aws_sdk_eventbridge;
pub use config::Config;
pub use error::HandlerError;
pub use functions::Function;
pub use handlers::{Invocation, WsEvent};
