use super::*;
use crate::channel::ChannelName;
use base64::Engine;
use jsonwebtoken::{EncodingKey, Header};

const SECRET: &str = "test-secret-test-secret";

fn now() -> u64 {
    crate::time::now_secs()
}

fn claims(sub: &str) -> TokenClaims {
    TokenClaims {
        sub: sub.into(),
        exp: now() + 600,
        subscribe: vec!["room:*".into()],
        publish: vec!["room:lobby".into()],
        rate: None,
        nbf: None,
        iss: None,
        aud: None,
        ..Default::default()
    }
}

fn hs() -> Verifier {
    Verifier::new(JwtKey::hs256(SECRET).unwrap(), None, None, 30)
}

#[tokio::test]
async fn valid_token_grants_claims() {
    let p = hs()
        .verify(&sign_hs256(SECRET, &claims("alice")).unwrap())
        .await
        .unwrap();
    assert_eq!(p.sub, "alice");
    let lobby = ChannelName::parse("room:lobby").unwrap();
    let other = ChannelName::parse("room:other").unwrap();
    let news = ChannelName::parse("news:x").unwrap();
    assert!(p.can_subscribe(&lobby) && p.can_subscribe(&other) && !p.can_subscribe(&news));
    assert!(p.can_publish(&lobby) && !p.can_publish(&other));
    assert!(p.can_subscribe(&ChannelName::parse("user:alice").unwrap()));
    assert!(!p.can_subscribe(&ChannelName::parse("user:bob").unwrap()));
}

#[tokio::test]
async fn rejects_bad_tokens() {
    let v = hs();
    assert!(matches!(
        v.verify(&sign_hs256("other-secret-xxxxxxx", &claims("a")).unwrap())
            .await,
        Err(AuthError::Invalid(_))
    ));
    let mut c = claims("a");
    c.exp = now() - 100;
    assert_eq!(
        v.verify(&sign_hs256(SECRET, &c).unwrap()).await,
        Err(AuthError::Expired)
    );
    // Within leeway still passes.
    c.exp = now() - 10;
    assert!(v.verify(&sign_hs256(SECRET, &c).unwrap()).await.is_ok());
    let mut c = claims("a");
    c.nbf = Some(now() + 300);
    assert!(v.verify(&sign_hs256(SECRET, &c).unwrap()).await.is_err());
    let mut c = claims("a");
    c.subscribe = vec!["bad pattern".into()];
    assert!(matches!(
        v.verify(&sign_hs256(SECRET, &c).unwrap()).await,
        Err(AuthError::BadClaim(_))
    ));
    assert!(v.verify("garbage").await.is_err());
}

#[tokio::test]
async fn requires_exp_and_sub() {
    #[derive(serde::Serialize)]
    struct NoExp {
        sub: String,
    }
    let t = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &NoExp { sub: "a".into() },
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert!(hs().verify(&t).await.is_err());
    #[derive(serde::Serialize)]
    struct NoSub {
        exp: u64,
    }
    let t = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &NoSub { exp: now() + 60 },
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert!(hs().verify(&t).await.is_err());
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[tokio::test]
async fn rejects_alg_none() {
    let body = format!(r#"{{"sub":"a","exp":{}}}"#, now() + 60);
    let t = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&body));
    assert!(hs().verify(&t).await.is_err());
}

#[tokio::test]
async fn rejects_algorithm_confusion() {
    let public = include_str!("../../tests/fixtures/rsa_public.pem");
    let private = include_str!("../../tests/fixtures/rsa_private.pem");
    let v = Verifier::new(JwtKey::from_pem(public).unwrap(), None, None, 30);
    assert_eq!(
        JwtKey::from_pem(public).unwrap().algorithm(),
        Algorithm::RS256
    );
    let good = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims("a"),
        &EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(v.verify(&good).await.unwrap().sub, "a");
    // HS256 signed with the public key's text: the classic confusion attack.
    let forged = sign_hs256(public, &claims("a")).unwrap();
    assert!(v.verify(&forged).await.is_err());
}

