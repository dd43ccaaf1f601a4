//! `JWT_SECRET_ARN`: the HS256 secret read from Secrets Manager at cold
//! start, through the real SDK client against a local stand-in that answers
//! like the service (JSON 1.1), and the start-up errors that name the variable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wsfn::bootstrap::resolve_secret;
use wsfn::config::{Config, ConfigError};

/// Serves one request with `status` and `body`; returns what was asked.
async fn stand_in(status: &str, body: &str) -> (String, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (status, body) = (status.to_string(), body.to_string());
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = sock.read(&mut buf).await.unwrap();
            req.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&req).to_string();
            if let Some(head_end) = text.find("\r\n\r\n") {
                let len = text[..head_end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if req.len() >= head_end + 4 + len {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        let reply = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        sock.write_all(reply.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&req).to_string()
    });
    (url, task)
}

async fn sdk(url: &str) -> wsfn::aws_config::SdkConfig {
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    wsfn::aws_config::defaults(wsfn::aws_config::BehaviorVersion::latest())
        .region(wsfn::aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .load()
        .await
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:wsfn-jwt-AbCdEf";

#[tokio::test]
async fn the_secret_is_read_once_at_cold_start() {
    let (url, asked) = stand_in(
        "200 OK",
        r#"{"ARN":"x","Name":"wsfn-jwt","SecretString":"from-secrets-manager-0123456789"}"#,
    )
    .await;
    let mut e = env(&[("TABLE_NAME", "t"), ("JWT_SECRET_ARN", ARN)]);
    resolve_secret(&mut e, &sdk(&url).await).await.unwrap();
    let request = asked.await.unwrap();
    assert!(
        request.contains("secretsmanager.GetSecretValue"),
        "{request}"
    );
    assert!(request.contains(ARN), "asks for that secret: {request}");
    assert_eq!(e["JWT_SECRET"], "from-secrets-manager-0123456789");
    assert!(!e.contains_key("JWT_SECRET_ARN"));
    // The configuration verifies tokens signed with it.
    let config = Config::from_map(&e).unwrap();
    let token = wsfn::testkit::token("from-secrets-manager-0123456789", "alice", &[], &[]);
    assert_eq!(config.verifier.verify(&token).await.unwrap().sub, "alice");
}

#[tokio::test]
async fn an_unreadable_secret_names_the_variable() {
    let (url, _) = stand_in(
        "400 Bad Request",
        r#"{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}"#,
    )
    .await;
    let mut e = env(&[("TABLE_NAME", "t"), ("JWT_SECRET_ARN", ARN)]);
    match resolve_secret(&mut e, &sdk(&url).await).await {
        Err(ConfigError::Invalid { var, reason }) => {
            assert_eq!(var, "JWT_SECRET_ARN");
            assert!(reason.contains("ResourceNotFoundException"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn secret_and_arn_together_are_refused() {
    let mut e = env(&[("JWT_SECRET", "s"), ("JWT_SECRET_ARN", ARN)]);
    let sdk = sdk("http://127.0.0.1:9").await;
    assert!(matches!(
        resolve_secret(&mut e, &sdk).await,
        Err(ConfigError::Invalid {
            var: "JWT_SECRET_ARN",
            ..
        })
    ));
}
