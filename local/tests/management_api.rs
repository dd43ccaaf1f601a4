//! The @connections API, reached by the real aws-sdk-apigatewaymanagement
//! client, with and without the `/{stage}` prefix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use aws_sdk_apigatewaymanagement::primitives::Blob;
use support::*;

#[tokio::test]
async fn post_get_delete_with_and_without_stage() {
    let local = Local::start(opts()).await;
    let (mut ws, id) = client(&local.url, &token("alice", &[], &[])).await;
    assert!(id.contains('='), "exercises URL-encoding of ids: {id}");
    for with_stage in [true, false] {
        let m = local.management(with_stage);
        m.post_to_connection()
            .connection_id(&id)
            .data(Blob::new(format!(r#"{{"hello":{with_stage}}}"#)))
            .send()
            .await
            .unwrap();
        assert_eq!(recv(&mut ws).await["hello"], with_stage);
        let info = m.get_connection().connection_id(&id).send().await.unwrap();
        assert!(info.connected_at().is_some());
        assert!(info.last_active_at().is_some());
        assert_eq!(info.identity().unwrap().source_ip(), Some("127.0.0.1"));
    }
    let m = local.management(true);
    m.delete_connection()
        .connection_id(&id)
        .send()
        .await
        .unwrap();
    closed(&mut ws).await;
    local.disconnect_event(&id).await;
    let e = m
        .post_to_connection()
        .connection_id(&id)
        .data(Blob::new("late"))
        .send()
        .await
        .unwrap_err();
    assert!(e.as_service_error().unwrap().is_gone_exception(), "{e:?}");
}

#[tokio::test]
async fn unknown_connection_is_gone_and_large_payload_is_413() {
    let local = Local::start(opts()).await;
    let m = local.management(true);
    let e = m
        .post_to_connection()
        .connection_id("nope0000000000=")
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert!(e.as_service_error().unwrap().is_gone_exception());
    let e = m
        .get_connection()
        .connection_id("nope0000000000=")
        .send()
        .await
        .unwrap_err();
    assert!(e.as_service_error().unwrap().is_gone_exception());
    let e = m
        .delete_connection()
        .connection_id("nope0000000000=")
        .send()
        .await
        .unwrap_err();
    assert!(e.as_service_error().unwrap().is_gone_exception());
    let (_ws, id) = client(&local.url, &token("alice", &[], &[])).await;
    let e = m
        .post_to_connection()
        .connection_id(&id)
        .data(Blob::new(vec![b'x'; 128 * 1024 + 1]))
        .send()
        .await
        .unwrap_err();
    assert!(
        e.as_service_error()
            .unwrap()
            .is_payload_too_large_exception(),
        "{e:?}"
    );
    // Exactly 128 KB is accepted.
    m.post_to_connection()
        .connection_id(&id)
        .data(Blob::new(vec![b'x'; 128 * 1024]))
        .send()
        .await
        .unwrap();
}

/// An unsigned management call is refused with 403, as API Gateway does:
/// the functions' pushes in every other test are signed (the lean SigV4
/// pusher and the SDK client both pass).
#[tokio::test]
async fn unsigned_calls_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let local = Local::start(opts()).await;
    let (_ws, id) = client(&local.url, &token("ann", &[], &[])).await;
    let mut s = tokio::net::TcpStream::connect(local.running().addr)
        .await
        .unwrap();
    let path = format!("/local/@connections/{}", wsfn::sigv4::uri_encode(&id));
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 403"), "{out}");
    assert!(out.contains("Missing Authentication Token"), "{out}");
}
