//! A real HTTP hook target on loopback: records every request (body and
//! whether its signature verified) and answers with a test's function.
#![allow(dead_code)] // each test binary uses its own part

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The secret the tests configure (`HOOK_SECRET`).
pub(crate) const SECRET: &str = "hook-secret-0123456789";

/// What the server answers: status, body, and a delay before answering.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) delay: Duration,
}

impl Answer {
    pub(crate) fn json(v: Value) -> Self {
        Self {
            status: 200,
            body: v.to_string(),
            delay: Duration::ZERO,
        }
    }
}

type Respond = Arc<dyn Fn(&Value) -> Answer + Send + Sync>;

/// One received request.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) body: Value,
    pub(crate) signed: bool,
}

pub(crate) struct HookServer {
    pub(crate) url: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HookServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HookServer {
    pub(crate) async fn start(respond: impl Fn(&Value) -> Answer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let respond: Respond = Arc::new(respond);
        let log = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let (log, respond) = (log.clone(), respond.clone());
                tokio::spawn(async move {
                    let _ = serve(sock, log, respond).await;
                });
            }
        });
        Self {
            url,
            received,
            task,
        }
    }

    /// Requests so far, oldest first.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Requests of one hook.
    pub(crate) fn calls(&self, hook: &str) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|r| r.body["hook"] == hook)
            .map(|r| r.body)
            .collect()
    }
}

async fn serve(
    mut sock: tokio::net::TcpStream,
    log: Arc<Mutex<Vec<Received>>>,
    respond: Respond,
) -> std::io::Result<()> {
    // One request per connection (answered with `Connection: close`).
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let len: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = &buf[head_end..(head_end + len).min(buf.len())];
    let signed = match (header("x-wsfn-timestamp"), header("x-wsfn-signature")) {
        (Some(ts), Some(sig)) => ts
            .parse::<u64>()
            .is_ok_and(|t| wsfn::hooks::signature(SECRET.as_bytes(), t, body) == sig),
        _ => false,
    };
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    log.lock().unwrap().push(Received {
        body: json.clone(),
        signed,
    });
    let answer = respond(&json);
    tokio::time::sleep(answer.delay).await;
    let reply = format!(
        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
        answer.status,
        answer.body.len(),
        answer.body
    );
    sock.write_all(reply.as_bytes()).await?;
    sock.shutdown().await
}
