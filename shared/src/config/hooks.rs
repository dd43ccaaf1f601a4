//! `HOOKS`, `HOOK_TIMEOUT_MS`, `HOOK_SECRET`, `HOOK_FUNCTIONS`: which hook
//! calls which target, for which channels, signed with what. Parsed once at
//! cold start; every refusal names the variable, the hook and what is wrong.
//! The hooks themselves run in `crate::hooks`.

use std::time::Duration;

use serde_json::Value;

use super::vars::{Env, HOOKS, HOOK_FUNCTIONS, HOOK_SECRET, HOOK_TIMEOUT_MS};
use super::{check_jwks_url, ConfigError};
use crate::channel::{ChannelName, Pattern};

/// The four hooks (protocol §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookKind {
    /// `$connect`, after the token is verified.
    Connect,
    /// `subscribe`, for the channels it covers.
    Subscribe,
    /// `publish`, before sequencing, for the channels it covers.
    Publish,
    /// The `rpc` action.
    Rpc,
}

impl HookKind {
    /// The hook's name in `HOOKS` and in request bodies.
    pub fn name(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Subscribe => "subscribe",
            Self::Publish => "publish",
            Self::Rpc => "rpc",
        }
    }

    const ALL: [Self; 4] = [Self::Connect, Self::Subscribe, Self::Publish, Self::Rpc];
}

/// Where a hook's request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Lambda function, by name or ARN, invoked `RequestResponse`.
    Lambda(String),
    /// An `https://` URL (`http://` for loopback hosts), signed with the
    /// hook secret.
    Http(String),
}

/// One configured hook.
#[derive(Debug, Clone)]
pub struct Hook {
    /// Which hook.
    pub kind: HookKind,
    /// Where it goes.
    pub target: Target,
    /// The channels it covers (`None`: every channel but personal ones).
    pub channels: Option<Vec<Pattern>>,
}

impl Hook {
    /// Whether this hook decides for `channel` (the personal channel
    /// `user:<sub>` of `sub` is never hooked).
    pub fn covers(&self, channel: &ChannelName, sub: &str) -> bool {
        if ChannelName::personal(sub).as_ref() == Some(channel) {
            return false;
        }
        self.channels
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|p| p.matches(channel)))
    }
}

/// Every configured hook (empty: `HOOKS` unset).
#[derive(Debug, Clone, Default)]
pub struct HookSet {
    hooks: Vec<Hook>,
}

impl HookSet {
    /// The hook of `kind`, if configured.
    pub fn get(&self, kind: HookKind) -> Option<&Hook> {
        self.hooks.iter().find(|h| h.kind == kind)
    }

    /// Whether no hook is configured.
    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }

    /// Whether any hook calls an HTTP target (which needs the secret).
    pub(crate) fn has_http(&self) -> bool {
        self.hooks
            .iter()
            .any(|h| matches!(h.target, Target::Http(_)))
    }

    /// The Lambda functions the hooks invoke.
    pub(crate) fn lambda_targets(&self) -> Vec<&str> {
        self.hooks
            .iter()
            .filter_map(|h| match &h.target {
                Target::Lambda(f) => Some(f.as_str()),
                Target::Http(_) => None,
            })
            .collect()
    }

    /// Parses `HOOKS` (a JSON object; see protocol §6).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(raw).map_err(|e| format!("not JSON: {e}"))?;
        let Value::Object(map) = v else {
            return Err("must be a JSON object of hooks".into());
        };
        let mut hooks = Vec::new();
        for (name, spec) in &map {
            let Some(kind) = HookKind::ALL.into_iter().find(|k| k.name() == name) else {
                return Err(format!(
                    "unknown hook `{name}` (connect, subscribe, publish, rpc)"
                ));
            };
            hooks.push(hook(kind, spec).map_err(|e| format!("hook `{name}`: {e}"))?);
        }
        Ok(Self { hooks })
    }
}

