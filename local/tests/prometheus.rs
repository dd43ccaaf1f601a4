//! `GET /metrics`: the functions' EMF metrics as Prometheus text, under the
//! same names, after a scripted session through real sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::{client, opts, recv_type, send, token, Local};

#[tokio::test]
async fn metrics_endpoint_counts_the_session() {
    let local = Local::start(opts()).await;
    let (mut a, _) = client(&local.url, &token("ann", &["room:*"], &["room:*"])).await;
    let (mut b, _) = client(&local.url, &token("bob", &["room:*"], &[])).await;
    send(&mut b, json!({"action":"subscribe","channel":"room:m"})).await;
    recv_type(&mut b, "subscribed").await;
    send(
        &mut a,
        json!({"action":"publish","channel":"room:m","data":1}),
    )
    .await;
    recv_type(&mut a, "ack").await;
    recv_type(&mut b, "message").await;
    assert_eq!(
        support::open(&local.url, &[("Authorization", "Bearer bad")])
            .await
            .err(),
        Some(401)
    );
    let addr = local.running().addr;
    // The metrics line of the publish is flushed after its replies: poll briefly.
    let mut text = String::new();
    for _ in 0..50 {
        text = http_get(addr, "/metrics").await;
        if text.contains("wsfn_Delivered{") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let value = |series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert_eq!(value("wsfn_Connected{function=\"connect\"}"), 2.0);
    assert_eq!(value("wsfn_RejectedToken{function=\"connect\"}"), 1.0);
    assert_eq!(value("wsfn_Delivered{function=\"message\""), 1.0);
    assert!(value("wsfn_FanoutMs_count{function=\"message\"") >= 1.0);
    assert!(local.running().metrics.summary().contains("Delivered 1"));
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
}
