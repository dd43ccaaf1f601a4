//! Opening a socket: a fresh token when the held one is missing or near its
//! `exp`, the token as a `bearer.` subprotocol, bounded by the request
//! timeout.

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::Actor;
use crate::util::{now_secs, token_exp};

/// An open client socket.
pub(super) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Actor {
    pub(super) async fn connect(&mut self) -> Result<Socket, String> {
        let lead = self.opts.refresh_lead.as_secs();
        let stale = match &self.token {
            None => true,
            Some(t) => token_exp(t).is_some_and(|exp| exp <= now_secs() + lead),
        };
        if stale {
            let t = self
                .opts
                .token
                .fetch()
                .await
                .map_err(|e| format!("token: {e}"))?;
            self.token = Some(t);
        }
        let token = self.token.clone().unwrap_or_default();
        let mut req = self
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| e.to_string())?;
        let protocols = HeaderValue::from_str(&format!("wsfn.v1, bearer.{token}"))
            .map_err(|e| e.to_string())?;
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", protocols);
        let timeout = self.opts.request_timeout;
        match tokio::time::timeout(timeout, tokio_tungstenite::connect_async(req)).await {
            Ok(Ok((ws, _))) => Ok(ws),
            Ok(Err(e)) => {
                // A refused handshake (401, 429, ...): the next try gets a fresh token.
                self.token = None;
                Err(format!("connect: {e}"))
            }
            Err(_) => Err("connect: timed out".into()),
        }
    }
}