fn hook(kind: HookKind, spec: &Value) -> Result<Hook, String> {
    let (target, channels) = match spec {
        Value::String(t) => (t.as_str(), None),
        Value::Object(m) => {
            if let Some(k) = m
                .keys()
                .find(|k| !["target", "channels"].contains(&k.as_str()))
            {
                return Err(format!("unknown field `{k}` (target, channels)"));
            }
            let t = m
                .get("target")
                .and_then(Value::as_str)
                .ok_or("`target` (a string) is required")?;
            (t, m.get("channels"))
        }
        _ => return Err("must be a target string or {\"target\", \"channels\"}".into()),
    };
    let channels = match channels {
        None => None,
        Some(_) if matches!(kind, HookKind::Connect | HookKind::Rpc) => {
            return Err("`channels` applies to the subscribe and publish hooks only".into())
        }
        Some(Value::Array(ps)) if !ps.is_empty() => Some(
            ps.iter()
                .map(|p| {
                    let s = p.as_str().ok_or("`channels` holds strings")?;
                    Pattern::parse(s).map_err(|e| format!("`{s}` is not a channel pattern: {e}"))
                })
                .collect::<Result<Vec<_>, String>>()?,
        ),
        Some(_) => return Err("`channels` must be a non-empty array of patterns".into()),
    };
    Ok(Hook {
        kind,
        target: parse_target(target)?,
        channels,
    })
}

/// A URL (https, or http on a loopback host) or a Lambda function name or
/// ARN (`[A-Za-z0-9-_]{1,64}`, or `arn:aws…:lambda:…:function:name[:qualifier]`).
fn parse_target(t: &str) -> Result<Target, String> {
    let t = t.trim();
    if t.contains("://") {
        check_jwks_url(t).map_err(|e| format!("target `{t}` {e}"))?;
        return Ok(Target::Http(t.to_string()));
    }
    let name = match t.strip_prefix("arn:") {
        Some(rest) => {
            let parts: Vec<&str> = rest.split(':').collect();
            let ok = parts.len() >= 6
                && parts.len() <= 7
                && parts[0].starts_with("aws")
                && parts[1] == "lambda"
                && parts[4] == "function";
            if !ok {
                return Err(format!("target `{t}` is not a Lambda function ARN"));
            }
            parts[5]
        }
        None => t,
    };
    let valid = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(format!(
            "target `{t}` is neither a URL nor a Lambda function name or ARN"
        ));
    }
    Ok(Target::Lambda(t.to_string()))
}

/// The hooks as configured: what `crate::hooks::Hooks` runs.
#[derive(Clone)]
pub struct HookConfig {
    /// Which hook calls which target, for which channels (`HOOKS`).
    pub set: HookSet,
    /// Signs HTTP hook requests (`HOOK_SECRET`).
    pub secret: Option<Vec<u8>>,
    /// How long a call may take (`HOOK_TIMEOUT_MS`).
    pub timeout: Duration,
    /// The HTTPS connector HTTP hooks are called with, built (root
    /// certificates read) once, at cold start, when a hook calls a URL.
    pub(crate) https: Option<crate::http::Https>,
}

impl std::fmt::Debug for HookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookConfig")
            .field("set", &self.set)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// `HOOKS`, `HOOK_TIMEOUT_MS` (default 3000, at most 10000) and
/// `HOOK_SECRET` (required when a hook calls a URL; `HOOK_SECRET_ARN` is
/// resolved into it at cold start).
pub(crate) fn from_env(env: &Env<'_>) -> Result<Option<HookConfig>, ConfigError> {
    let timeout = Duration::from_millis(env.num::<u64>(&HOOK_TIMEOUT_MS)?);
    let Some(raw) = env.get(&HOOKS) else {
        return Ok(None);
    };
    let invalid = |reason: String| ConfigError::Invalid {
        var: HOOKS.name,
        reason,
    };
    let set = HookSet::parse(&raw).map_err(invalid)?;
    if set.is_empty() {
        return Ok(None);
    }
    // Deployed, the template grants `lambda:InvokeFunction` on exactly
    // HOOK_FUNCTIONS: a target outside it would fail every call.
    if let Some(granted) = env.get(&HOOK_FUNCTIONS) {
        let granted: Vec<&str> = granted.split(',').map(str::trim).collect();
        if let Some(t) = set
            .lambda_targets()
            .into_iter()
            .find(|t| !granted.iter().any(|arn| same_function(t, arn)))
        {
            return Err(invalid(format!(
                "target `{t}` is not among HOOK_FUNCTIONS (the template's HookFunctionArns), so it may not be invoked"
            )));
        }
    }
    let secret = env.get(&HOOK_SECRET);
    match &secret {
        None if set.has_http() => return Err(ConfigError::Missing(HOOK_SECRET.name)),
        Some(s) if s.len() < 16 => {
            return Err(ConfigError::Invalid {
                var: HOOK_SECRET.name,
                reason: "at least 16 characters".into(),
            })
        }
        _ => {}
    }
    let https = if set.has_http() {
        Some(crate::http::https_connector().map_err(invalid)?)
    } else {
        None
    };
    Ok(Some(HookConfig {
        set,
        secret: secret.map(String::into_bytes),
        timeout,
        https,
    }))
}

