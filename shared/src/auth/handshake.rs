//! Where a connect request carries its token (subprotocol, header, query),
//! and signing tokens for development and tests.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::{BEARER_PROTOCOL_PREFIX, SUBPROTOCOL};

/// Where the connect request carried its token, and whether the client
/// offered the `wsfn.v1` subprotocol (then the response must echo it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeToken {
    /// The token found, in order of preference: subprotocol, header, query.
    pub token: Option<String>,
    /// The client listed `wsfn.v1` in `Sec-WebSocket-Protocol`.
    pub offered_subprotocol: bool,
}

/// Every value of a request header, case-insensitively (API Gateway keeps
/// the client's capitalisation; a header sent on several lines has several
/// values, in `multiValueHeaders`).
pub fn header_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The first value of a request header, case-insensitively.
pub fn header<'a>(headers: &'a [(String, String)], name: &'a str) -> Option<&'a str> {
    header_values(headers, name).next()
}

impl HandshakeToken {
    /// Extracts the token from the `$connect` headers (every line of each)
    /// and query.
    pub fn extract(headers: &[(String, String)], query: &HashMap<String, String>) -> Self {
        let protocols: Vec<&str> = header_values(headers, "sec-websocket-protocol")
            .flat_map(|v| v.split(',').map(str::trim))
            .collect();
        let offered_subprotocol = protocols.contains(&SUBPROTOCOL);
        let from_protocol = protocols
            .iter()
            .find_map(|p| p.strip_prefix(BEARER_PROTOCOL_PREFIX))
            .filter(|t| !t.is_empty());
        let from_header = header_values(headers, "authorization").find_map(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| rest.trim())
                .filter(|t| !t.is_empty())
        });
        let from_query = query
            .get("token")
            .map(String::as_str)
            .filter(|t| !t.is_empty());
        Self {
            token: from_protocol
                .or(from_header)
                .or(from_query)
                .map(str::to_string),
            offered_subprotocol,
        }
    }
}

/// Claims for [`sign_hs256`]: what a dev or test token grants.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TokenClaims {
    /// User id.
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// `subscribe` patterns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscribe: Vec<String>,
    /// `publish` patterns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<String>,
    /// Rate override.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Not-before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Issued at (seconds): what a `revoke` compares.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// The member's public data (presence, `join`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
}

/// Signs an HS256 token: used by `wsfn-local token` and by tests.
pub fn sign_hs256(secret: &str, claims: &TokenClaims) -> Result<String, String> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| e.to_string())
}
