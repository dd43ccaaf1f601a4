//! Local-only developer endpoints: the demo app at `/` (static files from
//! `clients/`, compiled in), dev tokens signed with the functions' HS256
//! secret, and an unsigned twin of `DELETE @connections` for the demo's
//! "drop connection" button. None of this exists in the deployed stack, and
//! the token and drop endpoints answer loopback peers only.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::gateway::{self, Gateway};

/// What the developer endpoints need.
#[derive(Debug)]
pub struct Dev {
    /// The gateway (upgrades, open sockets).
    pub gw: Arc<Gateway>,
    /// Serve the demo app at `/`.
    pub demo: bool,
    /// How dev tokens are signed; `None` when the functions verify tokens
    /// with a public key or a JWKS (wsfn-local cannot sign those).
    pub tokens: Option<TokenIssuer>,
    /// The management API (its fault counters).
    pub management: Arc<crate::management::Surface>,
    /// The DynamoDB fault proxy, with `--fail-dynamodb`.
    pub dynamo_faults: Option<Arc<crate::dynamo_faults::FaultProxy>>,
    /// EventBridge's `PutEvents`.
    pub events: Arc<crate::events_api::EventsApi>,
}

/// The functions' HS256 secret and the `iss`/`aud` they require.
#[derive(Clone)]
pub struct TokenIssuer {
    /// HS256 secret.
    pub secret: String,
    /// `JWT_ISSUER`, put in the token when set.
    pub issuer: Option<String>,
    /// `JWT_AUDIENCE`, put in the token when set.
    pub audience: Option<String>,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

const INDEX: &str = include_str!("../../clients/demo/index.html");
const APP: &str = include_str!("../../clients/demo/app.js");
const STYLE: &str = include_str!("../../clients/demo/style.css");
const LIBRARY: &str = include_str!("../../clients/js/wsfn.js");
const CHANNEL: &str = include_str!("../../clients/js/channel.js");
const SEQUENCER: &str = include_str!("../../clients/js/sequencer.js");
const HEARTBEAT: &str = include_str!("../../clients/js/heartbeat.js");
const PUBLISH: &str = include_str!("../../clients/js/publish.js");
const ERRORS: &str = include_str!("../../clients/js/errors.js");
const BACKOFF: &str = include_str!("../../clients/js/backoff.js");
const TOKEN: &str = include_str!("../../clients/js/token.js");

fn file(kind: &'static str, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(text));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static(kind));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

fn status(code: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

fn is_upgrade(req: &Request) -> bool {
    req.headers().get_all(header::UPGRADE).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.to_ascii_lowercase().contains("websocket"))
    })
}

/// `GET /`: a WebSocket upgrade goes to the gateway; a plain GET gets the
/// demo app (unless `--no-demo`).
pub async fn root(
    State(dev): State<Arc<Dev>>,
    peer: ConnectInfo<SocketAddr>,
    req: Request,
) -> Response<Body> {
    if dev.demo && !is_upgrade(&req) {
        return file("text/html; charset=utf-8", INDEX);
    }
    gateway::upgrade(State(dev.gw.clone()), peer, req).await
}

/// `GET /demo/{file}`: the demo's assets and the client library (`clients/js`).
pub async fn asset(State(dev): State<Arc<Dev>>, Path(name): Path<String>) -> Response<Body> {
    match (dev.demo, name.as_str()) {
        (true, "app.js") => file("text/javascript; charset=utf-8", APP),
        (true, "style.css") => file("text/css; charset=utf-8", STYLE),
        (true, "wsfn.js") => file("text/javascript; charset=utf-8", LIBRARY),
        (true, "channel.js") => file("text/javascript; charset=utf-8", CHANNEL),
        (true, "sequencer.js") => file("text/javascript; charset=utf-8", SEQUENCER),
        (true, "heartbeat.js") => file("text/javascript; charset=utf-8", HEARTBEAT),
        (true, "publish.js") => file("text/javascript; charset=utf-8", PUBLISH),
        (true, "errors.js") => file("text/javascript; charset=utf-8", ERRORS),
        (true, "backoff.js") => file("text/javascript; charset=utf-8", BACKOFF),
        (true, "token.js") => file("text/javascript; charset=utf-8", TOKEN),
        _ => status(StatusCode::NOT_FOUND, json!({"message": "not found"})),
    }
}

