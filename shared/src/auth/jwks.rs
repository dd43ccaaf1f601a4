//! Verification keys from an identity provider's JWKS endpoint (Cognito,
//! Auth0, Okta, ...): fetched at cold start and cached, picked by `kid`,
//! refetched when a token names an unknown `kid` (at most once every 30 s,
//! so rotation works without a redeploy and a flood of bad `kid`s cannot
//! hammer the provider). Each key's algorithm comes from the JWK (`alg`, or
//! `kty`/`crv`), never from the token.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

use super::{AuthError, JwtKey};

/// An unknown `kid` triggers at most one refetch per this interval.
pub(crate) const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// A handshake waits at most this long for keys; then it is answered 503.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// After a failed fetch, handshakes within this long fail fast (503)
/// instead of queueing behind another attempt.
const FAILURE_HOLD: Duration = Duration::from_secs(1);
/// Largest JWKS document accepted.
const MAX_DOCUMENT: usize = 1 << 20;

/// Fetches a JWKS document.
#[async_trait]
pub trait JwksFetcher: Send + Sync + std::fmt::Debug {
    /// The document's text, or why it could not be fetched.
    async fn fetch(&self, url: &str) -> Result<String, String>;
}

/// HTTPS (or loopback HTTP) GET with the system's root certificates.
pub struct HttpFetcher {
    client:
        hyper_util::client::legacy::Client<crate::http::Https, http_body_util::Empty<bytes::Bytes>>,
}

impl std::fmt::Debug for HttpFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpFetcher").finish_non_exhaustive()
    }
}

impl HttpFetcher {
    /// A client with the platform's root certificates.
    pub fn new() -> Result<Self, String> {
        let https = crate::http::https_connector()?;
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https);
        Ok(Self { client })
    }
}

#[async_trait]
impl JwksFetcher for HttpFetcher {
    async fn fetch(&self, url: &str) -> Result<String, String> {
        use http_body_util::BodyExt;
        let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
        let resp = self
            .client
            .get(uri)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        let body = http_body_util::Limited::new(resp.into_body(), MAX_DOCUMENT)
            .collect()
            .await
            .map_err(|e| format!("reading the body: {e}"))?
            .to_bytes();
        String::from_utf8(body.to_vec()).map_err(|_| "the body is not UTF-8".into())
    }
}

/// The key and pinned algorithm a JWK describes; only signature keys of
/// RS256/RS384/RS512/PS256/ES256/ES384 are accepted.
pub fn key_from_jwk(jwk: &Jwk) -> Result<JwtKey, String> {
    let from_alg = match jwk.common.key_algorithm {
        Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
        Some(KeyAlgorithm::RS384) => Some(Algorithm::RS384),
        Some(KeyAlgorithm::RS512) => Some(Algorithm::RS512),
        Some(KeyAlgorithm::PS256) => Some(Algorithm::PS256),
        Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
        Some(KeyAlgorithm::ES384) => Some(Algorithm::ES384),
        Some(other) => return Err(format!("algorithm {other:?} is not accepted")),
        None => None,
    };
    let alg = match (&jwk.algorithm, from_alg) {
        (
            AlgorithmParameters::RSA(_),
            Some(a @ (Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 | Algorithm::PS256)),
        ) => a,
        (AlgorithmParameters::RSA(_), None) => Algorithm::RS256,
        (
            AlgorithmParameters::EllipticCurve(ec),
            Some(a @ (Algorithm::ES256 | Algorithm::ES384)),
        ) => {
            let expected = if a == Algorithm::ES256 {
                EllipticCurve::P256
            } else {
                EllipticCurve::P384
            };
            if ec.curve != expected {
                return Err(format!("curve {:?} does not match alg {a:?}", ec.curve));
            }
            a
        }
        (AlgorithmParameters::EllipticCurve(ec), None) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            ref other => return Err(format!("curve {other:?} is not accepted")),
        },
        (AlgorithmParameters::OctetKey(_), _) => {
            return Err("symmetric keys are not accepted from a JWKS".into())
        }
        _ => return Err("the key type does not match its alg".into()),
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    Ok(JwtKey { key, alg })
}

