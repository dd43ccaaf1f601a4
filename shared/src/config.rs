//! Configuration (PROTOCOL.md §4), read and validated once at cold start. A bad
//! value fails start-up with an error naming the variable.

use std::collections::HashMap;
use std::time::Duration;

use crate::auth::{HttpFetcher, JwksKeys, JwtKey, KeySource, RoleMap, Verifier};
use crate::channel::{ChannelName, Pattern};
use crate::functions::Function;

/// Every variable wsfn reads (PROTOCOL.md §4, plus `FANOUT_CONCURRENCY`).
pub const VARIABLES: &[&str] = &[
    "TABLE_NAME",
    "JWT_SECRET",
    "JWT_SECRET_ARN",
    "JWT_PUBLIC_KEY",
    "JWT_JWKS_URL",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_LEEWAY_SECONDS",
    "ALLOWED_ORIGINS",
    "MAX_CONNECTIONS_PER_USER",
    "MAX_MESSAGE_BYTES",
    "MAX_SUBSCRIPTIONS_PER_CONNECTION",
    "RATE_LIMIT_PER_SECOND",
    "RATE_LIMIT_BURST",
    "HISTORY_TTL_SECONDS",
    "HISTORY_MAX",
    "IDEMPOTENCY_TTL_SECONDS",
    "MANAGEMENT_ENDPOINT",
    "FANOUT_CONCURRENCY",
    "FANOUT_FUNCTION",
    "FANOUT_SHARD_SIZE",
    "METRICS_NAMESPACE",
    "ROLE_CAPABILITIES",
    "JWT_ROLES_CLAIM",
    "EPHEMERAL_CHANNELS",
    "PRESENCE_EVENTS",
    "REVOKE_TTL_SECONDS",
    "HOOKS",
    "HOOK_TIMEOUT_MS",
    "HOOK_SECRET",
    "HOOK_SECRET_ARN",
    "HOOK_FUNCTIONS",
    "EVENT_BUS",
    "EVENT_MESSAGE_CHANNELS",
];

/// Largest `MAX_MESSAGE_BYTES`: a `message` frame carrying that much data
/// plus its envelope (channel, sender, epoch, id) must still fit the
/// management API's 128 KB.
pub const MAX_MESSAGE_BYTES_LIMIT: usize = 124 * 1024;

/// Default `FANOUT_SHARD_SIZE` (README, "Big channels").
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
    pub hooks: Option<crate::hooks::Hooks>,
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

pub(crate) struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    pub(crate) fn get(&self, var: &str) -> Option<String> {
        (self.0)(var).filter(|v| !v.trim().is_empty())
    }

    pub(crate) fn num<T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display>(
        &self,
        var: &'static str,
        default: T,
        min: T,
        max: T,
    ) -> Result<T, ConfigError> {
        let Some(raw) = self.get(var) else {
            return Ok(default);
        };
        let v: T = raw.trim().parse().map_err(|_| ConfigError::Invalid {
            var,
            reason: format!("`{raw}` is not a whole number"),
        })?;
        if v < min || v > max {
            return Err(ConfigError::Invalid {
                var,
                reason: format!("{v} is outside {min}..={max}"),
            });
        }
        Ok(v)
    }
}

/// An EventBridge bus name (1-256 of `A-Z a-z 0-9 . - _ /`) or ARN.
fn valid_bus(b: &str) -> bool {
    if b.starts_with("arn:") {
        return b.contains(":events:") && b.contains(":event-bus/");
    }
    (1..=256).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
}

/// A CloudWatch namespace: 1-255 characters, not an AWS one.
fn valid_namespace(ns: &str) -> bool {
    (1..=255).contains(&ns.len())
        && !ns.starts_with("AWS/")
        && ns
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_/#:".contains(c))
}

/// A JWKS URL must be https, except on a loopback host (local providers
/// and tests): keys fetched in clear over a network could be swapped.
pub fn check_jwks_url(url: &str) -> Result<(), String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") if loopback => Ok(()),
        Some("http") => Err("must be https (http is accepted for loopback hosts only)".into()),
        _ => Err("must be an https:// URL".into()),
    }
}

/// A comma list of channel patterns (unset: none).
fn patterns(env: &Env<'_>, var: &'static str) -> Result<Vec<Pattern>, ConfigError> {
    env.get(var)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            Pattern::parse(p).map_err(|e| ConfigError::Invalid {
                var,
                reason: format!("`{p}` is not a channel pattern: {e}"),
            })
        })
        .collect()
}

/// Whether `channel` matches one of `patterns`.
pub fn matches_any(patterns: &[Pattern], channel: &ChannelName) -> bool {
    patterns.iter().any(|p| p.matches(channel))
}

