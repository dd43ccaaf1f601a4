use super::*;
use base64::Engine;

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
    }
}

fn hs() -> Verifier {
    Verifier::new(JwtKey::hs256(SECRET).unwrap(), None, None, 30)
}

#[test]
fn valid_token_grants_claims() {
    let p = hs()
        .verify(&sign_hs256(SECRET, &claims("alice")).unwrap())
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

#[test]
fn rejects_bad_tokens() {
    let v = hs();
    assert!(matches!(
        v.verify(&sign_hs256("other-secret-xxxxxxx", &claims("a")).unwrap()),
        Err(AuthError::Invalid(_))
    ));
    let mut c = claims("a");
    c.exp = now() - 100;
    assert_eq!(
        v.verify(&sign_hs256(SECRET, &c).unwrap()),
        Err(AuthError::Expired)
    );
    // Within leeway still passes.
    c.exp = now() - 10;
    assert!(v.verify(&sign_hs256(SECRET, &c).unwrap()).is_ok());
    let mut c = claims("a");
    c.nbf = Some(now() + 300);
    assert!(v.verify(&sign_hs256(SECRET, &c).unwrap()).is_err());
    let mut c = claims("a");
    c.subscribe = vec!["bad pattern".into()];
    assert!(matches!(
        v.verify(&sign_hs256(SECRET, &c).unwrap()),
        Err(AuthError::BadClaim(_))
    ));
    assert!(v.verify("garbage").is_err());
}

#[test]
fn requires_exp_and_sub() {
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
    assert!(hs().verify(&t).is_err());
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
    assert!(hs().verify(&t).is_err());
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[test]
fn rejects_alg_none() {
    let body = format!(r#"{{"sub":"a","exp":{}}}"#, now() + 60);
    let t = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&body));
    assert!(hs().verify(&t).is_err());
}

#[test]
fn rejects_algorithm_confusion() {
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
    assert_eq!(v.verify(&good).unwrap().sub, "a");
    // HS256 signed with the public key's text: the classic confusion attack.
    let forged = sign_hs256(public, &claims("a")).unwrap();
    assert!(v.verify(&forged).is_err());
}

#[test]
fn iss_and_aud_checked_when_configured() {
    let v = Verifier::new(
        JwtKey::hs256(SECRET).unwrap(),
        Some("https://issuer".into()),
        Some("wsfn".into()),
        30,
    );
    let mut c = claims("a");
    assert!(v.verify(&sign_hs256(SECRET, &c).unwrap()).is_err());
    c.iss = Some("https://issuer".into());
    c.aud = Some("wsfn".into());
    assert!(v.verify(&sign_hs256(SECRET, &c).unwrap()).is_ok());
    c.aud = Some("other".into());
    assert!(v.verify(&sign_hs256(SECRET, &c).unwrap()).is_err());
}

#[test]
fn token_extraction_prefers_subprotocol() {
    let h = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let t = HandshakeToken::extract(
        &h(&[
            ("Sec-WebSocket-Protocol", "wsfn.v1, bearer.AAA"),
            ("Authorization", "Bearer BBB"),
        ]),
        &h(&[("token", "CCC")]),
    );
    assert_eq!(t.token.as_deref(), Some("AAA"));
    assert!(t.offered_subprotocol);
    let t = HandshakeToken::extract(
        &h(&[("authorization", "bearer BBB")]),
        &h(&[("token", "CCC")]),
    );
    assert_eq!(t.token.as_deref(), Some("BBB"));
    assert!(!t.offered_subprotocol);
    let t = HandshakeToken::extract(&h(&[]), &h(&[("token", "CCC")]));
    assert_eq!(t.token.as_deref(), Some("CCC"));
    let t = HandshakeToken::extract(&h(&[("Authorization", "Basic xyz")]), &h(&[]));
    assert_eq!(t.token, None);
}
