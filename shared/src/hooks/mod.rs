//! Hooks (protocol §6): the application's code decides on a connect, a
//! subscribe, a publish, and answers `rpc`. One call per hooked action,
//! none for anything no hook covers; bounded by `HOOK_TIMEOUT_MS`; any
//! failure (timeout, error, malformed answer) refuses the action
//! (`unavailable`), logged with the hook's name and the reason.

pub mod answer;
mod transport;

use std::time::Duration;

use serde_json::{json, Map, Value};

pub use crate::config::hooks::{Hook, HookKind, HookSet, Target};
pub use answer::{ConnectGrant, Refusal};
pub use transport::{signature, HookFailure, MAX_ANSWER_BYTES};

use crate::channel::ChannelName;
use crate::config::HookConfig;
use crate::store::ConnectionRecord;

/// Who is asking: the fields every hook request carries.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The connection id.
    pub connection: &'a str,
    /// The verified claims (as stored for the connection).
    pub principal: &'a crate::auth::Principal,
    /// The invocation's request id, for the application's logs.
    pub request_id: Option<&'a str>,
}

impl<'a> Caller<'a> {
    /// The caller behind a stored connection.
    pub fn of(conn: &'a ConnectionRecord, request_id: Option<&'a str>) -> Self {
        Self {
            connection: &conn.id,
            principal: &conn.principal,
            request_id,
        }
    }
}

/// The configured hooks and the clients they are called with.
#[derive(Debug, Clone)]
pub struct Hooks {
    set: HookSet,
    transport: transport::Transport,
    timeout: Duration,
}

impl Hooks {
    /// The configured hooks, ready to call (HTTP targets signed with the
    /// configured secret).
    pub fn new(config: HookConfig) -> Self {
        Self {
            set: config.set,
            transport: transport::Transport::new(config.secret, config.https),
            timeout: config.timeout,
        }
    }

    /// Lambda targets are invoked with `client`.
    pub(crate) fn with_lambda(mut self, client: aws_sdk_lambda::Client) -> Self {
        self.transport.set_lambda(client);
        self
    }

    /// The configured hooks.
    pub fn set(&self) -> &HookSet {
        &self.set
    }

    /// The hook of `kind` when it decides for `channel` of user `sub`.
    pub(crate) fn covering(
        &self,
        kind: HookKind,
        channel: &ChannelName,
        sub: &str,
    ) -> Option<&Hook> {
        self.set.get(kind).filter(|h| h.covers(channel, sub))
    }

    /// Calls `hook` with the common fields of `caller` plus `fields`; the
    /// answer as JSON.
    async fn call(
        &self,
        hook: &Hook,
        caller: Caller<'_>,
        fields: Map<String, Value>,
    ) -> Result<Value, HookFailure> {
        let mut body = json!({
            "hook": hook.kind.name(),
            "connection": caller.connection,
            "user": caller.principal.sub,
            "claims": caller.principal,
            "requestId": caller.request_id,
        });
        if let Value::Object(m) = &mut body {
            m.extend(fields);
        }
        let bytes = serde_json::to_vec(&body).map_err(|e| HookFailure::Transport(e.to_string()))?;
        // Boxed: the HTTP and SDK futures are large, and every action that
        // may call a hook would carry them on its stack.
        let call = Box::pin(self.transport.call(&hook.target, bytes));
        let answer = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| HookFailure::Timeout(self.timeout))??;
        serde_json::from_slice(&answer)
            .map_err(|e| HookFailure::Malformed(format!("not JSON: {e}")))
    }

    /// Runs `hook` and validates its answer with `parse`; a failure is
    /// logged with the hook's name and reason (never the secret or body).
    async fn decide<T>(
        &self,
        hook: &Hook,
        caller: Caller<'_>,
        fields: Map<String, Value>,
        parse: fn(Value) -> Result<T, String>,
    ) -> Result<T, HookFailure> {
        let result = match self.call(hook, caller, fields).await {
            Ok(v) => parse(v).map_err(HookFailure::Malformed),
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            tracing::error!(
                hook = hook.kind.name(),
                target = %target_name(&hook.target),
                connection = caller.connection,
                request_id = caller.request_id,
                reason = %e,
                "hook failed; action refused (unavailable)"
            );
        }
        result
    }

    /// The `connect` hook, if configured.
    pub async fn connect(
        &self,
        caller: Caller<'_>,
        origin: Option<&str>,
        user_agent: Option<&str>,
        source_ip: Option<&str>,
    ) -> Option<Result<Result<ConnectGrant, Refusal>, HookFailure>> {
        let hook = self.set.get(HookKind::Connect)?;
        let fields = fields(json!({
            "headers": {"origin": origin, "user-agent": user_agent},
            "sourceIp": source_ip,
        }));
        Some(self.decide(hook, caller, fields, answer::connect).await)
    }

    /// The `subscribe` hook for `channel`, if one covers it.
    pub async fn subscribe(
        &self,
        caller: Caller<'_>,
        channel: &ChannelName,
    ) -> Option<Result<Result<(), Refusal>, HookFailure>> {
        let hook = self.covering(HookKind::Subscribe, channel, &caller.principal.sub)?;
        let fields = fields(json!({"channel": channel.as_str()}));
        Some(self.decide(hook, caller, fields, answer::subscribe).await)
    }

    /// The `publish` hook for `channel`, if one covers it: `Some(data)`
    /// replaces the payload.
    pub async fn publish(
        &self,
        caller: Caller<'_>,
        channel: &ChannelName,
        data: &Value,
        id: Option<&str>,
    ) -> Option<Result<Result<Option<Value>, Refusal>, HookFailure>> {
        let hook = self.covering(HookKind::Publish, channel, &caller.principal.sub)?;
        let mut f = fields(json!({"channel": channel.as_str(), "data": data}));
        if let Some(id) = id {
            f.insert("id".into(), id.into());
        }
        Some(self.decide(hook, caller, f, answer::publish).await)
    }

    /// The `rpc` hook, if configured.
    pub async fn rpc(
        &self,
        caller: Caller<'_>,
        method: &str,
        data: &Value,
    ) -> Option<Result<Result<Value, Refusal>, HookFailure>> {
        let hook = self.set.get(HookKind::Rpc)?;
        let fields = fields(json!({"method": method, "data": data}));
        Some(self.decide(hook, caller, fields, answer::rpc).await)
    }
}

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A target for logs: a URL without its query (which may carry a key).
fn target_name(t: &Target) -> String {
    match t {
        Target::Lambda(f) => f.clone(),
        Target::Http(u) => u.split(['?', '#']).next().unwrap_or_default().to_string(),
    }
}
