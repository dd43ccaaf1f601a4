//! Wire frames (`docs/protocol.md` §3): what clients send, what the server sends back,
//! and the catalogue of error codes. Every wire shape lives here only.

use serde::{Deserialize, Serialize};

mod scan;
pub use scan::extract_id;

/// Longest client `id` the protocol accepts.
pub(crate) const MAX_ID_LEN: usize = 64;
/// Largest and default `limit` of a `history` request.
pub(crate) const MAX_HISTORY_LIMIT: u32 = 100;
/// Largest frame the management API delivers (PostToConnection's 128 KB):
/// every reply is built to fit.
pub const MAX_REPLY_BYTES: usize = 128 * 1024;

/// The catalogued error codes a client can receive in an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, missing/invalid field, unknown action, bad channel name.
    BadRequest,
    /// Token expired; refresh with `auth`.
    Unauthorized,
    /// Capability missing.
    Forbidden,
    /// Message over `MAX_MESSAGE_BYTES`.
    TooLarge,
    /// Over the connection's rate limit; the frame was not processed.
    RateLimited,
    /// A per-connection limit such as `MAX_SUBSCRIPTIONS_PER_CONNECTION`.
    LimitExceeded,
    /// Server-side failure; details are logged, not sent.
    Internal,
    /// The application's hook gave no usable answer; try again.
    Unavailable,
}

/// A position in a channel's stream, sent by recovering clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Last `seq` the client saw.
    pub seq: u64,
    /// The stream's `epoch` when it saw it.
    pub epoch: String,
}

mod client;
mod server;

pub use client::{Action, ClientFrame, FrameError};
pub use server::{Member, MessageFrame, ServerFrame};

#[cfg(test)]
mod tests;
