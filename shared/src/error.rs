//! The action layer's one error enum and its mapping to wire error codes.

use crate::protocol::{ErrorCode, ServerFrame};
use crate::store::StoreError;

/// Why an action failed. Each variant maps to exactly one [`ErrorCode`];
/// none of them breaks the connection.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// Malformed frame or field; the message says which.
    #[error("{0}")]
    BadRequest(String),
    /// The connection's token expired (refresh with `auth`) or is invalid.
    #[error("{0}")]
    Unauthorized(String),
    /// The token lacks the capability for this channel.
    #[error("{0}")]
    Forbidden(String),
    /// Frame larger than `MAX_MESSAGE_BYTES`.
    #[error("{0}")]
    TooLarge(String),
    /// Over the rate limit; the frame was dropped unprocessed.
    #[error("rate limit exceeded; slow down")]
    RateLimited,
    /// A per-connection quota was reached.
    #[error("{0}")]
    LimitExceeded(String),
    /// Store or push failure; the detail is logged, the client sees a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ActionError {
    /// A vanished connection is the client's to fix (reconnect); anything
    /// else is ours.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoConnection(_) => {
                Self::Unauthorized("connection is closed; reconnect".into())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl ActionError {
    /// The wire code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadRequest(_) => ErrorCode::BadRequest,
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::TooLarge(_) => ErrorCode::TooLarge,
            Self::RateLimited => ErrorCode::RateLimited,
            Self::LimitExceeded(_) => ErrorCode::LimitExceeded,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// What the client may see: internal detail is withheld.
    pub fn client_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal error; retry later".into(),
            other => other.to_string(),
        }
    }

    /// The `error` frame for this failure, echoing the request id.
    pub fn to_frame(&self, id: Option<String>) -> ServerFrame {
        ServerFrame::Error {
            id,
            code: self.code(),
            message: self.client_message(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_its_code() {
        let cases = [
            (ActionError::BadRequest("x".into()), ErrorCode::BadRequest),
            (
                ActionError::Unauthorized("x".into()),
                ErrorCode::Unauthorized,
            ),
            (ActionError::Forbidden("x".into()), ErrorCode::Forbidden),
            (ActionError::TooLarge("x".into()), ErrorCode::TooLarge),
            (ActionError::RateLimited, ErrorCode::RateLimited),
            (
                ActionError::LimitExceeded("x".into()),
                ErrorCode::LimitExceeded,
            ),
            (
                ActionError::Internal("secret detail".into()),
                ErrorCode::Internal,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code);
        }
        let internal = ActionError::Internal("secret detail".into());
        assert!(!internal.client_message().contains("secret"));
        match internal.to_frame(Some("7".into())) {
            ServerFrame::Error { id, code, .. } => {
                assert_eq!(id.as_deref(), Some("7"));
                assert_eq!(code, ErrorCode::Internal);
            }
            _ => panic!("not an error frame"),
        }
    }
}
