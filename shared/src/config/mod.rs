//! Configuration (`docs/protocol.md` §4), read and validated once at cold
//! start. Every variable is a row of one table ([`VARS`]: name, default,
//! bounds, meaning); a bad value fails start-up with an error naming the
//! variable.

mod checks;
pub mod hooks;
mod vars;

use std::collections::HashMap;
use std::time::Duration;

use crate::auth::{KeySource, RoleMap, Verifier};
use crate::channel::{ChannelName, Pattern};
use crate::functions::Function;

pub use checks::check_jwks_url;
pub use hooks::HookConfig;
pub use vars::{Var, VARS};

use checks::{event_bus, key_source, management_endpoint, metrics_namespace, origins, patterns};
use vars::*;

/// Largest `MAX_MESSAGE_BYTES`: a `message` frame carrying that much data
/// plus its envelope (channel, sender, epoch, id) must still fit the
/// management API's 128 KB.
pub const MAX_MESSAGE_BYTES_LIMIT: usize = 124 * 1024;

/// Default `FANOUT_SHARD_SIZE` (docs/design.md, "Big channels").
pub const DEFAULT_SHARD_SIZE: usize = 5000;

/// Why the configuration was refused; always names the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is absent or empty.
    #[error("{0} is required but not set")]
    Missing(&'static str),
    /// A variable has a value that does not parse or is out of range.
    #[error("{var} is invalid: {reason}")]
    Invalid {
        /// The variable name.
        var: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Which `Origin`s may open a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origins {
    /// `ALLOWED_ORIGINS` unset or `*`: any origin (and no origin).
    Any,
    /// Exactly these origins.
    List(Vec<String>),
}

impl Origins {
    /// Whether a request with this `Origin` header may connect. A missing
    /// header is always allowed (non-browser clients send none).
    pub fn allows(&self, origin: Option<&str>) -> bool {
        match (self, origin) {
            (_, None) | (Self::Any, _) => true,
            (Self::List(list), Some(o)) => list.iter().any(|a| a == o),
        }
    }
}

/// Everything the functions need, validated.
#[derive(Clone)]
pub struct Config {
    /// DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
    /// Token verification (key, algorithm, iss, aud, leeway).
    pub verifier: Verifier,
    /// `ALLOWED_ORIGINS`.
    pub allowed_origins: Origins,
    /// `MAX_CONNECTIONS_PER_USER` (default 10).
    pub max_connections_per_user: u32,
    /// `MAX_MESSAGE_BYTES` (default 32768).
    pub max_message_bytes: usize,
    /// `MAX_SUBSCRIPTIONS_PER_CONNECTION` (default 100), not counting the personal channel.
    pub max_subscriptions_per_connection: u32,
    /// `RATE_LIMIT_PER_SECOND` (default 20).
    pub rate_limit_per_second: u32,
    /// `RATE_LIMIT_BURST` (default 40).
    pub rate_limit_burst: u32,
    /// `HISTORY_TTL_SECONDS` (default 600).
    pub history_ttl: Duration,
    /// `HISTORY_MAX` (default 1000).
    pub history_max: u32,
    /// `IDEMPOTENCY_TTL_SECONDS` (default 300).
    pub idempotency_ttl: Duration,
    /// `MANAGEMENT_ENDPOINT`: overrides `https://{domainName}/{stage}`.
    pub management_endpoint: Option<String>,
    /// `FANOUT_CONCURRENCY` (default 64): pushes in flight at once per publish.
    pub fanout_concurrency: usize,
    /// `FANOUT_FUNCTION`: name or ARN of the function that pushes the
    /// shards of a big channel; unset, every fan-out stays in the publisher.
    pub fanout_function: Option<String>,
    /// `FANOUT_SHARD_SIZE` (default [`DEFAULT_SHARD_SIZE`]): subscribers one
    /// invocation pushes itself before handing the rest out.
    pub fanout_shard_size: usize,
    /// `METRICS_NAMESPACE` (default `wsfn`): where the EMF metrics go.
    pub metrics_namespace: String,
    /// How long a connection's items live without being refreshed: the 2 h
    /// API Gateway cap plus a margin, so `$disconnect` misses are swept by TTL.
    pub connection_ttl: Duration,
    /// Channels whose publishes may be ephemeral (`EPHEMERAL_CHANNELS`).
    pub ephemeral_channels: Vec<Pattern>,
    /// Channels whose subscribers get `join`/`leave` (`PRESENCE_EVENTS`).
    pub presence_events: Vec<Pattern>,
    /// How long a revocation holds (`REVOKE_TTL_SECONDS`).
    pub revoke_ttl: Duration,
    /// The application's hooks (`HOOKS`, `HOOK_TIMEOUT_MS`, `HOOK_SECRET`);
    /// `None`: no hook, no call.
    pub hooks: Option<HookConfig>,
    /// `EVENT_BUS`: the EventBridge bus (name or ARN) events go to.
    pub event_bus: Option<String>,
    /// `EVENT_MESSAGE_CHANNELS`: channels whose messages are events too.
    pub event_message_channels: Vec<Pattern>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("allowed_origins", &self.allowed_origins)
            .field("management_endpoint", &self.management_endpoint)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Reads from a map, for tests and the local gateway.
    pub fn from_map(map: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(&|k| map.get(k).cloned())
    }

    /// Reads through any lookup function; a token-verification key is required.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(lookup, true)
    }

    /// What `function` needs: a function that verifies no tokens is given
    /// no key (`JWT_*` are not read, and the template passes none).
    pub fn for_function(
        lookup: &dyn Fn(&str) -> Option<String>,
        function: Function,
    ) -> Result<Self, ConfigError> {
        Self::read(lookup, function.verifies_tokens())
    }

    fn read(
        lookup: &dyn Fn(&str) -> Option<String>,
        verifies_tokens: bool,
    ) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let table_name = env
            .get(&TABLE_NAME)
            .ok_or(ConfigError::Missing(TABLE_NAME.name))?;
        let mut config = Self {
            table_name,
            verifier: verifier(&env, verifies_tokens)?,
            allowed_origins: origins(&env)?,
            management_endpoint: management_endpoint(&env)?,
            metrics_namespace: metrics_namespace(&env)?,
            connection_ttl: Duration::from_secs(3 * 3600),
            hooks: hooks::from_env(&env)?,
            event_bus: event_bus(&env)?,
            ..Self::limits(&env)?
        };
        config.ephemeral_channels = patterns(&env, &EPHEMERAL_CHANNELS)?;
        config.presence_events = patterns(&env, &PRESENCE_EVENTS)?;
        config.event_message_channels = patterns(&env, &EVENT_MESSAGE_CHANNELS)?;
        Ok(config)
    }

    /// The numeric settings, each from its row of the table; the rest
    /// empty, filled in by [`Config::read`].
    fn limits(env: &Env<'_>) -> Result<Self, ConfigError> {
        let secs = |var: &Var| env.num::<u64>(var).map(Duration::from_secs);
        Ok(Self {
            table_name: String::new(),
            verifier: Verifier::with_keys(KeySource::None, None, None, 0),
            allowed_origins: Origins::Any,
            max_connections_per_user: env.num(&MAX_CONNECTIONS_PER_USER)?,
            max_message_bytes: env.num(&MAX_MESSAGE_BYTES)?,
            max_subscriptions_per_connection: env.num(&MAX_SUBSCRIPTIONS_PER_CONNECTION)?,
            rate_limit_per_second: env.num(&RATE_LIMIT_PER_SECOND)?,
            rate_limit_burst: env.num(&RATE_LIMIT_BURST)?,
            history_ttl: secs(&HISTORY_TTL_SECONDS)?,
            history_max: env.num(&HISTORY_MAX)?,
            idempotency_ttl: secs(&IDEMPOTENCY_TTL_SECONDS)?,
            management_endpoint: None,
            fanout_concurrency: env.num(&FANOUT_CONCURRENCY)?,
            fanout_function: env.get(&FANOUT_FUNCTION),
            fanout_shard_size: env.num(&FANOUT_SHARD_SIZE)?,
            metrics_namespace: String::new(),
            connection_ttl: Duration::ZERO,
            ephemeral_channels: Vec::new(),
            presence_events: Vec::new(),
            revoke_ttl: secs(&REVOKE_TTL_SECONDS)?,
            hooks: None,
            event_bus: None,
            event_message_channels: Vec::new(),
        })
    }
}

/// Token verification: the key (only where tokens are verified), issuer,
/// audience, leeway and roles.
fn verifier(env: &Env<'_>, verifies_tokens: bool) -> Result<Verifier, ConfigError> {
    let key = if verifies_tokens {
        key_source(env)?
    } else {
        KeySource::None
    };
    let leeway = env.num(&JWT_LEEWAY_SECONDS)?;
    let roles = RoleMap::parse(
        env.get(&ROLE_CAPABILITIES).as_deref(),
        env.get(&JWT_ROLES_CLAIM),
    )
    .map_err(|reason| ConfigError::Invalid {
        var: ROLE_CAPABILITIES.name,
        reason,
    })?;
    Ok(
        Verifier::with_keys(key, env.get(&JWT_ISSUER), env.get(&JWT_AUDIENCE), leeway)
            .with_roles(roles),
    )
}

/// Whether `channel` matches one of `patterns`.
pub(crate) fn matches_any(patterns: &[Pattern], channel: &ChannelName) -> bool {
    patterns.iter().any(|p| p.matches(channel))
}

#[cfg(test)]
mod tests;
