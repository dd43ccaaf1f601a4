//! What a verified token grants a connection: the user, the capabilities
//! (and what a connect hook added), the member's public data.

use serde::{Deserialize, Serialize};

use crate::channel::{ChannelName, Pattern};

/// The verified identity and capabilities of a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    /// The user id (`sub`).
    pub sub: String,
    /// Token expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// `subscribe` capability patterns, as sent.
    #[serde(default)]
    pub subscribe: Vec<String>,
    /// `publish` capability patterns, as sent.
    #[serde(default)]
    pub publish: Vec<String>,
    /// Per-user rate limit override (messages per second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// When the token was issued (`iat`, seconds; 0 without one: issued
    /// before any revocation).
    #[serde(default)]
    pub iat: u64,
    /// The member's public data (`info` claim: an object of at most 1 KB),
    /// shown in `presence` replies and `join` frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
    /// What the `connect` hook granted this connection (already merged
    /// into the fields above; kept so a token refresh keeps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted: Option<Granted>,
}

/// What a `connect` hook added to a connection's capabilities, for the
/// connection's whole life.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Granted {
    /// Subscribe patterns added to the token's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscribe: Vec<String>,
    /// Publish patterns added to the token's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<String>,
    /// The member's public data, replacing the token's `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
}

/// Largest `info` (serialized JSON).
pub const MAX_INFO_BYTES: usize = 1024;

impl Principal {
    fn granted(patterns: &[String], channel: &ChannelName) -> bool {
        patterns
            .iter()
            .filter_map(|p| Pattern::parse(p).ok())
            .any(|p| p.matches(channel))
    }

    /// Whether this user's own `user:<sub>` channel is `channel`.
    pub(crate) fn is_personal(&self, channel: &ChannelName) -> bool {
        ChannelName::personal(&self.sub).as_ref() == Some(channel)
    }

    /// May subscribe to, read history and presence of `channel`.
    pub fn can_subscribe(&self, channel: &ChannelName) -> bool {
        self.is_personal(channel) || Self::granted(&self.subscribe, channel)
    }

    /// May publish to `channel`.
    pub fn can_publish(&self, channel: &ChannelName) -> bool {
        Self::granted(&self.publish, channel)
    }

    /// Merges what a `connect` hook granted (kept for token refreshes).
    pub fn grant(&mut self, granted: Granted) {
        for p in &granted.subscribe {
            if !self.subscribe.contains(p) {
                self.subscribe.push(p.clone());
            }
        }
        for p in &granted.publish {
            if !self.publish.contains(p) {
                self.publish.push(p.clone());
            }
        }
        if granted.info.is_some() {
            self.info.clone_from(&granted.info);
        }
        self.granted = Some(granted);
    }

    /// Whether the token has expired at `now` (seconds), allowing `leeway`.
    pub(crate) fn expired_at(&self, now: u64, leeway: u64) -> bool {
        self.exp.saturating_add(leeway) < now
    }
}
