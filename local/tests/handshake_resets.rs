//! A client that resets during `$connect`: API Gateway runs the integration
//! to completion and, the connection it admitted being lost, closes it with
//! `$disconnect` — so after hundreds of connect/reset cycles nothing of any
//! connection is left, on both stores (in runtime-api mode as well).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use support::{dynamodb_opts, opts, token, Local};
use tokio::io::AsyncWriteExt;
use wsfn_local::Options;

async fn resets_leave_nothing(o: Options, cycles: usize) {
    let local = Local::start(o).await;
    let addr = local.running().addr;
    let t = token("resetter", &["room:*"], &["room:*"]);
    for i in 0..cycles {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer {t}\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        // Gone at once, or a moment into $connect.
        if i % 3 != 0 {
            tokio::time::sleep(Duration::from_millis((i % 7) as u64)).await;
        }
        // A reset (RST), not a polite close: the client is simply gone.
        #[allow(deprecated)]
        let _ = s.set_linger(Some(Duration::ZERO));
        drop(s);
    }
    // Every admitted connection is closed again; within the handshake grace
    // nothing is left.
    let started = Instant::now();
    let mut left = usize::MAX;
    while started.elapsed() < Duration::from_secs(30) {
        left = local.running().connection_items().await.unwrap();
        if left == 0 && local.running().gateway.connections.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        left,
        0,
        "items of reset handshakes left after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn resets_during_connect_leave_nothing_embedded() {
    resets_leave_nothing(opts(), 300).await;
}

#[tokio::test]
async fn resets_during_connect_leave_nothing_dynamodb_local() {
    resets_leave_nothing(dynamodb_opts(), 300).await;
}
