//! Virtual subscribers for scale benchmarks: connection ids ending in
//! [`SUFFIX`] have no socket; when enabled (`--virtual-subscribers`), the
//! management API answers their POSTs like an open connection's (after the
//! injected latency and account throttle) and counts them per id, so a
//! benchmark can check that each of a million subscribers got a message
//! exactly once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The id suffix that marks a virtual subscriber (`~` never occurs in
/// API Gateway's base64 ids, and the id's random start keeps the
/// subscriber ids spread as real ones are).
pub const SUFFIX: &str = "~v";

/// A fresh virtual connection id.
pub fn id() -> String {
    format!(
        "{}{SUFFIX}",
        crate::ids::connection_id().trim_end_matches('=')
    )
}

/// POSTs received per virtual id.
#[derive(Debug, Default)]
pub struct Virtuals {
    posts: Mutex<HashMap<String, u32>>,
    distinct: AtomicU64,
}

/// How the POSTs spread over the ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    /// Distinct ids that got at least one POST.
    pub ids: usize,
    /// POSTs in all.
    pub posts: u64,
    /// Ids that got more than one.
    pub repeated: usize,
}

impl Virtuals {
    /// Whether `id` names a virtual subscriber.
    pub fn is_virtual(id: &str) -> bool {
        id.ends_with(SUFFIX)
    }

    /// Counts one POST to `id`.
    pub fn record(&self, id: &str) {
        let mut m = self.posts.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(id.to_string()).or_default();
        if *n == 0 {
            self.distinct.fetch_add(1, Ordering::Relaxed);
        }
        *n += 1;
    }

    /// Distinct ids reached so far (cheap to poll).
    pub fn reached(&self) -> u64 {
        self.distinct.load(Ordering::Relaxed)
    }

    /// The counts so far, and starts over.
    pub fn take(&self) -> Tally {
        let m = std::mem::take(&mut *self.posts.lock().unwrap_or_else(|p| p.into_inner()));
        self.distinct.store(0, Ordering::Relaxed);
        Tally {
            ids: m.len(),
            posts: m.values().map(|&n| u64::from(n)).sum(),
            repeated: m.values().filter(|&&n| n > 1).count(),
        }
    }
}