/// Whether hook target `t` (a name or ARN) is the function of `arn`.
fn same_function(t: &str, arn: &str) -> bool {
    if t.starts_with("arn:") {
        return t == arn;
    }
    arn.split(':').nth(6) == Some(t)
}

#[cfg(test)]
mod tests {
    use super::same_function;

    #[test]
    fn targets_match_their_granted_arns() {
        let arn = "arn:aws:lambda:eu-west-1:123456789012:function:app-authz";
        assert!(same_function("app-authz", arn));
        assert!(same_function(arn, arn));
        assert!(!same_function("app", arn));
        assert!(!same_function(
            "arn:aws:lambda:eu-west-1:123456789012:function:other",
            arn
        ));
    }

    use super::*;

    #[test]
    fn parses_the_protocol_example() {
        let set = HookSet::parse(
            r#"{"connect": "arn:aws:lambda:eu-west-1:123456789012:function:app-connect",
                "subscribe": {"target": "app-authz", "channels": ["room:*", "doc:*"]},
                "publish": {"target": "https://app.example.com/wsfn/publish", "channels": ["room:*"]},
                "rpc": "app-rpc"}"#,
        )
        .unwrap();
        assert!(set.has_http());
        assert_eq!(set.lambda_targets().len(), 3);
        let sub = set.get(HookKind::Subscribe).unwrap();
        assert!(sub.covers(&ChannelName::parse("room:1").unwrap(), "alice"));
        assert!(!sub.covers(&ChannelName::parse("news").unwrap(), "alice"));
        let publish = set.get(HookKind::Publish).unwrap();
        assert_eq!(
            publish.target,
            Target::Http("https://app.example.com/wsfn/publish".into())
        );
    }

    #[test]
    fn personal_channels_are_never_hooked() {
        let set = HookSet::parse(r#"{"subscribe": "authz"}"#).unwrap();
        let h = set.get(HookKind::Subscribe).unwrap();
        assert!(h.covers(&ChannelName::parse("user:bob").unwrap(), "alice"));
        assert!(!h.covers(&ChannelName::parse("user:alice").unwrap(), "alice"));
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        for (raw, says) in [
            ("[]", "JSON object"),
            ("{", "not JSON"),
            (r#"{"disconnect": "f"}"#, "unknown hook `disconnect`"),
            (r#"{"connect": "http://example.com/x"}"#, "loopback"),
            (r#"{"connect": "ftp://example.com/x"}"#, "https"),
            (r#"{"connect": "bad name!"}"#, "neither a URL"),
            (
                r#"{"connect": "arn:aws:s3:::bucket"}"#,
                "not a Lambda function ARN",
            ),
            (
                r#"{"connect": {"target": "f", "channels": ["a"]}}"#,
                "subscribe and publish",
            ),
            (
                r#"{"publish": {"target": "f", "channels": []}}"#,
                "non-empty",
            ),
            (
                r#"{"publish": {"target": "f", "channels": ["a b"]}}"#,
                "not a channel pattern",
            ),
            (
                r#"{"publish": {"target": "f", "chanels": ["a"]}}"#,
                "unknown field `chanels`",
            ),
            (r#"{"publish": {"channels": ["a"]}}"#, "`target`"),
            (r#"{"publish": 3}"#, "target string"),
        ] {
            let e = HookSet::parse(raw).unwrap_err();
            assert!(e.contains(says), "{raw}: {e}");
        }
        assert!(HookSet::parse(r#"{"rpc": "http://127.0.0.1:9/rpc"}"#).is_ok());
        assert!(HookSet::parse("{}").unwrap().is_empty());
    }
}
