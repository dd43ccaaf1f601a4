//! The registry of open sockets: what the management API and shutdown reach.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;

/// Frames a connection may have queued for a client that is not reading;
/// past it the management API answers 429, as API Gateway does when a
/// client's buffer is full.
pub const OUTBOUND_QUEUE: usize = 256;

/// A frame for the socket's writer.
#[derive(Debug)]
pub enum Outbound {
    /// Send a text frame.
    Text(String),
    /// Send a binary frame (management POST with non-UTF-8 data).
    Binary(Vec<u8>),
}

/// A close request: code and reason, then `$disconnect` fires.
pub type Close = (u16, String);

/// Why a frame could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// The client is not reading fast enough: the queue is full.
    Full,
    /// The socket is closing or closed.
    Gone,
}

/// One open connection as the management API sees it.
#[derive(Clone, Debug)]
pub struct Handle {
    /// Frames to the socket's writer (bounded: [`OUTBOUND_QUEUE`]).
    pub tx: mpsc::Sender<Outbound>,
    /// Close requests: never blocked by a full frame queue.
    pub close: mpsc::UnboundedSender<Close>,
    /// Connection open time, ms.
    pub connected_at: u64,
    /// Last inbound data frame, ms.
    pub last_active: Arc<AtomicU64>,
    /// Client address.
    pub source_ip: String,
    /// Client `User-Agent`, if sent.
    pub user_agent: Option<String>,
}

impl Handle {
    /// Queues a frame without waiting.
    pub fn send(&self, frame: Outbound) -> Result<(), QueueError> {
        self.tx.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => QueueError::Full,
            mpsc::error::TrySendError::Closed(_) => QueueError::Gone,
        })
    }

    /// Asks the socket to close; false when it is already gone.
    pub fn close(&self, code: u16, reason: &str) -> bool {
        self.close.send((code, reason.to_string())).is_ok()
    }

    /// Last activity, ms since the Unix epoch.
    pub fn last_active_ms(&self) -> u64 {
        self.last_active.load(Ordering::Relaxed)
    }
}

/// All open connections by id.
#[derive(Default, Debug)]
pub struct Connections {
    map: Mutex<HashMap<String, Handle>>,
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Handle>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a connection once `$connect` accepted it.
    pub fn insert(&self, id: String, handle: Handle) {
        self.lock().insert(id, handle);
    }

    /// Forgets a connection (its socket task ended).
    pub fn remove(&self, id: &str) -> Option<Handle> {
        self.lock().remove(id)
    }

    /// The connection, if open.
    pub fn get(&self, id: &str) -> Option<Handle> {
        self.lock().get(id).cloned()
    }

    /// How many are open.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none are open.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Asks every socket to close (shutdown).
    pub fn close_all(&self, code: u16, reason: &str) {
        for h in self.lock().values() {
            h.close(code, reason);
        }
    }
}
