//! Cold-start wiring for the Lambda binaries: configuration from the
//! environment (an error naming the variable, not a panic), the HS256
//! secret from Secrets Manager when `JWT_SECRET_ARN` names one (only for the
//! functions that verify tokens), SDK clients
//! (DynamoDB, management API, Lambda for fan-out shards) built once.

use std::collections::HashMap;
use std::sync::Arc;

use crate::app::App;
use crate::config::{Config, ConfigError};
use crate::dispatch::LambdaDispatcher;
use crate::functions::Function;
use crate::push::ManagementPushers;
use crate::store::DynamoStore;

/// Resolves `JWT_SECRET_ARN` into `JWT_SECRET` (read once, here).
pub async fn resolve_secret(
    env: &mut HashMap<String, String>,
    sdk: &aws_config::SdkConfig,
) -> Result<(), ConfigError> {
    let set = |k: &str| env.get(k).is_some_and(|v| !v.trim().is_empty());
    if !set("JWT_SECRET_ARN") {
        return Ok(());
    }
    if set("JWT_SECRET") {
        return Err(ConfigError::Invalid {
            var: "JWT_SECRET_ARN",
            reason: "set JWT_SECRET or JWT_SECRET_ARN, not both".into(),
        });
    }
    let arn = env.remove("JWT_SECRET_ARN").unwrap_or_default();
    let secret = crate::secrets::secret_string(sdk, &arn)
        .await
        .map_err(|reason| ConfigError::Invalid {
            var: "JWT_SECRET_ARN",
            reason,
        })?;
    env.insert("JWT_SECRET".into(), secret);
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
    let app = App::new(
        config,
        Arc::new(store),
        Arc::new(ManagementPushers::new(sdk)),
    );
    Ok(match dispatcher {
        Some(d) => app.with_dispatcher(d),
        None => app,
    })
}
