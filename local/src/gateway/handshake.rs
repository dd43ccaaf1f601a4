//! The WebSocket handshake as API Gateway does it: `$connect` runs to
//! completion, its status decides the upgrade, its headers pass through.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use wsfn::events::{self, ConnectionInfo};

use crate::connections::{Handle, OUTBOUND_QUEUE};
use crate::ids;

use super::socket::{run_socket, Queues};
use super::Gateway;

/// API Gateway sends header names as the client wrote them; hyper lowercases
/// them, so restore the conventional capitalisation.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| match part {
            "websocket" => "WebSocket".to_string(),
            p => {
                let mut c = p.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(text.to_string()));
    *r.status_mut() = status;
    r
}

/// `GET /` with an upgrade: runs `$connect`, then upgrades or rejects.
pub async fn upgrade(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
) -> Response<Body> {
    let h = req.headers();
    let has_token = |name: header::HeaderName, token: &str| {
        h.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|p| p.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        return plain(
            StatusCode::UPGRADE_REQUIRED,
            "wsfn-local serves WebSocket upgrades on /",
        );
    }
    let Some(key) = h
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| derive_accept_key(k.as_bytes()))
    else {
        return plain(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key");
    };
    if h.get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        != Some("13")
    {
        return plain(StatusCode::BAD_REQUEST, "unsupported Sec-WebSocket-Version");
    }
    let headers: Vec<(String, String)> = h
        .iter()
        .filter_map(|(k, v)| Some((title_case(k.as_str()), v.to_str().ok()?.to_string())))
        .collect();
    let user_agent = h
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();

    let id = ids::connection_id();
    let connected_at = wsfn::time::now_millis();
    let source_ip = peer.ip().to_string();
    let info = gw.info(&id, connected_at, &source_ip);
    let mut response = Response::new(Body::empty());
    let event = events::connect_json(&info, &headers, &query, &ids::request_id(), connected_at);
    let (result, taken) = connect_to_completion(&gw, &info, event).await;
    if let Some(result) = result {
        match result {
            Ok(r) if (200..300).contains(&r.status_code) => {
                for (k, v) in &r.headers {
                    response.headers_mut().insert(k.clone(), v.clone());
                }
            }
            Ok(r) => {
                let status = u16::try_from(r.status_code)
                    .ok()
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return plain(status, status.canonical_reason().unwrap_or_default());
            }
            Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
        }
    }
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    let (close_tx, close_rx) = mpsc::unbounded_channel();
    let last_active = Arc::new(AtomicU64::new(connected_at));
    gw.connections.insert(
        id.clone(),
        Handle {
            tx,
            close: close_tx,
            connected_at,
            last_active: last_active.clone(),
            source_ip: source_ip.clone(),
            user_agent,
        },
    );
    gw.active.fetch_add(1, Ordering::SeqCst);
    let on_upgrade = hyper::upgrade::on(&mut req);
    let gw2 = gw.clone();
    tokio::spawn(async move {
        let (code, reason) = match on_upgrade.await {
            Ok(upgraded) => {
                let queues = Queues {
                    frames: rx,
                    close: close_rx,
                };
                run_socket(&gw2, &info, TokioIo::new(upgraded), queues, last_active).await
            }
            Err(e) => (1006, format!("upgrade failed: {e}")),
        };
        gw2.connections.remove(&info.connection_id);
        let event = events::disconnect_json(
            &info,
            code,
            &reason,
            &ids::request_id(),
            wsfn::time::now_millis(),
        );
        gw2.console
            .note(&format!("{} closed {code} {reason}", info.connection_id));
        gw2.invoke("$disconnect", &info.connection_id, event).await;
        gw2.session_done();
    });
    // The socket task owns the connection now (its `$disconnect` included).
    let _ = taken.send(());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let rh = response.headers_mut();
    rh.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    rh.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&key) {
        rh.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    response
}

/// Runs `$connect` as API Gateway does: to completion, whether or not the
/// client is still waiting (a Lambda invocation is never cancelled). "Until
/// execution of the integration associated with the $connect route is
/// completed, the upgrade request is pending" (API Gateway developer guide,
/// "$connect and $disconnect routes"): a client that leaves meanwhile leaves
/// a connection its function admitted; API Gateway then closes it, and its
/// `$disconnect` runs (1006) as for any lost connection — so nothing it
/// wrote is left. Returns the result, and a sender the caller fires once its
/// socket task owns the connection; if the caller is dropped first (the
/// client went away), the connection is closed here.
async fn connect_to_completion(
    gw: &Arc<Gateway>,
    info: &ConnectionInfo,
    event: Value,
) -> (
    Option<Result<ApiGatewayProxyResponse, String>>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let (taken_tx, taken_rx) = tokio::sync::oneshot::channel::<()>();
    let (gw2, info2) = (gw.clone(), info.clone());
    // Counted until this task ends (the socket, if upgraded, counts itself).
    gw.active.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        let result = gw2.invoke("$connect", &info2.connection_id, event).await;
        let admitted = matches!(&result, Some(Ok(r)) if (200..300).contains(&r.status_code));
        let _ = done_tx.send(result);
        if admitted && taken_rx.await.is_err() {
            gw2.console.note(&format!(
                "{} left during $connect; closing the connection its function admitted",
                info2.connection_id
            ));
            let event = events::disconnect_json(
                &info2,
                1006,
                "Connection lost before the upgrade",
                &ids::request_id(),
                wsfn::time::now_millis(),
            );
            gw2.invoke("$disconnect", &info2.connection_id, event).await;
        }
        gw2.session_done();
    });
    let result = done_rx
        .await
        .unwrap_or(Some(Err("$connect task failed".into())));
    (result, taken_tx)
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_case() {
        assert_eq!(
            super::title_case("sec-websocket-protocol"),
            "Sec-WebSocket-Protocol"
        );
        assert_eq!(super::title_case("x-forwarded-for"), "X-Forwarded-For");
        assert_eq!(super::title_case("host"), "Host");
    }
}
