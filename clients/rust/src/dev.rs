//! Dev tokens from wsfn-local's local-only `POST /_wsfn/token` (plain
//! HTTP/1.1 on loopback: no HTTP client library for one request).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) async fn token(ws_url: &str, user: &str, ttl: Duration) -> Result<String, String> {
    let host = ws_url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .filter(|h| !h.is_empty())
        .ok_or("dev tokens come from wsfn-local: a ws:// URL is needed")?;
    let body = serde_json::json!({
        "sub": user,
        "ttl": ttl.as_secs().max(1),
        "subscribe": ["*"],
        "publish": ["*"],
    })
    .to_string();
    let connect = tokio::net::TcpStream::connect(host);
    let mut s = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| format!("{host}: timed out"))?
        .map_err(|e| format!("{host}: {e}"))?;
    let req = format!(
        "POST /_wsfn/token HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut resp = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut resp))
        .await
        .map_err(|_| "dev token: timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let (head, body) = resp
        .split_once("\r\n\r\n")
        .ok_or("dev token: bad HTTP reply")?;
    if !head.starts_with("HTTP/1.1 200") {
        let status = head.lines().next().unwrap_or_default();
        return Err(format!("dev token: {status} {body}"));
    }
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    v["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "dev token: no token in the reply".into())
}
