//! wsfn's SigV4 for management API calls signs exactly as the `aws-sigv4`
//! crate (the SDK's signer) does for the same request: same canonical URI
//! for ids with `=`, `+`, `/`, `-`, `_`, with and without a session token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, UNIX_EPOCH};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use wsfn::sigv4::{amz_date, authorization, sha256_hex, uri_encode, Request, SigningKey};

fn reference(host: &str, path: &str, secs: u64, token: Option<&str>, body: &[u8]) -> String {
    let creds = aws_credential_types::Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        token.map(str::to_string),
        None,
        "test",
    );
    let identity: Identity = creds.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("eu-west-1")
        .name("execute-api")
        .time(UNIX_EPOCH + Duration::from_secs(secs))
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let req = SignableRequest::new(
        "POST",
        format!("https://{host}{path}"),
        [("host", host)].into_iter(),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (_, signature) = sign(req, &params).unwrap().into_parts();
    signature
}

#[test]
fn signs_like_the_sdk() {
    let host = "abc123.execute-api.eu-west-1.amazonaws.com";
    let secs = 1_795_887_343;
    let date = amz_date(secs);
    let key = SigningKey::derive(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        &date[..8],
        "eu-west-1",
        "execute-api",
    );
    let body = br#"{"type":"message","seq":1}"#;
    for id in ["L0SM9cOFvHcCIhw=", "GKrc-cWoIAMCJvA=", "a+b/c_d=", "plain"] {
        for token in [None, Some("FwoGZXIvYXdzEJr//////////wEaD")] {
            let path = format!("/prod/@connections/{}", uri_encode(id));
            let ours = authorization(
                &key,
                "AKIDEXAMPLE",
                &Request {
                    method: "POST",
                    host,
                    path: &path,
                    amz_date: &date,
                    session_token: token,
                    body_sha256: &sha256_hex(body),
                },
            );
            let theirs = reference(host, &path, secs, token, body);
            assert!(
                ours.ends_with(&format!("Signature={theirs}")),
                "{id} token={token:?}: {ours} vs {theirs}"
            );
        }
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYYMMDDTHHMMSSZ` as seconds since the Unix epoch.
fn secs_of(amz: &str) -> u64 {
    let n = |a: usize, b: usize| amz[a..b].parse::<i64>().unwrap();
    let days = days_from_civil(n(0, 4), n(4, 6), n(6, 8));
    (days * 86_400 + n(9, 11) * 3600 + n(11, 13) * 60 + n(13, 15)) as u64
}

/// One captured request: path, headers (lower-case names), body.
type Captured = (String, Vec<(String, String)>, Vec<u8>);

/// A keep-alive HTTP/1.1 server answering 200 to everything and keeping each request.
async fn capture_server() -> (String, tokio::sync::mpsc::UnboundedReceiver<Captured>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(sock);
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split(' ').nth(1).unwrap_or_default().to_string();
                    let mut headers = Vec::new();
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).await.unwrap();
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        let (k, v) = h.split_once(':').unwrap();
                        headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
                    }
                    let len: usize = headers
                        .iter()
                        .find(|(k, _)| k == "content-length")
                        .map(|(_, v)| v.parse().unwrap())
                        .unwrap_or(0);
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).await.unwrap();
                    tx.send((path, headers, body)).unwrap();
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    r.get_mut().write_all(ok).await.unwrap();
                }
            });
        }
    });
    (host, rx)
}

#[tokio::test]
async fn the_pusher_signs_every_payload_it_sends() {
    use wsfn::aws_config::{BehaviorVersion, Region, SdkConfig};
    use wsfn::push::Pusher;
    let (host, mut rx) = capture_server().await;
    let creds = aws_credential_types::Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
        None,
        "test",
    );
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .build();
    let pusher = wsfn::push::SignedPusher::new(&sdk, &format!("http://{host}/prod")).unwrap();
    // The same payload twice in a row (a fan-out), another, then the first again.
    let payloads: [&[u8]; 4] = [
        b"{\"seq\":1}",
        b"{\"seq\":1}",
        b"{\"seq\":2}",
        b"{\"seq\":1}",
    ];
    for (i, p) in payloads.iter().enumerate() {
        pusher.post(&format!("conn{i}="), p).await.unwrap();
    }
    for (i, p) in payloads.iter().enumerate() {
        let (path, headers, body) = rx.recv().await.unwrap();
        assert_eq!(
            path,
            format!("/prod/@connections/{}", uri_encode(&format!("conn{i}=")))
        );
        assert_eq!(&body, p, "request {i} carries its own payload");
        let header = |k: &str| headers.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(header("host"), host);
        let secs = secs_of(&header("x-amz-date"));
        let theirs = reference(&host, &path, secs, None, &body);
        assert!(
            header("authorization").ends_with(&format!("Signature={theirs}")),
            "request {i}: {} vs {theirs}",
            header("authorization")
        );
    }
}
