//! AWS Signature Version 4 for one request shape: a management API call
//! (`POST|GET|DELETE {stage}/@connections/{id}`, no query string). The
//! signing key depends only on the secret, the day, the region and the
//! service, so it is derived once a day instead of four HMACs per push; a
//! push then costs one SHA-256 of its body, one of the canonical request
//! and one HMAC. Checked against the `aws-sigv4` crate (what the SDK uses)
//! in the tests.

use aws_lc_rs::{digest, hmac};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Hex of a SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

const DIGITS: &[u8; 16] = b"0123456789abcdef";

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    push_hex(&mut s, bytes);
    s
}

fn push_hex(s: &mut String, bytes: &[u8]) {
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
}

/// RFC 3986 percent-encoding of everything but the unreserved characters
/// (what AWS calls URI-encoding), `/` included.
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    push_uri_encoded(&mut out, s);
    out
}

fn push_uri_encoded(out: &mut String, s: &str) {
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(UPPER[usize::from(b >> 4)] as char);
            out.push(UPPER[usize::from(b & 15)] as char);
        }
    }
}

/// The canonical URI of a (once-encoded) request path: every segment
/// encoded again, as SigV4 wants for every service but S3.
#[cfg(test)]
fn canonical_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len() * 2);
    push_canonical_uri(&mut out, path);
    out
}

fn push_canonical_uri(out: &mut String, path: &str) {
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        push_uri_encoded(out, segment);
    }
}

/// `YYYYMMDD'T'HHMMSS'Z'` of a Unix time in seconds.
pub fn amz_date(secs: u64) -> String {
    let iso = crate::time::format_iso(secs * 1000);
    // 2026-11-28T17:35:43.000Z → 20261128T173543Z
    let digits: String = iso.chars().filter(char::is_ascii_digit).collect();
    format!("{}T{}Z", &digits[..8], &digits[8..14])
}

/// A signing key for one day, region and service.
#[derive(Clone)]
pub struct SigningKey {
    day: String,
    scope: String,
    key: hmac::Key,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

fn mac(key: &[u8], data: &str) -> Vec<u8> {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::sign(&k, data.as_bytes()).as_ref().to_vec()
}

impl SigningKey {
    /// Derives the key for `day` (`YYYYMMDD`).
    pub fn derive(secret: &str, day: &str, region: &str, service: &str) -> Self {
        let k = mac(format!("AWS4{secret}").as_bytes(), day);
        let k = mac(&k, region);
        let k = mac(&k, service);
        let k = mac(&k, "aws4_request");
        Self {
            day: day.to_string(),
            scope: format!("{day}/{region}/{service}/aws4_request"),
            key: hmac::Key::new(hmac::HMAC_SHA256, &k),
        }
    }

    /// The day it signs for.
    pub(crate) fn day(&self) -> &str {
        &self.day
    }
}

/// What a signed request needs.
#[derive(Debug)]
pub struct Request<'a> {
    /// `POST`, `GET`, `DELETE`.
    pub method: &'a str,
    /// `host[:port]` as sent.
    pub host: &'a str,
    /// The path as sent (segments percent-encoded once).
    pub path: &'a str,
    /// `amz_date` of the signing time.
    pub amz_date: &'a str,
    /// Session token of temporary credentials (Lambda's are).
    pub session_token: Option<&'a str>,
    /// Hex SHA-256 of the body.
    pub body_sha256: &'a str,
}

/// The `Authorization` header value for `req`. Built in two buffers, with
/// no per-part allocation: it runs once per push.
pub fn authorization(key: &SigningKey, access_key_id: &str, req: &Request<'_>) -> String {
    let signed = if req.session_token.is_some() {
        "host;x-amz-date;x-amz-security-token"
    } else {
        "host;x-amz-date"
    };
    let mut canonical = String::with_capacity(320 + req.path.len() * 2);
    canonical.push_str(req.method);
    canonical.push('\n');
    push_canonical_uri(&mut canonical, req.path);
    canonical.push_str("\n\nhost:");
    canonical.push_str(req.host);
    canonical.push_str("\nx-amz-date:");
    canonical.push_str(req.amz_date);
    canonical.push('\n');
    if let Some(token) = req.session_token {
        canonical.push_str("x-amz-security-token:");
        canonical.push_str(token);
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(signed);
    canonical.push('\n');
    canonical.push_str(req.body_sha256);
    let hashed = digest::digest(&digest::SHA256, canonical.as_bytes());
    // The string to sign reuses the buffer.
    canonical.clear();
    canonical.push_str(ALGORITHM);
    canonical.push('\n');
    canonical.push_str(req.amz_date);
    canonical.push('\n');
    canonical.push_str(&key.scope);
    canonical.push('\n');
    push_hex(&mut canonical, hashed.as_ref());
    let signature = hmac::sign(&key.key, canonical.as_bytes());
    let mut out = String::with_capacity(200 + access_key_id.len());
    out.push_str(ALGORITHM);
    out.push_str(" Credential=");
    out.push_str(access_key_id);
    out.push('/');
    out.push_str(&key.scope);
    out.push_str(", SignedHeaders=");
    out.push_str(signed);
    out.push_str(", Signature=");
    push_hex(&mut out, signature.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_and_dates() {
        assert_eq!(uri_encode("ab-_.~Z9"), "ab-_.~Z9");
        assert_eq!(uri_encode("a=b+/@"), "a%3Db%2B%2F%40");
        assert_eq!(
            canonical_uri("/prod/@connections/L0SM9cOFvHcCIhw%3D"),
            "/prod/%40connections/L0SM9cOFvHcCIhw%253D"
        );
        assert_eq!(amz_date(1_795_887_343), "20261128T173543Z");
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
