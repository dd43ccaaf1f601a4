//! The lean PostToConnection: one SigV4-signed HTTP request over a pooled
//! hyper connection, with the day's signing key and the credentials kept
//! between pushes ([`crate::sigv4`]). The SDK client's per-call pipeline
//! (endpoint resolution, identity lookup, four HMACs of key derivation,
//! interceptors) is what dominated the CPU of a push (docs/performance.md, "CPU per
//! push"). DeleteConnection and GetConnection, rare, stay on the SDK client.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use super::{ManagementPusher, PushError, Pusher};
use crate::sigv4::{amz_date, authorization, sha256_hex, uri_encode, Request, SigningKey};

use crate::http::Https;

/// No push waits longer than this for an answer.
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// Credentials are fetched again this long before they expire.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);

/// PostToConnection by hand, the rest through the SDK.
pub struct SignedPusher {
    client: hyper_util::client::legacy::Client<Https, Full<Bytes>>,
    /// `https://host[:port]`.
    origin: String,
    /// `host[:port]`, as signed.
    host: String,
    /// The endpoint's path (`/prod`, or empty).
    base: String,
    region: String,
    credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    cache: Mutex<Option<(Credentials, SigningKey)>>,
    /// The last payload, as a shareable body, and its SHA-256: a fan-out
    /// pushes one payload to every subscriber, so it is hashed and copied once.
    body: Mutex<Option<(Bytes, String)>>,
    /// The last signing second and its `x-amz-date`.
    date: Mutex<(u64, String)>,
    sdk: ManagementPusher,
}

impl std::fmt::Debug for SignedPusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedPusher")
            .field("origin", &self.origin)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl SignedPusher {
    /// A pusher for `endpoint` (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`
    /// or a local `http://` one) with the cold-start SDK config's region
    /// and credentials.
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: &str) -> Result<Self, String> {
        let uri: hyper::Uri = endpoint
            .parse()
            .map_err(|e| format!("management endpoint `{endpoint}`: {e}"))?;
        let scheme = uri.scheme_str().unwrap_or("https");
        let host = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .ok_or_else(|| format!("management endpoint `{endpoint}` has no host"))?;
        let https = crate::http::https_connector()?;
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(60))
                .build(https);
        Ok(Self {
            client,
            origin: format!("{scheme}://{host}"),
            host,
            base: uri.path().trim_end_matches('/').to_string(),
            region: sdk
                .region()
                .map(|r| r.as_ref().to_string())
                .unwrap_or_else(|| "us-east-1".into()),
            credentials: sdk.credentials_provider(),
            cache: Mutex::new(None),
            body: Mutex::new(None),
            date: Mutex::new((0, String::new())),
            sdk: ManagementPusher::new(sdk, endpoint),
        })
    }

    /// The credentials and today's signing key, fetched or derived only
    /// when the cached ones expire or the day changes.
    async fn signing(&self, day: &str) -> Result<(Credentials, SigningKey), PushError> {
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|e| e > SystemTime::now() + REFRESH_BEFORE)
        };
        if let Some((c, k)) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            if fresh(c) && k.day() == day {
                return Ok((c.clone(), k.clone()));
            }
        }
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| PushError::Failed("no AWS credentials configured".into()))?;
        let creds = provider
            .provide_credentials()
            .await
            .map_err(|e| PushError::Transient(format!("credentials: {e}")))?;
        let key = SigningKey::derive(creds.secret_access_key(), day, &self.region, "execute-api");
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((creds.clone(), key.clone()));
        Ok((creds, key))
    }
}

impl SignedPusher {
    /// The request body for `payload` and its SHA-256 (hex), from the
    /// cache when the payload is the previous one.
    fn body(&self, payload: &[u8]) -> (Bytes, String) {
        let mut cached = self.body.lock().unwrap_or_else(|p| p.into_inner());
        match cached.as_ref() {
            Some((b, h)) if b.as_ref() == payload => (b.clone(), h.clone()),
            _ => {
                let fresh = (Bytes::copy_from_slice(payload), sha256_hex(payload));
                *cached = Some(fresh.clone());
                fresh
            }
        }
    }
}

fn classify(status: u16, error_type: Option<&str>) -> Result<(), PushError> {
    match status {
        200..=299 => Ok(()),
        410 => Err(PushError::Gone),
        429 => Err(PushError::Throttled),
        500.. => Err(PushError::Transient(format!("{status}"))),
        _ => Err(PushError::Failed(format!(
            "{status} {}",
            error_type.unwrap_or("Unknown")
        ))),
    }
}

#[async_trait]
impl Pusher for SignedPusher {
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), PushError> {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let date = {
            let mut last = self.date.lock().unwrap_or_else(|p| p.into_inner());
            if last.0 != secs {
                *last = (secs, amz_date(secs));
            }
            last.1.clone()
        };
        let (creds, key) = self.signing(&date[..8]).await?;
        let path = format!("{}/@connections/{}", self.base, uri_encode(connection_id));
        let (body, body_sha256) = self.body(payload);
        let auth = authorization(
            &key,
            creds.access_key_id(),
            &Request {
                method: "POST",
                host: &self.host,
                path: &path,
                amz_date: &date,
                session_token: creds.session_token(),
                body_sha256: &body_sha256,
            },
        );
        let mut req = hyper::Request::post(format!("{}{path}", self.origin))
            .header("host", &self.host)
            .header("x-amz-date", &date)
            .header("authorization", auth);
        if let Some(token) = creds.session_token() {
            req = req.header("x-amz-security-token", token);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| PushError::Failed(format!("request: {e}")))?;
        let resp = match tokio::time::timeout(PUSH_TIMEOUT, self.client.request(req)).await {
            Err(_) => return Err(PushError::Transient("timeout".into())),
            Ok(Err(e)) => return Err(PushError::Transient(format!("dispatch failure: {e}"))),
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        let error_type = resp
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(':').next().unwrap_or(v).to_string());
        // Read the (small) answer to the end so the connection is reused.
        let _ = resp.into_body().collect().await;
        classify(status, error_type.as_deref())
    }

    async fn delete(&self, connection_id: &str) -> Result<(), PushError> {
        self.sdk.delete(connection_id).await
    }

    async fn alive(&self, connection_id: &str) -> Result<bool, PushError> {
        self.sdk.alive(connection_id).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn statuses_map_like_the_sdk_client() {
        use super::{classify, PushError};
        assert_eq!(classify(200, None), Ok(()));
        assert_eq!(classify(410, Some("GoneException")), Err(PushError::Gone));
        assert_eq!(classify(429, None), Err(PushError::Throttled));
        assert!(matches!(classify(503, None), Err(PushError::Transient(_))));
        assert!(matches!(
            classify(403, Some("ForbiddenException")),
            Err(PushError::Failed(m)) if m.contains("ForbiddenException")
        ));
    }
}
