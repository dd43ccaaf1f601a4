//! What every handler knows of its invocation: the request id and the
//! deadline. The Lambda binaries take both from the runtime's context
//! ([`crate::lambda`]); wsfn-local gives a deadline from the function's
//! `Timeout` too, so no work outruns it there either.

use super::{FanoutTask, WsEvent};
use crate::logging::Traced;
use crate::time::now_millis;

/// Pushes stop this long before the invocation's deadline, leaving time to
/// log what was not delivered and flush the metrics.
const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_millis(2000);

/// The request id and deadline of one invocation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Invocation<'a> {
    /// The Lambda request id (a property of the metrics line).
    pub request_id: Option<&'a str>,
    /// The invocation's deadline, ms since the Unix epoch: no push starts
    /// in its last 2 s.
    pub deadline_ms: Option<u64>,
}

impl<'a> Invocation<'a> {
    /// An invocation with this request id and deadline (ms since the epoch).
    pub fn new(request_id: &'a str, deadline_ms: u64) -> Self {
        Self {
            request_id: Some(request_id),
            deadline_ms: Some(deadline_ms),
        }
    }

    /// When pushes must stop.
    pub(crate) fn stop_at(&self) -> Option<tokio::time::Instant> {
        self.deadline_ms.map(|d| {
            let left = d.saturating_sub(now_millis());
            tokio::time::Instant::now()
                + std::time::Duration::from_millis(left).saturating_sub(DEADLINE_MARGIN)
        })
    }
}

impl Traced for WsEvent {
    fn trace(&self) -> (Option<&str>, Option<&str>) {
        let ctx = &self.request_context;
        (ctx.connection_id.as_deref(), ctx.route_key.as_deref())
    }
}

impl Traced for FanoutTask {
    fn trace(&self) -> (Option<&str>, Option<&str>) {
        (None, Some("fanout"))
    }
}

impl Traced for serde_json::Value {
    fn trace(&self) -> (Option<&str>, Option<&str>) {
        (None, Some("publish"))
    }
}
