//! Authentication (`docs/protocol.md` §1): where the token travels, how it is verified
//! (algorithm pinned by configuration) and what it grants.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::channel::Pattern;

/// Longest `sub` accepted: user ids become parts of DynamoDB keys (at most
/// 2,048 bytes) and of presence replies.
pub const MAX_SUB_BYTES: usize = 256;

/// Refuses a token whose header lists critical extensions (`crit`, RFC 7515
/// §4.1.11): wsfn understands none, so it must not accept such a token.
fn refuse_critical_extensions(token: &str) -> Result<(), AuthError> {
    use base64::Engine;
    let Some(segment) = token.split('.').next() else {
        return Ok(());
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment) else {
        // Left for the verifier to reject with its own message.
        return Ok(());
    };
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(header) if header.get("crit").is_some() => Err(AuthError::Invalid(
            "the token header lists critical extensions (crit) this server does not understand"
                .into(),
        )),
        _ => Ok(()),
    }
}

/// Subprotocol the server answers with when a client offers it.
pub(crate) const SUBPROTOCOL: &str = "wsfn.v1";
const BEARER_PROTOCOL_PREFIX: &str = "bearer.";

/// A verification key with its pinned algorithm.
#[derive(Clone)]
pub struct JwtKey {
    key: DecodingKey,
    alg: Algorithm,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        f.debug_struct("JwtKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl JwtKey {
    /// HS256 with a shared secret.
    pub fn hs256(secret: &str) -> Result<Self, String> {
        if secret.is_empty() {
            return Err("the secret is empty".into());
        }
        Ok(Self {
            key: DecodingKey::from_secret(secret.as_bytes()),
            alg: Algorithm::HS256,
        })
    }

    /// RS256 or ES256 from a PEM public key; the key type pins the algorithm.
    pub(crate) fn from_pem(pem: &str) -> Result<Self, String> {
        if let Ok(key) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
            return Ok(Self {
                key,
                alg: Algorithm::RS256,
            });
        }
        DecodingKey::from_ec_pem(pem.as_bytes())
            .map(|key| Self {
                key,
                alg: Algorithm::ES256,
            })
            .map_err(|e| format!("not an RSA or EC public key in PEM form: {e}"))
    }

    /// The algorithm every token must be signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

/// Why a token was refused. All of these reject the handshake with 401 and
/// answer `unauthorized` in band; the detail is logged, not sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// No token in any of the three places.
    #[error("no token")]
    Missing,
    /// Signature, algorithm, format, iss or aud check failed.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// `exp` has passed (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// A capability claim holds something that is not a channel pattern.
    #[error("bad capability claim: {0}")]
    BadClaim(String),
    /// The identity provider's keys could not be had in time (JWKS down or
    /// slow): not the client's fault; the handshake answers 503.
    #[error("verification keys unavailable: {0}")]
    Unavailable(String),
}

#[derive(Deserialize)]
struct RawClaims {
    sub: String,
    exp: u64,
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    subscribe: Option<Vec<String>>,
    #[serde(default)]
    publish: Option<Vec<String>>,
    #[serde(default)]
    rate: Option<f64>,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    info: Option<serde_json::Value>,
    /// Every other claim (roles are read from some of them).
    #[serde(flatten)]
    other: HashMap<String, serde_json::Value>,
}

/// Where verification keys come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// One key from configuration (HS256 secret or PEM public key).
    Static(JwtKey),
    /// An identity provider's JWKS, picked by `kid`.
    Jwks(Arc<JwksKeys>),
    /// None: a function that verifies no tokens (`$disconnect`, server
    /// publish, fan-out) is given no key, and refuses any token.
    None,
}

/// Verifies tokens with the pinned key, issuer, audience and leeway.
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: KeySource,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
    roles: RoleMap,
}

impl Verifier {
    /// Builds a verifier for one key; `iss`/`aud` are checked only when given.
    pub fn new(key: JwtKey, issuer: Option<String>, audience: Option<String>, leeway: u64) -> Self {
        Self::with_keys(KeySource::Static(key), issuer, audience, leeway)
    }

    /// Builds a verifier over any key source.
    pub fn with_keys(
        keys: KeySource,
        issuer: Option<String>,
        audience: Option<String>,
        leeway: u64,
    ) -> Self {
        Self {
            keys,
            issuer,
            audience,
            leeway,
            roles: RoleMap::default(),
        }
    }

    /// Adds capabilities from roles in standard claims (`ROLE_CAPABILITIES`).
    pub fn with_roles(mut self, roles: RoleMap) -> Self {
        self.roles = roles;
        self
    }

