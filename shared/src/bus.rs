//! Events to the application (protocol §11): with `EVENT_BUS`, what happened
//! — a connection opened or closed, a subscription made or removed, a
//! member joined or left, a message published on `EVENT_MESSAGE_CHANNELS`
//! — goes to EventBridge (`Source` `wsfn`), after it took effect, batched
//! (≤ 10 per `PutEvents`), failed entries retried within the invocation;
//! what still fails is counted (`EventsFailed`) and logged, and never fails
//! the client's action.
//!
//! An invocation collects its events in a task-local outbox
//! (`collect`) that the code where things happen appends to (`emit`):
//! the places that cause events (a store transition deep in a presence
//! update, say) need no extra parameter, and without `EVENT_BUS` no outbox
//! exists and `emit` does nothing.

use std::cell::RefCell;
use std::future::Future;

use async_trait::async_trait;
use serde_json::Value;

use crate::metrics::Metrics;
use crate::retry::Backoff;

/// `Source` of every event.
pub(crate) const SOURCE: &str = "wsfn";
/// Entries per `PutEvents` call (EventBridge's limit).
pub const MAX_BATCH: usize = 10;
/// Attempts per entry (the first and two retries of failed entries).
const ATTEMPTS: usize = 3;

/// One event: its `DetailType` and `detail`.
#[derive(Debug, Clone, PartialEq)]
pub struct BusEvent {
    /// `connection.opened`, `subscription.created`, ...
    pub detail_type: &'static str,
    /// At least `connection`, `user`, `ts` (ms).
    pub detail: Value,
}

/// Where events go: EventBridge (or a test's recorder).
#[async_trait]
pub trait EventSink: Send + Sync + std::fmt::Debug {
    /// Sends one batch (≤ [`MAX_BATCH`]); the indexes of the entries that
    /// failed, or why the whole call failed.
    async fn put(&self, batch: &[BusEvent]) -> Result<Vec<usize>, String>;
}

/// `PutEvents` to one bus (name or ARN) with the SDK client
/// (`AWS_ENDPOINT_URL_EVENTBRIDGE` applies).
#[derive(Debug, Clone)]
pub struct EventBridgeSink {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeSink {
    /// Sends to `bus` with `client`.
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }
}

#[async_trait]
impl EventSink for EventBridgeSink {
    async fn put(&self, batch: &[BusEvent]) -> Result<Vec<usize>, String> {
        use aws_sdk_eventbridge::types::PutEventsRequestEntry;
        let entries = batch
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(SOURCE)
                    .detail_type(e.detail_type)
                    .detail(e.detail.to_string())
                    .build()
            })
            .collect();
        let r = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| aws_sdk_eventbridge::error::DisplayErrorContext(&e).to_string())?;
        Ok(r.entries()
            .iter()
            .enumerate()
            .filter(|(_, e)| e.error_code().is_some())
            .map(|(i, _)| i)
            .collect())
    }
}

tokio::task_local! {
    static OUTBOX: RefCell<Vec<BusEvent>>;
}

/// Records an event for the current invocation (nothing without an outbox:
/// no `EVENT_BUS`). `detail` gets `ts` if it has none.
pub(crate) fn emit(detail_type: &'static str, detail: impl FnOnce() -> Value) {
    let _ = OUTBOX.try_with(|o| {
        let mut detail = detail();
        if let Value::Object(m) = &mut detail {
            m.entry("ts")
                .or_insert_with(|| crate::time::now_millis().into());
        }
        o.borrow_mut().push(BusEvent {
            detail_type,
            detail,
        });
    });
}

/// Runs `work`, collecting the events it emits when there is a `sink`.
pub(crate) async fn collect<F: Future>(
    sink: Option<&dyn EventSink>,
    work: F,
) -> (F::Output, Vec<BusEvent>) {
    // Boxed: a handler's whole future, kept off the caller's stack.
    let work = Box::pin(work);
    if sink.is_none() {
        return (work.await, Vec::new());
    }
    OUTBOX
        .scope(RefCell::new(Vec::new()), async {
            let out = work.await;
            let events = OUTBOX.with(|o| o.take());
            (out, events)
        })
        .await
}

/// How long an invocation spends sending its events at most.
const SEND_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// Time kept free before the invocation's deadline.
const DEADLINE_MARGIN_MS: u64 = 500;

/// Sends `events` in batches, retrying failed entries, within
/// [`SEND_BUDGET`] and before the invocation's deadline (`deadline_ms`,
/// when known: what does not fit is counted failed and logged, never left
/// to the timeout); one metrics line (`EventsSent`, `EventsFailed`) from
/// `metrics`. Never fails.
pub(crate) async fn send(
    sink: Option<&dyn EventSink>,
    events: Vec<BusEvent>,
    metrics: impl FnOnce() -> Metrics,
    request_id: Option<&str>,
    deadline_ms: Option<u64>,
) {
    let Some(sink) = sink else {
        return;
    };
    if events.is_empty() {
        return;
    }
    let total = events.len();
    let sent = std::sync::atomic::AtomicUsize::new(0);
    let work = async {
        for chunk in events.chunks(MAX_BATCH) {
            let n = put_with_retries(sink, chunk.to_vec()).await;
            sent.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let budget = match deadline_ms {
        Some(d) => SEND_BUDGET.min(std::time::Duration::from_millis(
            d.saturating_sub(crate::time::now_millis())
                .saturating_sub(DEADLINE_MARGIN_MS),
        )),
        None => SEND_BUDGET,
    };
    if tokio::time::timeout(budget, work).await.is_err() {
        tracing::error!(?budget, "sending events to EVENT_BUS ran out of time");
    }
    let sent = sent.into_inner();
    let mut metrics = metrics();
    if let Some(rid) = request_id {
        metrics.property("requestId", rid);
    }
    metrics.count("EventsSent", u32::try_from(sent).unwrap_or(u32::MAX));
    if sent < total {
        metrics.count(
            "EventsFailed",
            u32::try_from(total - sent).unwrap_or(u32::MAX),
        );
    }
    metrics.flush();
}

/// One batch, its failed entries retried; how many were accepted.
async fn put_with_retries(sink: &dyn EventSink, mut pending: Vec<BusEvent>) -> usize {
    let mut sent = 0;
    let mut last_error = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            Backoff::PUSH.sleep(attempt as u32 - 1).await;
        }
        match sink.put(&pending).await {
            Ok(bad) => {
                sent += pending.len() - bad.len();
                pending = bad
                    .iter()
                    .filter_map(|&i| pending.get(i).cloned())
                    .collect();
                last_error = "entries refused by PutEvents".into();
            }
            Err(e) => last_error = e,
        }
        if pending.is_empty() {
            return sent;
        }
    }
    let types: Vec<&str> = pending.iter().map(|e| e.detail_type).collect();
    tracing::error!(events = ?types, reason = %last_error, "events not delivered to EVENT_BUS");
    sent
}
