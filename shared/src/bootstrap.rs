//! Cold-start wiring for the Lambda binaries: configuration from the
//! environment (an error naming the variable, not a panic), the HS256
//! secret from Secrets Manager when `JWT_SECRET_ARN` names one (only for the
//! functions that verify tokens), SDK clients
//! (DynamoDB, management API, Lambda for fan-out shards) built once.

use std::collections::HashMap;
use std::sync::Arc;

use crate::app::App;
use crate::config::{Config, ConfigError};
use crate::fanout::dispatch::LambdaDispatcher;
use crate::functions::Function;
use crate::push::ManagementPushers;
use crate::store::DynamoStore;

/// Resolves `JWT_SECRET_ARN` into `JWT_SECRET` (read once, here).
pub async fn resolve_secret(
    env: &mut HashMap<String, String>,
    sdk: &aws_config::SdkConfig,
) -> Result<(), ConfigError> {
    resolve(env, sdk, "JWT_SECRET_ARN", "JWT_SECRET").await
}

/// Resolves `{arn_var}` (a Secrets Manager secret) into `{var}`.
async fn resolve(
    env: &mut HashMap<String, String>,
    sdk: &aws_config::SdkConfig,
    arn_var: &'static str,
    var: &'static str,
) -> Result<(), ConfigError> {
    let set = |k: &str| env.get(k).is_some_and(|v| !v.trim().is_empty());
    if !set(arn_var) {
        return Ok(());
    }
    if set(var) {
        return Err(ConfigError::Invalid {
            var: arn_var,
            reason: format!("set {var} or {arn_var}, not both"),
        });
    }
    let arn = env.remove(arn_var).unwrap_or_default();
    let secret = crate::secrets::secret_string(sdk, &arn)
        .await
        .map_err(|reason| ConfigError::Invalid {
            var: arn_var,
            reason,
        })?;
    env.insert(var.into(), secret);
    Ok(())
}

/// Builds the production [`App`] of `function`: DynamoDB store and
/// management API pushers; the signing key only where tokens are verified.
pub async fn app_from_env(function: Function) -> Result<App, ConfigError> {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let mut env: HashMap<String, String> = std::env::vars().collect();
    if function.verifies_tokens() {
        resolve_secret(&mut env, &sdk).await?;
    }
    resolve(&mut env, &sdk, "HOOK_SECRET_ARN", "HOOK_SECRET").await?;
    let config = Config::for_function(&|k| env.get(k).cloned(), function)?;
    if let Some(jwks) = config.verifier.jwks() {
        // Keys at cold start; if the provider is down now, the first
        // handshake tries again (and answers 503 if it still is).
        match jwks.load().await {
            Ok(n) => tracing::info!(url = jwks.url(), keys = n, "JWKS loaded"),
            Err(e) => tracing::warn!(url = jwks.url(), error = %e, "JWKS not loaded at cold start"),
        }
    }
    let store = DynamoStore::new(
        crate::store::dynamo_client(&sdk, None),
        config.table_name.clone(),
    );
    let dispatcher = config
        .fanout_function
        .as_deref()
        .map(|f| Arc::new(LambdaDispatcher::from_sdk(&sdk, f)));
    let bus = config.event_bus.clone();
    let hooks_lambda = config
        .hooks
        .as_ref()
        .is_some_and(|h| !h.set.lambda_targets().is_empty());
    let mut app = App::new(
        config,
        Arc::new(store),
        Arc::new(ManagementPushers::new(sdk.clone())),
    );
    if hooks_lambda {
        app = app.with_hook_lambda(aws_sdk_lambda::Client::new(&sdk));
    }
    if let Some(bus) = bus {
        let client = aws_sdk_eventbridge::Client::new(&sdk);
        app = app.with_bus(Arc::new(crate::bus::EventBridgeSink::new(client, bus)));
    }
    Ok(match dispatcher {
        Some(d) => app.with_dispatcher(d),
        None => app,
    })
}