/// The token-verification key: exactly one of `JWT_SECRET`,
/// `JWT_PUBLIC_KEY`, `JWT_JWKS_URL`.
fn key_source(env: &Env<'_>) -> Result<KeySource, ConfigError> {
    Ok(
        match (
            env.get("JWT_SECRET"),
            env.get("JWT_PUBLIC_KEY"),
            env.get("JWT_JWKS_URL"),
        ) {
            (Some(s), None, None) => {
                KeySource::Static(JwtKey::hs256(&s).map_err(|reason| ConfigError::Invalid {
                    var: "JWT_SECRET",
                    reason,
                })?)
            }
            (None, Some(pem), None) => {
                KeySource::Static(JwtKey::from_pem(&pem.replace("\\n", "\n")).map_err(
                    |reason| ConfigError::Invalid {
                        var: "JWT_PUBLIC_KEY",
                        reason,
                    },
                )?)
            }
            (None, None, Some(url)) => {
                let invalid = |reason: String| ConfigError::Invalid {
                    var: "JWT_JWKS_URL",
                    reason,
                };
                check_jwks_url(&url).map_err(invalid)?;
                let fetcher = HttpFetcher::new().map_err(invalid)?;
                KeySource::Jwks(std::sync::Arc::new(JwksKeys::new(
                    url,
                    std::sync::Arc::new(fetcher),
                )))
            }
            (None, None, None) => return Err(ConfigError::Missing("JWT_SECRET")),
            _ => {
                return Err(ConfigError::Invalid {
                    var: "JWT_SECRET",
                    reason: "set exactly one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL".into(),
                })
            }
        },
    )
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
            .get("TABLE_NAME")
            .ok_or(ConfigError::Missing("TABLE_NAME"))?;
        let key = if verifies_tokens {
            key_source(&env)?
        } else {
            KeySource::None
        };
        let leeway = env.num("JWT_LEEWAY_SECONDS", 30u64, 0, 3600)?;
        let roles = RoleMap::parse(
            env.get("ROLE_CAPABILITIES").as_deref(),
            env.get("JWT_ROLES_CLAIM"),
        )
        .map_err(|reason| ConfigError::Invalid {
            var: "ROLE_CAPABILITIES",
            reason,
        })?;
        let verifier =
            Verifier::with_keys(key, env.get("JWT_ISSUER"), env.get("JWT_AUDIENCE"), leeway)
                .with_roles(roles);
        let allowed_origins = match env.get("ALLOWED_ORIGINS") {
            None => Origins::Any,
            Some(raw) => {
                let list: Vec<String> = raw
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if list.iter().any(|s| s == "*") {
                    Origins::Any
                } else if let Some(bad) =
                    list.iter().find(|o| !o.contains("://") || o.ends_with('/'))
                {
                    return Err(ConfigError::Invalid {
                        var: "ALLOWED_ORIGINS",
                        reason: format!("`{bad}` is not an origin like https://app.example.com"),
                    });
                } else {
                    Origins::List(list)
                }
            }
        };
        let management_endpoint = match env.get("MANAGEMENT_ENDPOINT") {
            None => None,
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                Some(u.trim_end_matches('/').to_string())
            }
            Some(u) => {
                return Err(ConfigError::Invalid {
                    var: "MANAGEMENT_ENDPOINT",
                    reason: format!("`{u}` must start with http:// or https://"),
                })
            }
        };
        let rate_limit_per_second = env.num("RATE_LIMIT_PER_SECOND", 20u32, 1, 100_000)?;
        let rate_limit_burst = env.num("RATE_LIMIT_BURST", 40u32, 1, 1_000_000)?;
        Ok(Self {
            table_name,
            verifier,
            allowed_origins,
            max_connections_per_user: env.num("MAX_CONNECTIONS_PER_USER", 10u32, 1, 100_000)?,
            max_message_bytes: env.num(
                "MAX_MESSAGE_BYTES",
                32_768usize,
                64,
                MAX_MESSAGE_BYTES_LIMIT,
            )?,
            max_subscriptions_per_connection: env.num(
                "MAX_SUBSCRIPTIONS_PER_CONNECTION",
                100u32,
                1,
                10_000,
            )?,
            rate_limit_per_second,
            rate_limit_burst,
            history_ttl: Duration::from_secs(env.num(
                "HISTORY_TTL_SECONDS",
                600u64,
                1,
                31_536_000,
            )?),
            history_max: env.num("HISTORY_MAX", 1000u32, 0, 1_000_000)?,
            idempotency_ttl: Duration::from_secs(env.num(
                "IDEMPOTENCY_TTL_SECONDS",
                300u64,
                1,
                31_536_000,
            )?),
            management_endpoint,
            fanout_concurrency: env.num("FANOUT_CONCURRENCY", 64usize, 1, 1024)?,
            fanout_function: env.get("FANOUT_FUNCTION"),
            fanout_shard_size: env.num("FANOUT_SHARD_SIZE", DEFAULT_SHARD_SIZE, 10, 1_000_000)?,
            metrics_namespace: match env.get("METRICS_NAMESPACE") {
                None => crate::metrics::NAMESPACE.to_string(),
                Some(ns) if valid_namespace(&ns) => ns,
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        var: "METRICS_NAMESPACE",
                        reason: "1-255 of A-Z a-z 0-9 . - _ / # :, not starting with AWS/".into(),
                    })
                }
            },
            connection_ttl: Duration::from_secs(3 * 3600),
            ephemeral_channels: patterns(&env, "EPHEMERAL_CHANNELS")?,
            presence_events: patterns(&env, "PRESENCE_EVENTS")?,
            revoke_ttl: Duration::from_secs(env.num(
                "REVOKE_TTL_SECONDS",
                86_400u64,
                1,
                31_536_000,
            )?),
            hooks: crate::hooks::from_env(&env)?,
            event_bus: match env.get("EVENT_BUS") {
                None => None,
                Some(b) if valid_bus(b.trim()) => Some(b.trim().to_string()),
                Some(b) => {
                    return Err(ConfigError::Invalid {
                        var: "EVENT_BUS",
                        reason: format!("`{b}` is not an event bus name or ARN"),
                    })
                }
            },
            event_message_channels: patterns(&env, "EVENT_MESSAGE_CHANNELS")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_map(&map)
    }

    #[test]
    fn defaults() {
        let c = cfg(&[("TABLE_NAME", "t"), ("JWT_SECRET", "s3cret-s3cret")]).unwrap();
        assert_eq!(c.max_connections_per_user, 10);
        assert_eq!(c.max_message_bytes, 32_768);
        assert_eq!(c.max_subscriptions_per_connection, 100);
        assert_eq!(c.rate_limit_per_second, 20);
        assert_eq!(c.rate_limit_burst, 40);
        assert_eq!(c.history_ttl, Duration::from_secs(600));
        assert_eq!(c.history_max, 1000);
        assert_eq!(c.idempotency_ttl, Duration::from_secs(300));
        assert_eq!(c.allowed_origins, Origins::Any);
        assert_eq!(c.fanout_concurrency, 64);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let base = [("TABLE_NAME", "t"), ("JWT_SECRET", "s3cret-s3cret")];
        for (var, val) in [
            ("MAX_CONNECTIONS_PER_USER", "ten"),
            ("MAX_MESSAGE_BYTES", "0"),
            ("RATE_LIMIT_PER_SECOND", "-1"),
            ("JWT_LEEWAY_SECONDS", "1.5"),
            ("ALLOWED_ORIGINS", "example.com"),
            ("MANAGEMENT_ENDPOINT", "localhost:3001"),
            ("FANOUT_CONCURRENCY", "0"),
            ("FANOUT_SHARD_SIZE", "5"),
            ("METRICS_NAMESPACE", "AWS/Lambda"),
            (
                "ROLE_CAPABILITIES",
                r#"{"r": {"subscribe": ["no spaces"]}}"#,
            ),
            ("JWT_JWKS_URL", "https://x/jwks"),
        ] {
            let mut pairs = base.to_vec();
            pairs.push((var, val));
            let e = cfg(&pairs).unwrap_err().to_string();
            assert!(e.contains(var), "{e} should name {var}");
        }
        assert!(cfg(&[("JWT_SECRET", "x")])
            .unwrap_err()
            .to_string()
            .contains("TABLE_NAME"));
        assert!(cfg(&[("TABLE_NAME", "t")])
            .unwrap_err()
            .to_string()
            .contains("JWT_SECRET"));
        let e = cfg(&[("TABLE_NAME", "t"), ("JWT_PUBLIC_KEY", "not a pem")]).unwrap_err();
        assert!(e.to_string().contains("JWT_PUBLIC_KEY"));
    }

    #[test]
    fn jwks_urls_must_be_https_or_loopback() {
        let with = |url: &str| cfg(&[("TABLE_NAME", "t"), ("JWT_JWKS_URL", url)]);
        for ok in [
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_A/.well-known/jwks.json",
            "http://127.0.0.1:8080/jwks",
            "http://localhost/jwks",
            "http://[::1]:9/jwks",
        ] {
            let c = with(ok).unwrap();
            assert_eq!(c.verifier.jwks().map(|j| j.url()), Some(ok));
        }
        for bad in [
            "http://example.com/jwks",
            "ftp://x/jwks",
            "jwks.json",
            "http://10.0.0.1/jwks",
        ] {
            let e = with(bad).unwrap_err().to_string();
            assert!(e.contains("JWT_JWKS_URL"), "{bad}: {e}");
        }
    }

    #[test]
    fn origins() {
        let c = cfg(&[
            ("TABLE_NAME", "t"),
            ("JWT_SECRET", "s"),
            ("ALLOWED_ORIGINS", "https://a.com, http://localhost:5173"),
        ])
        .unwrap();
        assert!(c.allowed_origins.allows(Some("https://a.com")));
        assert!(c.allowed_origins.allows(Some("http://localhost:5173")));
        assert!(!c.allowed_origins.allows(Some("https://evil.com")));
        assert!(c.allowed_origins.allows(None));
        assert!(Origins::Any.allows(Some("https://evil.com")));
    }
}