/// What `POST /_wsfn/token` accepts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    sub: String,
    #[serde(default = "default_ttl")]
    ttl: u64,
    #[serde(default = "rooms")]
    subscribe: Vec<String>,
    #[serde(default = "rooms")]
    publish: Vec<String>,
    /// The member's public data (presence, `join`): an object ≤ 1 KB.
    #[serde(default)]
    info: Option<serde_json::Value>,
}

/// The request, checked as the functions would check the token it asks
/// for: a JSON object (serde would also read a struct from an array, by
/// position), a `sub` the handshake accepts, patterns that parse.
fn parse_token_request(body: &[u8]) -> Result<TokenRequest, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if !value.is_object() {
        return Err(
            "the body must be a JSON object: {\"sub\", \"ttl\"?, \"subscribe\"?, \"publish\"?, \"info\"?}"
                .into(),
        );
    }
    let req: TokenRequest = serde_json::from_value(value).map_err(|e| e.to_string())?;
    if req.sub.is_empty() || req.sub.len() > wsfn::auth::MAX_SUB_BYTES {
        return Err("sub must be 1-256 bytes".into());
    }
    if req.sub.starts_with('@') {
        return Err("sub must not begin with `@` (reserved for the backend)".into());
    }
    for p in req.subscribe.iter().chain(&req.publish) {
        wsfn::channel::Pattern::parse(p).map_err(|e| format!("`{p}`: {e}"))?;
    }
    if let Some(info) = &req.info {
        if !info.is_object() || info.to_string().len() > wsfn::auth::MAX_INFO_BYTES {
            return Err("info must be a JSON object of at most 1024 bytes".into());
        }
    }
    Ok(req)
}

fn default_ttl() -> u64 {
    3600
}

fn rooms() -> Vec<String> {
    vec!["room:*".into()]
}

/// The secret the demo's publish hook is signed with.
pub const DEMO_HOOK_SECRET: &str = "wsfn-local-demo-hook-secret";
/// The demo room whose publishes pass the demo hook.
pub const DEMO_HOOKED_ROOM: &str = "room:moderated";
/// Words the demo hook masks.
const DEMO_BANNED: [&str; 3] = ["darn", "heck", "drat"];

/// With the demo on and no hooks configured anywhere (environment or
/// template), the functions get a publish hook on [`DEMO_HOOKED_ROOM`]
/// served by this gateway ([`demo_hook`]): the demo shows the
/// application's code in the loop without any code of yours.
pub fn configure_demo_hook(
    environment: &mut std::collections::HashMap<String, String>,
    spec: &crate::template::ApiSpec,
    addr: SocketAddr,
) {
    let set = |k: &str| {
        environment.contains_key(k)
            || std::env::var(k).is_ok_and(|v| !v.is_empty())
            || spec
                .functions
                .values()
                .any(|f| f.env.get(k).is_some_and(|v| !v.is_empty()))
    };
    if set("HOOKS") {
        return;
    }
    let host = if addr.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    let url = format!(
        "http://{}/_wsfn/demo-hook",
        SocketAddr::new(host, addr.port())
    );
    let hooks = json!({"publish": {"target": url, "channels": [DEMO_HOOKED_ROOM]}});
    environment.insert("HOOKS".into(), hooks.to_string());
    environment.insert("HOOK_SECRET".into(), DEMO_HOOK_SECRET.into());
}

