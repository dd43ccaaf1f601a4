use super::*;

fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_map(&map)
}

#[test]
fn defaults() {
    let c = cfg(&[("TABLE_NAME", "t"), ("JWT_SECRET", "s3cret-s3cret")]).unwrap();
    assert_eq!(c.max_connections_per_user, 10);
    assert_eq!(c.max_message_bytes, 32_768);
    assert_eq!(c.max_subscriptions_per_connection, 100);
    assert_eq!(c.rate_limit_per_second, 20);
    assert_eq!(c.rate_limit_burst, 40);
    assert_eq!(c.history_ttl, Duration::from_secs(600));
    assert_eq!(c.history_max, 1000);
    assert_eq!(c.idempotency_ttl, Duration::from_secs(300));
    assert_eq!(c.allowed_origins, Origins::Any);
    assert_eq!(c.fanout_concurrency, 64);
}

#[test]
fn bad_values_name_the_variable() {
    let base = [("TABLE_NAME", "t"), ("JWT_SECRET", "s3cret-s3cret")];
    for (var, val) in [
        ("MAX_CONNECTIONS_PER_USER", "ten"),
        ("MAX_MESSAGE_BYTES", "0"),
        ("RATE_LIMIT_PER_SECOND", "-1"),
        ("JWT_LEEWAY_SECONDS", "1.5"),
        ("ALLOWED_ORIGINS", "example.com"),
        ("MANAGEMENT_ENDPOINT", "localhost:3001"),
        ("FANOUT_CONCURRENCY", "0"),
        ("FANOUT_SHARD_SIZE", "5"),
        ("METRICS_NAMESPACE", "AWS/Lambda"),
        (
            "ROLE_CAPABILITIES",
            r#"{"r": {"subscribe": ["no spaces"]}}"#,
        ),
        ("JWT_JWKS_URL", "https://x/jwks"),
    ] {
        let mut pairs = base.to_vec();
        pairs.push((var, val));
        let e = cfg(&pairs).unwrap_err().to_string();
        assert!(e.contains(var), "{e} should name {var}");
    }
    assert!(cfg(&[("JWT_SECRET", "x")])
        .unwrap_err()
        .to_string()
        .contains("TABLE_NAME"));
    assert!(cfg(&[("TABLE_NAME", "t")])
        .unwrap_err()
        .to_string()
        .contains("JWT_SECRET"));
    let e = cfg(&[("TABLE_NAME", "t"), ("JWT_PUBLIC_KEY", "not a pem")]).unwrap_err();
    assert!(e.to_string().contains("JWT_PUBLIC_KEY"));
}

#[test]
fn jwks_urls_must_be_https_or_loopback() {
    let with = |url: &str| cfg(&[("TABLE_NAME", "t"), ("JWT_JWKS_URL", url)]);
    for ok in [
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_A/.well-known/jwks.json",
        "http://127.0.0.1:8080/jwks",
        "http://localhost/jwks",
        "http://[::1]:9/jwks",
    ] {
        let c = with(ok).unwrap();
        assert_eq!(c.verifier.jwks().map(|j| j.url()), Some(ok));
    }
    for bad in [
        "http://example.com/jwks",
        "ftp://x/jwks",
        "jwks.json",
        "http://10.0.0.1/jwks",
    ] {
        let e = with(bad).unwrap_err().to_string();
        assert!(e.contains("JWT_JWKS_URL"), "{bad}: {e}");
    }
}

#[test]
fn origins() {
    let c = cfg(&[
        ("TABLE_NAME", "t"),
        ("JWT_SECRET", "s"),
        ("ALLOWED_ORIGINS", "https://a.com, http://localhost:5173"),
    ])
    .unwrap();
    assert!(c.allowed_origins.allows(Some("https://a.com")));
    assert!(c.allowed_origins.allows(Some("http://localhost:5173")));
    assert!(!c.allowed_origins.allows(Some("https://evil.com")));
    assert!(c.allowed_origins.allows(None));
    assert!(Origins::Any.allows(Some("https://evil.com")));
}