#[tokio::test]
async fn iss_and_aud_checked_when_configured() {
    let v = Verifier::new(
        JwtKey::hs256(SECRET).unwrap(),
        Some("https://issuer".into()),
        Some("wsfn".into()),
        30,
    );
    let mut c = claims("a");
    assert!(v.verify(&sign_hs256(SECRET, &c).unwrap()).await.is_err());
    c.iss = Some("https://issuer".into());
    c.aud = Some("wsfn".into());
    assert!(v.verify(&sign_hs256(SECRET, &c).unwrap()).await.is_ok());
    c.aud = Some("other".into());
    assert!(v.verify(&sign_hs256(SECRET, &c).unwrap()).await.is_err());
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn map(p: &[(&str, &str)]) -> HashMap<String, String> {
    pairs(p).into_iter().collect()
}

#[test]
fn token_extraction_prefers_subprotocol() {
    let t = HandshakeToken::extract(
        &pairs(&[
            ("Sec-WebSocket-Protocol", "wsfn.v1, bearer.AAA"),
            ("Authorization", "Bearer BBB"),
        ]),
        &map(&[("token", "CCC")]),
    );
    assert_eq!(t.token.as_deref(), Some("AAA"));
    assert!(t.offered_subprotocol);
    let t = HandshakeToken::extract(
        &pairs(&[("authorization", "bearer BBB")]),
        &map(&[("token", "CCC")]),
    );
    assert_eq!(t.token.as_deref(), Some("BBB"));
    assert!(!t.offered_subprotocol);
    let t = HandshakeToken::extract(&pairs(&[]), &map(&[("token", "CCC")]));
    assert_eq!(t.token.as_deref(), Some("CCC"));
    let t = HandshakeToken::extract(&pairs(&[("Authorization", "Basic xyz")]), &map(&[]));
    assert_eq!(t.token, None);
}

#[test]
fn headers_sent_on_several_lines_are_all_read() {
    // The subprotocol list split over two header lines.
    let t = HandshakeToken::extract(
        &pairs(&[
            ("Sec-WebSocket-Protocol", "wsfn.v1"),
            ("Sec-WebSocket-Protocol", "bearer.AAA"),
        ]),
        &map(&[]),
    );
    assert_eq!(t.token.as_deref(), Some("AAA"));
    assert!(t.offered_subprotocol);
    // Two Authorization lines: the Bearer one wins wherever it is.
    let t = HandshakeToken::extract(
        &pairs(&[
            ("Authorization", "Basic xyz"),
            ("authorization", "Bearer BBB"),
        ]),
        &map(&[]),
    );
    assert_eq!(t.token.as_deref(), Some("BBB"));
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let v = Verifier::new(JwtKey::hs256(SECRET).unwrap(), None, None, 0);
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let sign = |header: serde_json::Value| {
        use hmac_sign::sign;
        let body = b64(serde_json::json!({"sub": "alice", "exp": now() + 600}));
        let input = format!("{}.{}", b64(header), body);
        format!("{input}.{}", sign(SECRET, &input))
    };
    let plain = sign(serde_json::json!({"alg": "HS256", "typ": "JWT"}));
    assert!(
        v.verify(&plain).await.is_ok(),
        "the hand-made token itself is valid"
    );
    let crit = sign(serde_json::json!({"alg": "HS256", "crit": ["exp-ext"], "exp-ext": 1}));
    match v.verify(&crit).await {
        Err(AuthError::Invalid(m)) => assert!(m.contains("crit"), "{m}"),
        other => panic!("crit accepted: {other:?}"),
    }
}

#[tokio::test]
async fn overlong_sub_is_refused() {
    let v = Verifier::new(JwtKey::hs256(SECRET).unwrap(), None, None, 0);
    let ok = claims(&"a".repeat(MAX_SUB_BYTES));
    assert!(v.verify(&sign_hs256(SECRET, &ok).unwrap()).await.is_ok());
    let long = claims(&"a".repeat(MAX_SUB_BYTES + 1));
    assert!(matches!(
        v.verify(&sign_hs256(SECRET, &long).unwrap()).await,
        Err(AuthError::Invalid(_))
    ));
}

/// HMAC-SHA256 through jsonwebtoken's own signer, for hand-made headers.
mod hmac_sign {
    pub(super) fn sign(secret: &str, input: &str) -> String {
        jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
            jsonwebtoken::Algorithm::HS256,
        )
        .unwrap()
    }
}
