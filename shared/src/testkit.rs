//! Test support (feature `testkit`), for this crate's tests and the other
//! crates' tests and benchmarks: an in-process [`Pusher`] that records
//! frames and can be told to answer like API Gateway does for gone or
//! throttled connections, a recording fan-out dispatcher, token minting.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::auth::{sign_hs256, TokenClaims};
use crate::protocol::ServerFrame;
use crate::push::{PushError, Pusher, PusherFactory};

pub use crate::events::DEV_SECRET;

#[derive(Default, Debug)]
struct Inbox {
    frames: HashMap<String, Vec<ServerFrame>>,
    gone: HashSet<String>,
    throttle: HashMap<String, u32>,
    deleted: Vec<String>,
    posts: u32,
    /// Every management API call: POST, DELETE and GET.
    calls: u32,
    oversized: u32,
}

/// Records every frame per connection; `gone` ids answer 410, `throttle`d
/// ids answer 429 a given number of times first.
#[derive(Default, Clone, Debug)]
pub struct RecordingPusher {
    inbox: Arc<Mutex<Inbox>>,
}

impl RecordingPusher {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pushes to `id` will answer 410 Gone from now on.
    pub fn mark_gone(&self, id: &str) {
        self.lock().gone.insert(id.to_string());
    }

    /// The next `times` pushes to `id` answer 429.
    pub fn throttle(&self, id: &str, times: u32) {
        self.lock().throttle.insert(id.to_string(), times);
    }

    /// Takes (and clears) the frames received by `id`.
    pub fn take(&self, id: &str) -> Vec<ServerFrame> {
        self.lock().frames.remove(id).unwrap_or_default()
    }

    /// How many POSTs were attempted (management API calls), then resets.
    pub fn take_post_count(&self) -> u32 {
        std::mem::take(&mut self.lock().posts)
    }

    /// How many management API calls of any kind were made, then resets.
    pub fn take_call_count(&self) -> u32 {
        std::mem::take(&mut self.lock().calls)
    }

    /// Pushes refused for being over 128 KB (413), ever.
    pub fn oversized(&self) -> u32 {
        self.lock().oversized
    }

    /// Connections closed through `delete`.
    pub fn deleted(&self) -> Vec<String> {
        self.lock().deleted.clone()
    }
}

#[async_trait]
impl Pusher for RecordingPusher {
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), PushError> {
        let mut inbox = self.lock();
        inbox.posts += 1;
        inbox.calls += 1;
        if inbox.gone.contains(connection_id) {
            return Err(PushError::Gone);
        }
        if let Some(n) = inbox.throttle.get_mut(connection_id) {
            if *n > 0 {
                *n -= 1;
                return Err(PushError::Throttled);
            }
        }
        if payload.len() > crate::protocol::MAX_REPLY_BYTES {
            // PostToConnection's limit: API Gateway answers 413.
            inbox.oversized += 1;
            return Err(PushError::Failed(format!(
                "413 PayloadTooLargeException: {} bytes",
                payload.len()
            )));
        }
        let frame: ServerFrame = serde_json::from_slice(payload)
            .map_err(|e| PushError::Failed(format!("pushed frame is not a server frame: {e}")))?;
        inbox
            .frames
            .entry(connection_id.to_string())
            .or_default()
            .push(frame);
        Ok(())
    }

    async fn delete(&self, connection_id: &str) -> Result<(), PushError> {
        let mut inbox = self.lock();
        inbox.calls += 1;
        if inbox.gone.contains(connection_id) {
            return Err(PushError::Gone);
        }
        inbox.deleted.push(connection_id.to_string());
        inbox.gone.insert(connection_id.to_string());
        Ok(())
    }

    async fn alive(&self, connection_id: &str) -> Result<bool, PushError> {
        let mut inbox = self.lock();
        inbox.calls += 1;
        Ok(!inbox.gone.contains(connection_id))
    }
}

impl PusherFactory for RecordingPusher {
    fn pusher(&self, _endpoint: &str) -> Arc<dyn Pusher> {
        Arc::new(self.clone())
    }
}

/// A token valid for an hour with the given capabilities.
pub fn token(secret: &str, sub: &str, subscribe: &[&str], publish: &[&str]) -> String {
    let claims = TokenClaims {
        sub: sub.into(),
        exp: crate::time::now_secs() + 3600,
        subscribe: subscribe.iter().map(|s| s.to_string()).collect(),
        publish: publish.iter().map(|s| s.to_string()).collect(),
        rate: None,
        nbf: None,
        iss: None,
        aud: None,
        iat: Some(crate::time::now_secs()),
        info: None,
    };
    sign_hs256(secret, &claims).unwrap_or_default()
}

/// Records the fan-out shards it is handed instead of invoking a function;
/// the test runs them (or not) itself.
#[derive(Default, Clone, Debug)]
pub struct RecordingDispatcher {
    tasks: Arc<Mutex<Vec<crate::fanout::dispatch::FanoutTask>>>,
}

impl RecordingDispatcher {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shards handed out so far (and forgets them).
    pub fn take(&self) -> Vec<crate::fanout::dispatch::FanoutTask> {
        std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[async_trait]
impl crate::fanout::dispatch::Dispatcher for RecordingDispatcher {
    async fn dispatch(
        &self,
        task: &crate::fanout::dispatch::FanoutTask,
    ) -> Result<(), crate::fanout::dispatch::DispatchError> {
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(task.clone());
        Ok(())
    }
}
