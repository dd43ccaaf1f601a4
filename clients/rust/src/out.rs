//! What the state machines ([`crate::channels`], [`crate::publishes`]) ask
//! the actor to do: send a frame (and remember what its reply is for), or
//! tell the application something. They never touch the socket themselves.

use serde_json::Value;
use tokio::sync::oneshot;

use crate::{Error, Event};

/// What a request's reply is for.
pub(crate) enum Pending {
    Subscribe { channel: String },
    Publish { key: u64 },
    Fill { channel: String },
    User(oneshot::Sender<Result<Value, Error>>),
    Auth,
    Unsubscribe,
}

/// One thing for the actor to do.
pub(crate) enum Out {
    /// Send this frame (with a fresh request id unless it has one).
    Send(Value, Pending),
    /// Tell the application.
    Emit(Event),
}

/// A server `error` frame as an [`Error`].
pub(crate) fn server_error(f: &Value) -> Error {
    Error::Server {
        code: f["code"].as_str().unwrap_or("internal").to_string(),
        message: f["message"].as_str().unwrap_or_default().to_string(),
    }
}
