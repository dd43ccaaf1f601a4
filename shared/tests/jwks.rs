//! Tokens from an identity provider's JWKS: a local JWKS server (RS256 and
//! ES256 keys), key rotation, unknown `kid`s, a provider that is down or
//! slow, and Cognito access tokens (`client_id` instead of `aud`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wsfn::auth::{AuthError, HttpFetcher, JwksKeys, KeySource, Verifier};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

/// A JWKS document of the given kids, from the fixture keys.
fn jwks(kids: &[&str]) -> String {
    let all: HashMap<String, Value> = serde_json::from_str(&fixture("jwks_public.json")).unwrap();
    json!({"keys": kids.iter().map(|k| all[*k].clone()).collect::<Vec<_>>()}).to_string()
}

/// A token signed with a fixture key, naming `kid`.
fn token(kid: &str, alg: Algorithm, claims: Value) -> String {
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(fixture("jwks_ec.pem").as_bytes()).unwrap(),
        _ => {
            let file = if kid == "rsa-b" {
                "jwks_rsa_b.pem"
            } else {
                "jwks_rsa_a.pem"
            };
            EncodingKey::from_rsa_pem(fixture(file).as_bytes()).unwrap()
        }
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

fn claims(sub: &str) -> Value {
    json!({"sub": sub, "exp": wsfn::time::now_secs() + 600, "subscribe": ["room:*"]})
}

/// A JWKS server on loopback: serves `doc` after `delay`; counts requests.
#[derive(Clone)]
struct Provider {
    url: String,
    doc: Arc<Mutex<String>>,
    delay: Arc<Mutex<Duration>>,
    hits: Arc<AtomicU32>,
}

impl Provider {
    async fn start(doc: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let p = Provider {
            url: format!(
                "http://{}/.well-known/jwks.json",
                listener.local_addr().unwrap()
            ),
            doc: Arc::new(Mutex::new(doc)),
            delay: Arc::new(Mutex::new(Duration::ZERO)),
            hits: Arc::new(AtomicU32::new(0)),
        };
        let server = p.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let server = server.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let _ = sock.read(&mut buf).await;
                    server.hits.fetch_add(1, Ordering::SeqCst);
                    let delay = *server.delay.lock().unwrap();
                    tokio::time::sleep(delay).await;
                    let body = server.doc.lock().unwrap().clone();
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(reply.as_bytes()).await;
                });
            }
        });
        p
    }

    fn hits(&self) -> u32 {
        self.hits.load(Ordering::SeqCst)
    }
}

fn verifier(keys: JwksKeys, audience: Option<&str>) -> Verifier {
    Verifier::with_keys(
        KeySource::Jwks(Arc::new(keys)),
        None,
        audience.map(str::to_string),
        0,
    )
}

fn keys(url: &str) -> JwksKeys {
    JwksKeys::new(url, Arc::new(HttpFetcher::new().unwrap()))
}

#[tokio::test]
async fn rs256_and_es256_keys_are_picked_by_kid_with_their_own_alg() {
    let p = Provider::start(jwks(&["rsa-a", "ec-1"])).await;
    let k = keys(&p.url);
    assert_eq!(k.load().await.unwrap(), 2);
    let v = verifier(k, None);
    assert_eq!(
        v.verify(&token("rsa-a", Algorithm::RS256, claims("ann")))
            .await
            .unwrap()
            .sub,
        "ann"
    );
    assert_eq!(
        v.verify(&token("ec-1", Algorithm::ES256, claims("eve")))
            .await
            .unwrap()
            .sub,
        "eve"
    );
    // The algorithm is the key's, not the token's: an RS256 key does not
    // verify a PS256 token, and an HS256 token "signed" with the public key
    // (algorithm confusion) is refused.
    assert!(matches!(
        v.verify(&token("rsa-a", Algorithm::PS256, claims("x")))
            .await,
        Err(AuthError::Invalid(_))
    ));
    let all: HashMap<String, Value> = serde_json::from_str(&fixture("jwks_public.json")).unwrap();
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("rsa-a".into());
    let confused = jsonwebtoken::encode(
        &h,
        &claims("mallory"),
        &EncodingKey::from_secret(all["rsa-a"]["n"].as_str().unwrap().as_bytes()),
    )
    .unwrap();
    assert!(v.verify(&confused).await.is_err());
    assert_eq!(p.hits(), 1, "keys were cached");
}

