//! The HS256 secret from Secrets Manager: read once at cold start (the
//! template passes the secret's ARN in `JWT_SECRET_ARN`, never the secret
//! itself), then kept in memory for the life of the instance.

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};

/// The `SecretString` of the secret `arn`; the error is a sentence for the
/// start-up failure that names `JWT_SECRET_ARN`.
pub(crate) async fn secret_string(
    sdk: &aws_config::SdkConfig,
    arn: &str,
) -> Result<String, String> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| match e.as_service_error() {
            Some(se) => format!(
                "cannot read the secret: {}: {}",
                se.code().unwrap_or("Unknown"),
                se.message().unwrap_or_default()
            ),
            None => format!("cannot read the secret: {}", DisplayErrorContext(&e)),
        })?;
    match out.secret_string() {
        Some(s) if !s.is_empty() => Ok(s.to_string()),
        _ => Err("the secret has no SecretString (binary secrets are not supported)".into()),
    }
}
