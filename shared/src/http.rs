//! The one HTTPS connector the crate's own HTTP clients (JWKS fetches,
//! HTTP hooks, management API pushes) are built on: the platform's root
//! certificates, HTTP/1.1, plain `http://` allowed for loopback endpoints.

/// HTTPS (or HTTP) connector type.
pub(crate) type Https =
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// A connector with the platform's root certificates. They are read once
/// per process (about 3 ms): the JWKS fetcher, the hooks and each
/// management API pusher share clones of the first connector built.
pub(crate) fn https_connector() -> Result<Https, String> {
    static CONNECTOR: std::sync::OnceLock<Result<Https, String>> = std::sync::OnceLock::new();
    CONNECTOR.get_or_init(build).clone()
}

fn build() -> Result<Https, String> {
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("no root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build())
}