#[tokio::test]
async fn rotation_refetches_at_most_once_per_interval() {
    let p = Provider::start(jwks(&["rsa-a"])).await;
    let k = keys(&p.url).with_refetch_interval(Duration::from_millis(400));
    k.load().await.unwrap();
    let v = verifier(k, None);
    // The provider rotates to rsa-b.
    *p.doc.lock().unwrap() = jwks(&["rsa-b"]);
    let rotated = token("rsa-b", Algorithm::RS256, claims("bo"));
    // Within the interval an unknown kid is refused without asking again,
    // however many tokens name it.
    for _ in 0..20 {
        assert!(matches!(
            v.verify(&rotated).await,
            Err(AuthError::Invalid(_))
        ));
    }
    assert_eq!(p.hits(), 1);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(v.verify(&rotated).await.unwrap().sub, "bo");
    assert_eq!(p.hits(), 2, "one refetch");
    // A kid the provider does not have: refused, at most one more fetch.
    tokio::time::sleep(Duration::from_millis(450)).await;
    for _ in 0..5 {
        assert!(v
            .verify(&token("nope", Algorithm::RS256, claims("x")))
            .await
            .is_err());
    }
    assert_eq!(p.hits(), 3);
}

#[tokio::test]
async fn a_provider_that_is_down_gives_unavailable_and_the_next_try_recovers() {
    // A port with nobody listening.
    let free = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let url = format!("http://{addr}/jwks");
    let k = Arc::new(keys(&url));
    assert!(
        k.load().await.is_err(),
        "cold start survives a down provider"
    );
    let v = Verifier::with_keys(KeySource::Jwks(k.clone()), None, None, 0);
    let t = token("rsa-a", Algorithm::RS256, claims("ann"));
    let started = Instant::now();
    assert!(matches!(v.verify(&t).await, Err(AuthError::Unavailable(_))));
    assert!(started.elapsed() < Duration::from_secs(2));
    // The provider comes up on that port; the next handshake tries again.
    let listener = TcpListener::bind(addr).await.unwrap();
    let doc = jwks(&["rsa-a"]);
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 2048];
        let _ = sock.read(&mut buf).await;
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{doc}",
            doc.len()
        );
        sock.write_all(reply.as_bytes()).await.unwrap();
    });
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(v.verify(&t).await.unwrap().sub, "ann");
}

