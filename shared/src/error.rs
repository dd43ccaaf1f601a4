//! The error enums of the action and handler layers, and their mapping to
//! wire codes (actions) and Lambda error types (handlers).

use crate::protocol::{ErrorCode, ServerFrame};
use crate::store::StoreError;

/// Why an action failed. Each variant maps to exactly one [`ErrorCode`];
/// none of them breaks the connection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ActionError {
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
    /// Store failure; the detail is logged, the client sees a generic message.
    #[error("internal error")]
    Internal(#[source] StoreError),
    /// The identity provider's keys are unreachable just now; retry.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The invocation's deadline came before the store answered: the frame
    /// is answered rather than left without a reply; retry (a publish with
    /// its id is never stored twice).
    #[error("the invocation's deadline came before the store answered")]
    Deadline,
    /// The management API failed for a connection the backend asked to
    /// reach (server API); the detail is logged.
    #[error("management API call failed")]
    Push(#[source] crate::push::PushError),
    /// The application's hook refused the action, with its own code.
    #[error("{}", .0.message)]
    Refused(crate::hooks::Refusal),
    /// The application's hook gave no usable answer (logged by the hook
    /// runner): the action is refused, the client may retry.
    #[error("the application's hook is unavailable")]
    Hook(#[source] crate::hooks::HookFailure),
}

impl From<StoreError> for ActionError {
    /// A vanished connection is the client's to fix (reconnect); anything
    /// else is ours.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoConnection(_) => {
                Self::Unauthorized("connection is closed; reconnect".into())
            }
            other => Self::Internal(other),
        }
    }
}

impl ActionError {
    /// The wire code for this error.
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            Self::BadRequest(_) => ErrorCode::BadRequest,
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::TooLarge(_) => ErrorCode::TooLarge,
            Self::RateLimited => ErrorCode::RateLimited,
            Self::LimitExceeded(_) => ErrorCode::LimitExceeded,
            Self::Internal(_) | Self::Unavailable(_) | Self::Deadline | Self::Push(_) => {
                ErrorCode::Internal
            }
            Self::Refused(r) => r.code,
            Self::Hook(_) => ErrorCode::Unavailable,
        }
    }

    /// What the client may see: internal detail is withheld.
    pub(crate) fn client_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal error; retry later".into(),
            Self::Deadline => "out of time; retry".into(),
            Self::Push(_) => "a connection could not be reached; retry".into(),
            Self::Unavailable(_) => "cannot verify tokens just now; retry later".into(),
            Self::Hook(_) => "the application did not answer; retry".into(),
            other => other.to_string(),
        }
    }

    /// The `error` frame for this failure, echoing the request id.
    pub(crate) fn to_frame(&self, id: Option<String>) -> ServerFrame {
        ServerFrame::Error {
            id,
            code: self.code(),
            message: self.client_message(),
        }
    }
}

/// Why a handler failed the invocation itself (API Gateway then answers the
/// client with its own error). Client mistakes never get here.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The store failed where no reply to the client could say so
    /// (`$connect`, `$disconnect`).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The event is not what the function takes (a fan-out shard with a
    /// bad channel, a function without its management endpoint).
    #[error("bad event: {0}")]
    BadEvent(String),
}

impl HandlerError {
    /// The Lambda `errorType` (the runtime's `Diagnostic`): names the failure
    /// class so alarms and log queries can tell them apart.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Store(StoreError::Backend { .. }) => "wsfn.StoreBackendError",
            Self::Store(StoreError::Contention(_)) => "wsfn.StoreContention",
            Self::Store(StoreError::Corrupt { .. }) => "wsfn.CorruptItem",
            Self::Store(StoreError::NoConnection(_)) => "wsfn.NoConnection",
            Self::BadEvent(_) => "wsfn.BadEvent",
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
                ActionError::from(StoreError::Contention("secret detail".into())),
                ErrorCode::Internal,
            ),
            (
                ActionError::from(StoreError::NoConnection("c".into())),
                ErrorCode::Unauthorized,
            ),
            (
                ActionError::Push(crate::push::PushError::Throttled),
                ErrorCode::Internal,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code);
        }
        let internal = ActionError::from(StoreError::Contention("secret detail".into()));
        assert!(!internal.client_message().contains("secret"));
        assert!(std::error::Error::source(&internal).is_some());
        match internal.to_frame(Some("7".into())) {
            ServerFrame::Error { id, code, .. } => {
                assert_eq!(id.as_deref(), Some("7"));
                assert_eq!(code, ErrorCode::Internal);
            }
            _ => panic!("not an error frame"),
        }
    }

    #[test]
    fn handler_errors_have_a_lambda_error_type() {
        let e = HandlerError::from(StoreError::Contention("x".into()));
        assert_eq!(e.error_type(), "wsfn.StoreContention");
        let e = HandlerError::from(StoreError::corrupt("x"));
        assert_eq!(e.error_type(), "wsfn.CorruptItem");
    }
}
