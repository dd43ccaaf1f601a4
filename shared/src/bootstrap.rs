//! Cold-start wiring for the Lambda binaries: configuration from the
//! environment (an error naming the variable, not a panic), SDK clients built
//! once.

use std::sync::Arc;

use crate::app::App;
use crate::config::{Config, ConfigError};
use crate::push::ManagementPushers;
use crate::store::DynamoStore;

/// Builds the production [`App`]: DynamoDB store and management API pushers.
pub async fn app_from_env() -> Result<App, ConfigError> {
    let config = Config::from_env()?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        config.table_name.clone(),
    );
    Ok(App::new(
        config,
        Arc::new(store),
        Arc::new(ManagementPushers::new(sdk)),
    ))
}
