//! The hook Lambda: wiring only (`APP_TABLE`, `BANNED_WORDS`); the rules are
//! `app_hooks::Rules::handle`.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let rules = &app_hooks::Rules {
        db: aws_sdk_dynamodb::Client::new(&sdk),
        table: std::env::var("APP_TABLE").map_err(|_| "APP_TABLE is required but not set")?,
        banned: std::env::var("BANNED_WORDS")
            .unwrap_or_default()
            .split(',')
            .map(|w| w.trim().to_lowercase())
            .filter(|w| !w.is_empty())
            .collect(),
    };
    run(service_fn(|event: LambdaEvent<Value>| async move {
        rules.handle(&event.payload).await
    }))
    .await
}