    /// The JWKS this verifier reads, if any (loaded at cold start).
    pub fn jwks(&self) -> Option<&Arc<JwksKeys>> {
        match &self.keys {
            KeySource::Jwks(j) => Some(j),
            KeySource::Static(_) | KeySource::None => None,
        }
    }

    /// Clock skew allowed on `exp`/`nbf`, in seconds.
    pub fn leeway(&self) -> u64 {
        self.leeway
    }

    /// Checks signature, algorithm, exp/nbf/iss/aud and the capability
    /// claims. With a JWKS the key is the one the token's `kid` names, and
    /// its algorithm comes from the JWK.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        refuse_critical_extensions(token)?;
        match &self.keys {
            KeySource::Static(key) => self.check(token, key),
            KeySource::Jwks(jwks) => {
                let header = jsonwebtoken::decode_header(token)
                    .map_err(|e| AuthError::Invalid(e.to_string()))?;
                let key = jwks.key(header.kid.as_deref()).await?;
                self.check(token, &key)
            }
            KeySource::None => Err(AuthError::Invalid(
                "this function verifies no tokens (it has no key)".into(),
            )),
        }
    }

    /// The audience check: `aud` (a string or a list) must hold the
    /// configured audience; a token without `aud` (Cognito access tokens)
    /// passes when its `client_id` is the configured audience.
    fn audience_ok(&self, aud: Option<&serde_json::Value>, client_id: Option<&str>) -> bool {
        let Some(want) = &self.audience else {
            return true;
        };
        match aud {
            Some(serde_json::Value::String(a)) => a == want,
            Some(serde_json::Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(want)),
            Some(_) => false,
            None => client_id == Some(want.as_str()),
        }
    }

    fn check(&self, token: &str, key: &JwtKey) -> Result<Principal, AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        let mut validation = Validation::new(key.alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        // Checked below: `aud`, or `client_id` for tokens without one.
        validation.validate_aud = false;
        // A configured iss must be present, not just correct when present.
        let mut required = vec!["exp", "sub"];
        if let Some(iss) = &self.issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        let data =
            decode::<RawClaims>(token, &key.key, &validation).map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                _ => AuthError::Invalid(e.to_string()),
            })?;
        let c = data.claims;
        if !self.audience_ok(c.aud.as_ref(), c.client_id.as_deref()) {
            return Err(AuthError::Invalid(
                "aud (or client_id) is not the configured audience".into(),
            ));
        }
        if c.sub.is_empty() {
            return Err(AuthError::Invalid("empty sub".into()));
        }
        if c.sub.starts_with('@') {
            // `@server` and any future `@…` name the backend, never a user:
            // a token could otherwise publish as the backend.
            return Err(AuthError::Invalid(
                "sub must not begin with `@` (reserved for the backend)".into(),
            ));
        }
        if c.sub.len() > MAX_SUB_BYTES {
            return Err(AuthError::Invalid(format!(
                "sub is {} bytes; at most {MAX_SUB_BYTES}",
                c.sub.len()
            )));
        }
        let mut subscribe = c.subscribe.unwrap_or_default();
        let mut publish = c.publish.unwrap_or_default();
        for p in subscribe.iter().chain(&publish) {
            Pattern::parse(p).map_err(|e| AuthError::BadClaim(format!("`{p}`: {e}")))?;
        }
        self.roles.grant(&c.other, &mut subscribe, &mut publish);
        if let Some(r) = c.rate {
            if !(r.is_finite() && r > 0.0) {
                return Err(AuthError::BadClaim(
                    "`rate` must be a positive number".into(),
                ));
            }
        }
        if let Some(info) = &c.info {
            if !info.is_object() || info.to_string().len() > MAX_INFO_BYTES {
                return Err(AuthError::BadClaim(format!(
                    "`info` must be a JSON object of at most {MAX_INFO_BYTES} bytes"
                )));
            }
        }
        Ok(Principal {
            sub: c.sub,
            exp: c.exp,
            subscribe,
            publish,
            rate: c.rate,
            iat: c.iat.unwrap_or(0),
            info: c.info,
            granted: None,
        })
    }
}

mod handshake;
mod jwks;
mod principal;
mod roles;
pub use handshake::{header, header_values, sign_hs256, HandshakeToken, TokenClaims};
pub use jwks::{key_from_jwk, parse_set, HttpFetcher, JwksFetcher, JwksKeys};
pub use principal::{Granted, Principal, MAX_INFO_BYTES};
pub use roles::{Grants, RoleMap};

#[cfg(test)]
mod tests;
