//! Reading and checking the variables that are more than a number: the
//! token key, origins, endpoints, names and channel patterns. Each refusal
//! names its variable.

use super::vars::*;
use super::{ConfigError, Origins};
use crate::auth::{HttpFetcher, JwksKeys, JwtKey, KeySource};
use crate::channel::Pattern;

fn invalid(var: &Var, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var: var.name,
        reason: reason.into(),
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

/// `EVENT_BUS`, when set.
pub(super) fn event_bus(env: &Env<'_>) -> Result<Option<String>, ConfigError> {
    match env.get(&EVENT_BUS) {
        None => Ok(None),
        Some(b) if valid_bus(b.trim()) => Ok(Some(b.trim().to_string())),
        Some(b) => Err(invalid(
            &EVENT_BUS,
            format!("`{b}` is not an event bus name or ARN"),
        )),
    }
}

/// `METRICS_NAMESPACE`: 1-255 characters, not an AWS one.
pub(super) fn metrics_namespace(env: &Env<'_>) -> Result<String, ConfigError> {
    let valid = |ns: &str| {
        (1..=255).contains(&ns.len())
            && !ns.starts_with("AWS/")
            && ns
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_/#:".contains(c))
    };
    match env.get(&METRICS_NAMESPACE) {
        None => Ok(crate::metrics::NAMESPACE.to_string()),
        Some(ns) if valid(&ns) => Ok(ns),
        Some(_) => Err(invalid(
            &METRICS_NAMESPACE,
            "1-255 of A-Z a-z 0-9 . - _ / # :, not starting with AWS/",
        )),
    }
}

/// `MANAGEMENT_ENDPOINT`: an http(s) URL, without a trailing slash.
pub(super) fn management_endpoint(env: &Env<'_>) -> Result<Option<String>, ConfigError> {
    match env.get(&MANAGEMENT_ENDPOINT) {
        None => Ok(None),
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
            Ok(Some(u.trim_end_matches('/').to_string()))
        }
        Some(u) => Err(invalid(
            &MANAGEMENT_ENDPOINT,
            format!("`{u}` must start with http:// or https://"),
        )),
    }
}

/// `ALLOWED_ORIGINS`: `*` (or unset), or a comma list of exact origins.
pub(super) fn origins(env: &Env<'_>) -> Result<Origins, ConfigError> {
    let Some(raw) = env.get(&ALLOWED_ORIGINS) else {
        return Ok(Origins::Any);
    };
    let list: Vec<String> = raw
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if list.iter().any(|s| s == "*") {
        return Ok(Origins::Any);
    }
    if let Some(bad) = list.iter().find(|o| !o.contains("://") || o.ends_with('/')) {
        return Err(invalid(
            &ALLOWED_ORIGINS,
            format!("`{bad}` is not an origin like https://app.example.com"),
        ));
    }
    Ok(Origins::List(list))
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
pub(super) fn patterns(env: &Env<'_>, var: &Var) -> Result<Vec<Pattern>, ConfigError> {
    env.get(var)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            Pattern::parse(p)
                .map_err(|e| invalid(var, format!("`{p}` is not a channel pattern: {e}")))
        })
        .collect()
}

/// The token-verification key: exactly one of `JWT_SECRET`,
/// `JWT_PUBLIC_KEY`, `JWT_JWKS_URL`.
pub(super) fn key_source(env: &Env<'_>) -> Result<KeySource, ConfigError> {
    let keys = (
        env.get(&JWT_SECRET),
        env.get(&JWT_PUBLIC_KEY),
        env.get(&JWT_JWKS_URL),
    );
    Ok(match keys {
        (Some(s), None, None) => {
            KeySource::Static(JwtKey::hs256(&s).map_err(|r| invalid(&JWT_SECRET, r))?)
        }
        (None, Some(pem), None) => KeySource::Static(
            JwtKey::from_pem(&pem.replace("\\n", "\n")).map_err(|r| invalid(&JWT_PUBLIC_KEY, r))?,
        ),
        (None, None, Some(url)) => {
            check_jwks_url(&url).map_err(|r| invalid(&JWT_JWKS_URL, r))?;
            let fetcher = HttpFetcher::new().map_err(|r| invalid(&JWT_JWKS_URL, r))?;
            KeySource::Jwks(std::sync::Arc::new(JwksKeys::new(
                url,
                std::sync::Arc::new(fetcher),
            )))
        }
        (None, None, None) => return Err(ConfigError::Missing(JWT_SECRET.name)),
        _ => {
            return Err(invalid(
                &JWT_SECRET,
                "set exactly one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL",
            ))
        }
    })
}
