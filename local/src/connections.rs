//! The registry of open sockets: what the management API and shutdown reach.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;

/// What the gateway asks a socket task to do.
#[derive(Debug)]
pub enum Outbound {
    /// Send a text frame.
    Text(String),
    /// Send a binary frame (management POST with non-UTF-8 data).
    Binary(Vec<u8>),
    /// Close with this code and reason, then fire `$disconnect`.
    Close(u16, String),
}

/// One open connection as the management API sees it.
#[derive(Clone)]
pub struct Handle {
    /// Queue to the socket task.
    pub tx: mpsc::UnboundedSender<Outbound>,
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
    /// Last activity, ms since the Unix epoch.
    pub fn last_active_ms(&self) -> u64 {
        self.last_active.load(Ordering::Relaxed)
    }
}

/// All open connections by id.
#[derive(Default)]
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
            let _ = h.tx.send(Outbound::Close(code, reason.to_string()));
        }
    }
}
