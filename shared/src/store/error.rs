//! The store layer's error enum.

/// A boxed error source.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store call failed. Maps to `internal` for the client (except
/// `NoConnection`); the detail is logged once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend refused or failed the request (network, throttling after
    /// the SDK's retries, missing table). `detail` is the service's error
    /// code and message.
    #[error("{op} failed: {detail}")]
    Backend {
        /// The operation (`GetItem`, `TransactWriteItems`, ...).
        op: &'static str,
        /// Error code and message, for logs.
        detail: String,
        /// The SDK error.
        #[source]
        source: BoxError,
    },
    /// Optimistic concurrency kept losing for longer than the time budget.
    #[error("store contention on {0}; gave up after the time budget")]
    Contention(String),
    /// An item in the table does not have the shape this code writes.
    #[error("corrupt item {what}")]
    Corrupt {
        /// Which item.
        what: String,
        /// The parse error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// The connection record is gone (disconnected or expired).
    #[error("connection {0} not found")]
    NoConnection(String),
}

impl StoreError {
    /// A corrupt item without a further cause.
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt {
            what: what.into(),
            source: None,
        }
    }
}