/// `POST /_wsfn/demo-hook`: the demo's publish hook (signed requests from
/// loopback only): masks a few words, as a moderation hook would.
pub async fn demo_hook(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response<Body> {
    if let Some(refused) = loopback_only(&peer) {
        return refused;
    }
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ts: u64 = header("x-wsfn-timestamp").parse().unwrap_or(0);
    if wsfn::hooks::signature(DEMO_HOOK_SECRET.as_bytes(), ts, &body) != header("x-wsfn-signature")
    {
        return status(
            StatusCode::UNAUTHORIZED,
            json!({"message": "bad signature"}),
        );
    }
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some(text) = request["data"]["text"].as_str() else {
        return status(StatusCode::OK, json!({"allow": true}));
    };
    let masked = text
        .split(' ')
        .map(|w| {
            let bare = w
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase();
            if DEMO_BANNED.contains(&bare.as_str()) {
                "*".repeat(w.chars().count())
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mut data = request["data"].clone();
    data["text"] = masked.into();
    status(StatusCode::OK, json!({"allow": true, "data": data}))
}

fn loopback_only(peer: &SocketAddr) -> Option<Response<Body>> {
    (!peer.ip().is_loopback()).then(|| {
        status(
            StatusCode::FORBIDDEN,
            json!({"message": "wsfn-local's developer endpoints answer loopback clients only"}),
        )
    })
}

/// `POST /_wsfn/token` `{"sub", "ttl"?, "subscribe"?, "publish"?, "info"?}`: a dev
/// token as `wsfn-local token` prints it, `{"token", "exp"}`.
pub async fn token(
    State(dev): State<Arc<Dev>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response<Body> {
    if let Some(refused) = loopback_only(&peer) {
        return refused;
    }
    let Some(issuer) = &dev.tokens else {
        return status(
            StatusCode::NOT_IMPLEMENTED,
            json!({"message": "the functions verify tokens with a public key or JWKS; wsfn-local can only sign HS256 dev tokens (unset JWT_PUBLIC_KEY/JWT_JWKS_URL)"}),
        );
    };
    let req = match parse_token_request(&body) {
        Ok(r) => r,
        Err(message) => return status(StatusCode::BAD_REQUEST, json!({ "message": message })),
    };
    if !(1..=86_400).contains(&req.ttl) {
        return status(
            StatusCode::BAD_REQUEST,
            json!({"message": "ttl must be 1-86400 seconds"}),
        );
    }
    let exp = wsfn::time::now_secs() + req.ttl;
    let claims = wsfn::auth::TokenClaims {
        sub: req.sub,
        exp,
        subscribe: req.subscribe,
        publish: req.publish,
        rate: None,
        nbf: None,
        iss: issuer.issuer.clone(),
        aud: issuer.audience.clone(),
        // Issued now: a `revoke` refuses it only with a later `before`.
        iat: Some(wsfn::time::now_secs()),
        info: req.info,
    };
    match wsfn::auth::sign_hs256(&issuer.secret, &claims) {
        Ok(token) => status(StatusCode::OK, json!({"token": token, "exp": exp})),
        Err(e) => status(StatusCode::INTERNAL_SERVER_ERROR, json!({"message": e})),
    }
}

/// `GET /_wsfn/stats`: what the injected faults did (`dropped_deliveries`,
/// `throttled`), how many sockets are open, and how many times each function
/// was invoked (`invocations`, by logical id: routes and the Invoke API).
pub async fn stats(State(dev): State<Arc<Dev>>) -> Response<Body> {
    use std::sync::atomic::Ordering::Relaxed;
    status(
        StatusCode::OK,
        json!({
            "dropped_deliveries": dev.management.dropped.load(Relaxed),
            "throttled": dev.management.throttled.load(Relaxed),
            "connections": dev.gw.connections.len(),
            "invocations": dev.gw.invocations(),
            "dynamodb_faults": dev.dynamo_faults.as_ref().map(|p| p.counts.json()),
        }),
    )
}

/// `DELETE /_wsfn/connections/{id}`: closes the socket as `DELETE
/// @connections/{id}` does (1000), without SigV4 — for the demo's "drop
/// connection" button, which cannot sign.
pub async fn drop_connection(
    State(dev): State<Arc<Dev>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Response<Body> {
    if let Some(refused) = loopback_only(&peer) {
        return refused;
    }
    match dev.gw.connections.get(&id) {
        Some(h) if h.close(1000, "Connection Closed Normally") => {
            status(StatusCode::OK, json!({"closed": id}))
        }
        _ => status(
            StatusCode::GONE,
            json!({"message": "no such connection", "connection": id}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_token_request;

    #[test]
    fn token_requests_are_objects_with_valid_fields() {
        let ok = parse_token_request(br#"{"sub":"alice","ttl":60}"#).unwrap();
        assert_eq!((ok.sub.as_str(), ok.ttl), ("alice", 60));
        assert_eq!(ok.subscribe, vec!["room:*".to_string()]);
        for bad in [
            r#"["x", 60, ["*"], ["*"]]"#,
            r#""alice""#,
            "null",
            r#"{"sub":""}"#,
            r#"{"sub":"@server"}"#,
            r#"{"sub":"a","subscribe":["bad pattern"]}"#,
            r#"{"sub":"a","extra":1}"#,
            r#"{"sub":"a","ttl":-1}"#,
        ] {
            assert!(parse_token_request(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
