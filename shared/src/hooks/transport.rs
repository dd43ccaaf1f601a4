//! How a hook request reaches its target: a signed HTTP `POST`, or a Lambda
//! `RequestResponse` invocation. Either way the answer is JSON of at most
//! [`MAX_ANSWER_BYTES`].

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use super::Target;

/// Largest answer read from a hook (the management API's payload limit).
pub const MAX_ANSWER_BYTES: usize = 128 * 1024;

/// Why a hook gave no usable answer (the action fails closed).
#[derive(Debug, thiserror::Error)]
pub enum HookFailure {
    /// No answer within the hook timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The request could not be made or the answer read.
    #[error("{0}")]
    Transport(String),
    /// The HTTP target answered a non-2xx status.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The Lambda function failed (`FunctionError`).
    #[error("the function failed: {0}")]
    Function(String),
    /// The answer is not one the hook may give.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// No client for this kind of target (a Lambda hook without one).
    #[error("{0}")]
    Unconfigured(&'static str),
}

/// The hook signature header's value: `sha256=<hex HMAC-SHA256 of
/// "<timestamp>.<body>">` keyed by the hook secret.
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let mut ctx = aws_lc_rs::hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

type HttpClient = hyper_util::client::legacy::Client<crate::http::Https, Full<Bytes>>;

/// The clients hook requests go out with.
#[derive(Clone)]
pub(crate) struct Transport {
    /// `None` when no hook calls a URL (the configuration builds the
    /// connector only then).
    http: Option<HttpClient>,
    secret: Option<Vec<u8>>,
    lambda: Option<aws_sdk_lambda::Client>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("lambda", &self.lambda.is_some())
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// HTTP targets are called through `https` (built at cold start; none
    /// when no hook calls a URL).
    pub(crate) fn new(secret: Option<Vec<u8>>, https: Option<crate::http::Https>) -> Self {
        let http = https.map(|https| {
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https)
        });
        Self {
            http,
            secret,
            lambda: None,
        }
    }

    pub(crate) fn set_lambda(&mut self, client: aws_sdk_lambda::Client) {
        self.lambda = Some(client);
    }

    /// Sends `body` to `target`; the answer's bytes.
    pub(crate) async fn call(&self, target: &Target, body: Vec<u8>) -> Result<Bytes, HookFailure> {
        match target {
            Target::Http(url) => self.post(url, body).await,
            Target::Lambda(function) => self.invoke(function, body).await,
        }
    }

    async fn post(&self, url: &str, body: Vec<u8>) -> Result<Bytes, HookFailure> {
        let secret = self
            .secret
            .as_deref()
            .ok_or(HookFailure::Unconfigured("no HOOK_SECRET for an HTTP hook"))?;
        let ts = crate::time::now_secs();
        let request = hyper::Request::post(url)
            .header("content-type", "application/json")
            .header("x-wsfn-timestamp", ts.to_string())
            .header("x-wsfn-signature", signature(secret, ts, &body))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| HookFailure::Transport(format!("bad request: {e}")))?;
        let http = self.http.as_ref().ok_or(HookFailure::Unconfigured(
            "no root certificates for HTTP hooks",
        ))?;
        let resp = http
            .request(request)
            .await
            .map_err(|e| HookFailure::Transport(format!("request failed: {e}")))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(HookFailure::Status(status.as_u16()));
        }
        Ok(
            http_body_util::Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| HookFailure::Transport(format!("reading the answer: {e}")))?
                .to_bytes(),
        )
    }

    async fn invoke(&self, function: &str, body: Vec<u8>) -> Result<Bytes, HookFailure> {
        let client = self.lambda.as_ref().ok_or(HookFailure::Unconfigured(
            "no Lambda client for a Lambda hook",
        ))?;
        let r = client
            .invoke()
            .function_name(function)
            .invocation_type(aws_sdk_lambda::types::InvocationType::RequestResponse)
            .payload(aws_sdk_lambda::primitives::Blob::new(body))
            .send()
            .await
            .map_err(|e| {
                HookFailure::Transport(format!(
                    "Invoke failed: {}",
                    aws_sdk_lambda::error::DisplayErrorContext(&e)
                ))
            })?;
        let payload = r.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default();
        if let Some(kind) = r.function_error() {
            let detail = String::from_utf8_lossy(&payload[..payload.len().min(512)]).into_owned();
            return Err(HookFailure::Function(format!("{kind}: {detail}")));
        }
        if payload.len() > MAX_ANSWER_BYTES {
            return Err(HookFailure::Malformed(format!(
                "{} bytes; at most {MAX_ANSWER_BYTES}",
                payload.len()
            )));
        }
        Ok(Bytes::from(payload))
    }
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // python3: hmac.new(b"key", b"1.body", hashlib.sha256).hexdigest()
        let expected = "91b5374b153842ad05b2c4eab9349b8321b14703165bd3fb8b034dfb8be98ae5";
        assert_eq!(signature(b"key", 1, b"body"), format!("sha256={expected}"));
        assert_ne!(signature(b"key", 2, b"body"), signature(b"key", 1, b"body"));
        assert_ne!(
            signature(b"other", 1, b"body"),
            signature(b"key", 1, b"body")
        );
    }
}