#[tokio::test]
async fn a_slow_provider_is_given_up_on_within_two_seconds() {
    let p = Provider::start(jwks(&["rsa-a"])).await;
    *p.delay.lock().unwrap() = Duration::from_secs(10);
    let v = verifier(keys(&p.url), None);
    let started = Instant::now();
    let r = v
        .verify(&token("rsa-a", Algorithm::RS256, claims("ann")))
        .await;
    assert!(matches!(r, Err(AuthError::Unavailable(_))), "{r:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(2600),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_handshake_answers_503_when_keys_are_unavailable() {
    use wsfn::events;
    let p = Provider::start(jwks(&["rsa-a"])).await;
    *p.delay.lock().unwrap() = Duration::from_secs(10);
    let map = HashMap::from([
        ("TABLE_NAME".to_string(), "t".to_string()),
        ("JWT_JWKS_URL".to_string(), p.url.clone()),
    ]);
    let config = wsfn::config::Config::from_map(&map).unwrap();
    let app = wsfn::app::App::new(
        config,
        Arc::new(wsfn::store::MemoryStore::new()),
        Arc::new(wsfn::testkit::RecordingPusher::new()),
    );
    let info = events::ConnectionInfo {
        connection_id: "j1=".into(),
        domain_name: "x".into(),
        stage: "s".into(),
        api_id: "a".into(),
        connected_at: wsfn::time::now_millis(),
        source_ip: "127.0.0.1".into(),
    };
    let auth = format!("Bearer {}", token("rsa-a", Algorithm::RS256, claims("ann")));
    let ev = events::parse(events::connect_json(
        &info,
        &[("Authorization".into(), auth)],
        &[],
        "r1",
        wsfn::time::now_millis(),
    ));
    let started = Instant::now();
    let r = wsfn::handlers::connect(ev, &app, &Default::default())
        .await
        .unwrap();
    assert_eq!(r.status_code, 503);
    assert!(started.elapsed() < Duration::from_millis(2600));
}

#[tokio::test]
async fn cognito_access_tokens_match_the_audience_by_client_id() {
    let p = Provider::start(jwks(&["rsa-a"])).await;
    let v = verifier(keys(&p.url), Some("app-client-1"));
    let mut access = claims("ann");
    access["client_id"] = json!("app-client-1");
    access["token_use"] = json!("access");
    assert!(v
        .verify(&token("rsa-a", Algorithm::RS256, access.clone()))
        .await
        .is_ok());
    access["client_id"] = json!("another-client");
    assert!(v
        .verify(&token("rsa-a", Algorithm::RS256, access))
        .await
        .is_err());
    // An ID token carries aud: it must match; a list works too.
    let mut id = claims("ann");
    id["aud"] = json!(["x", "app-client-1"]);
    assert!(v
        .verify(&token("rsa-a", Algorithm::RS256, id.clone()))
        .await
        .is_ok());
    id["aud"] = json!("x");
    id["client_id"] = json!("app-client-1");
    assert!(
        v.verify(&token("rsa-a", Algorithm::RS256, id))
            .await
            .is_err(),
        "aud decides when present"
    );
    // Neither: refused when an audience is configured.
    assert!(v
        .verify(&token("rsa-a", Algorithm::RS256, claims("ann")))
        .await
        .is_err());
}

#[tokio::test]
async fn cognito_groups_and_scopes_map_to_capabilities() {
    let p = Provider::start(jwks(&["rsa-a"])).await;
    let roles = wsfn::auth::RoleMap::parse(
        Some(r#"{"editors": {"subscribe": ["doc:*"], "publish": ["doc:*"]}, "chat/read": {"subscribe": ["room:*"]}}"#),
        None,
    )
    .unwrap();
    let v = verifier(keys(&p.url), Some("app-client-1")).with_roles(roles);
    // A Cognito access token: no custom claims, groups and scopes only.
    let access = json!({
        "sub": "ann", "exp": wsfn::time::now_secs() + 600, "client_id": "app-client-1",
        "token_use": "access", "cognito:groups": ["editors"], "scope": "openid chat/read"
    });
    let principal = v
        .verify(&token("rsa-a", Algorithm::RS256, access))
        .await
        .unwrap();
    let ch = |s: &str| wsfn::channel::ChannelName::parse(s).unwrap();
    assert!(principal.can_publish(&ch("doc:1")) && principal.can_subscribe(&ch("doc:1")));
    assert!(
        principal.can_subscribe(&ch("room:lobby")) && !principal.can_publish(&ch("room:lobby"))
    );
    assert!(!principal.can_subscribe(&ch("admin:x")));
}

/// Simultaneous handshakes naming a new `kid` share one refetch.
#[tokio::test]
async fn simultaneous_unknown_kids_cause_one_refetch() {
    let p = Provider::start(jwks(&["rsa-a"])).await;
    *p.delay.lock().unwrap() = Duration::from_millis(100);
    let k = keys(&p.url).with_refetch_interval(Duration::from_millis(200));
    k.load().await.unwrap();
    let v = Arc::new(verifier(k, None));
    *p.doc.lock().unwrap() = jwks(&["rsa-a", "rsa-b"]);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let rotated = token("rsa-b", Algorithm::RS256, claims("bo"));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (v, t) = (v.clone(), rotated.clone());
            tokio::spawn(async move { v.verify(&t).await.map(|p| p.sub) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "bo");
    }
    assert_eq!(p.hits(), 2, "one load, one shared refetch");
}