/// The usable keys of a JWKS document by `kid`; keys without a `kid`, not
/// for signatures, or of an unaccepted type are skipped.
pub fn parse_set(text: &str) -> Result<HashMap<String, JwtKey>, String> {
    let set: JwkSet = serde_json::from_str(text).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if matches!(
            jwk.common.public_key_use,
            Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
        ) {
            continue;
        }
        match key_from_jwk(jwk) {
            Ok(k) => {
                keys.insert(kid, k);
            }
            Err(e) => tracing::warn!(kid, error = %e, "JWKS key skipped"),
        }
    }
    Ok(keys)
}

#[derive(Default)]
struct State {
    keys: HashMap<String, JwtKey>,
    last_success: Option<Instant>,
    last_failure: Option<Instant>,
}

/// The cached keys of one JWKS URL.
pub struct JwksKeys {
    url: String,
    fetcher: Arc<dyn JwksFetcher>,
    refetch_interval: Duration,
    state: tokio::sync::Mutex<State>,
}

impl std::fmt::Debug for JwksKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksKeys")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl JwksKeys {
    /// Keys of `url`, fetched with `fetcher`; nothing is fetched yet.
    pub fn new(url: impl Into<String>, fetcher: Arc<dyn JwksFetcher>) -> Self {
        Self {
            url: url.into(),
            fetcher,
            refetch_interval: REFETCH_INTERVAL,
            state: tokio::sync::Mutex::new(State::default()),
        }
    }

    /// Changes the minimum time between refetches for unknown `kid`s
    /// (30 s by default).
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// The JWKS URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn refetch(&self, state: &mut State) -> Result<(), String> {
        let fetched = tokio::time::timeout(FETCH_TIMEOUT, self.fetcher.fetch(&self.url))
            .await
            .map_err(|_| format!("no answer within {} s", FETCH_TIMEOUT.as_secs()))
            .and_then(|r| r)
            .and_then(|text| parse_set(&text));
        match fetched {
            Ok(keys) => {
                state.keys = keys;
                state.last_success = Some(Instant::now());
                state.last_failure = None;
                Ok(())
            }
            Err(e) => {
                state.last_failure = Some(Instant::now());
                tracing::warn!(url = %self.url, error = %e, "JWKS fetch failed");
                Err(e)
            }
        }
    }

    /// Fetches the keys now (cold start); returns how many are usable.
    pub async fn load(&self) -> Result<usize, String> {
        let mut state = self.state.lock().await;
        self.refetch(&mut state).await?;
        Ok(state.keys.len())
    }

    /// The key a token names. A cached key answers at once; an unknown
    /// `kid` refetches unless the last successful fetch is under 30 s old
    /// (then the `kid` is simply unknown: 401). A provider that does not
    /// answer within 2 s gives [`AuthError::Unavailable`] (503).
    pub async fn key(&self, kid: Option<&str>) -> Result<JwtKey, AuthError> {
        let Some(kid) = kid else {
            return Err(AuthError::Invalid("the token has no kid".into()));
        };
        let deadline = tokio::time::Instant::now() + FETCH_TIMEOUT;
        let mut state = tokio::time::timeout_at(deadline, self.state.lock())
            .await
            .map_err(|_| AuthError::Unavailable("JWKS busy".into()))?;
        if let Some(k) = state.keys.get(kid) {
            return Ok(k.clone());
        }
        let fresh = state
            .last_success
            .is_some_and(|t| t.elapsed() < self.refetch_interval);
        if fresh {
            return Err(AuthError::Invalid(format!("unknown kid `{kid}`")));
        }
        if state
            .last_failure
            .is_some_and(|t| t.elapsed() < FAILURE_HOLD)
        {
            return Err(AuthError::Unavailable(
                "the JWKS endpoint failed just now".into(),
            ));
        }
        self.refetch(&mut state)
            .await
            .map_err(AuthError::Unavailable)?;
        state
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| AuthError::Invalid(format!("unknown kid `{kid}`")))
    }
}
