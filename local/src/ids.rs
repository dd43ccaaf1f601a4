//! Identifiers shaped like API Gateway's: base64 with `=` padding, so clients
//! and the management client meet the same URL-encoding as in AWS.

use base64::Engine;
use rand::Rng;

fn token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    base64::engine::general_purpose::URL_SAFE.encode(buf)
}

/// A connection id like `L0SM9cOFvHcCIhw=`.
pub fn connection_id() -> String {
    token(11)
}

/// A request id.
pub fn request_id() -> String {
    token(11)
}

/// A message id.
pub fn message_id() -> String {
    token(11)
}
