//! One upgraded socket: frames in (routed to their functions), frames out
//! (the management API's pushes), closes from either side, idle and
//! maximum-duration timeouts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use wsfn::events::{self, ConnectionInfo};

use crate::connections::{Close, Outbound};
use crate::ids;

use super::{Gateway, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES};

/// What the rest of the gateway sends a socket task.
pub(super) struct Queues {
    pub(super) frames: mpsc::Receiver<Outbound>,
    pub(super) close: mpsc::UnboundedReceiver<Close>,
}

/// Writes queued frames until the queue closes or a write fails (returns
/// why). It runs apart from the reader and the timers, so a client that
/// stops reading blocks only this task: idle timeout, maximum duration,
/// DELETE @connections and shutdown still close the socket.
async fn write_loop<W>(
    sink: Arc<tokio::sync::Mutex<W>>,
    mut frames: mpsc::Receiver<Outbound>,
) -> String
where
    W: futures::Sink<Message, Error = WsError> + Unpin,
{
    while let Some(frame) = frames.recv().await {
        let msg = match frame {
            Outbound::Text(t) => Message::Text(t.into()),
            Outbound::Binary(b) => Message::Binary(b.into()),
        };
        if let Err(e) = sink.lock().await.send(msg).await {
            return e.to_string();
        }
    }
    "queue closed".into()
}

/// Drives one socket until it closes; returns the close code and reason for
/// `$disconnect`.
pub(super) async fn run_socket<S>(
    gw: &Arc<Gateway>,
    info: &ConnectionInfo,
    io: S,
    queues: Queues,
    last_active: Arc<AtomicU64>,
) -> (u16, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut config = WebSocketConfig::default();
    config.max_frame_size = Some(MAX_FRAME_BYTES);
    config.max_message_size = Some(MAX_MESSAGE_BYTES);
    // Small per-socket buffers: 10,000 idle sockets should not cost 2.5 GB.
    config.read_buffer_size = 8 * 1024;
    config.write_buffer_size = 0;
    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    let (sink, mut stream) = ws.split();
    let sink = Arc::new(tokio::sync::Mutex::new(sink));
    let mut writer = tokio::spawn(write_loop(sink.clone(), queues.frames));
    let mut close_rx = queues.close;
    let mut shutdown = gw.shutdown.subscribe();
    let hard_deadline = tokio::time::Instant::now() + gw.opts.max_duration;
    let mut idle_deadline = tokio::time::Instant::now() + gw.opts.idle_timeout;
    let going_away = || (1001, "Going away".to_string(), true);
    let (code, reason, send_close) = loop {
        tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    last_active.store(wsfn::time::now_millis(), Ordering::Relaxed);
                    idle_deadline = tokio::time::Instant::now() + gw.opts.idle_timeout;
                    spawn_route(gw.clone(), info.clone(), text.to_string());
                }
                Some(Ok(Message::Binary(_))) => break (1003, "Binary frames are not supported".to_string(), true),
                Some(Ok(Message::Close(frame))) => {
                    let (c, r) = frame.map_or((1005, String::new()), |f| (u16::from(f.code), f.reason.to_string()));
                    break (c, r, false);
                }
                Some(Ok(_)) => {}
                Some(Err(WsError::Capacity(_))) => break (1009, "Message too big".to_string(), true),
                Some(Err(e)) => break (1006, e.to_string(), false),
                None => break (1006, "Connection lost".to_string(), false),
            },
            cmd = close_rx.recv() => match cmd {
                Some((c, r)) => break (c, r, true),
                None => break going_away(),
            },
            why = &mut writer => break (1006, why.unwrap_or_else(|e| e.to_string()), false),
            _ = tokio::time::sleep_until(idle_deadline) => break going_away(),
            _ = tokio::time::sleep_until(hard_deadline) => break going_away(),
            _ = shutdown.changed() => break going_away(),
        }
    };
    // A writer stuck on a client that does not read is abandoned here.
    writer.abort();
    let bounded = Duration::from_secs(1);
    if send_close {
        let frame = Message::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.clone().into(),
        }));
        if let Ok(mut sink) = tokio::time::timeout(bounded, sink.lock()).await {
            let _ = tokio::time::timeout(bounded, sink.send(frame)).await;
        }
        // Give the client a moment to answer the close handshake (bounded).
        let _ = tokio::time::timeout(bounded, async {
            while let Some(Ok(m)) = stream.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    } else if let Ok(mut sink) = tokio::time::timeout(bounded, sink.lock()).await {
        let _ = tokio::time::timeout(bounded, sink.close()).await;
    }
    (code, reason)
}

/// Routes one text frame to its function (concurrently, as API Gateway does)
/// and answers like API Gateway when no route matches or the function fails.
fn spawn_route(gw: Arc<Gateway>, info: ConnectionInfo, body: String) {
    tokio::spawn(async move {
        let request_id = ids::request_id();
        let reply = |message: &str| {
            json!({"message": message, "connectionId": info.connection_id, "requestId": request_id})
                .to_string()
        };
        let Some(route) = gw.select_route(&body) else {
            if let Some(h) = gw.connections.get(&info.connection_id) {
                let _ = h.send(Outbound::Text(reply("Forbidden")));
            }
            return;
        };
        if let Some(mock) = gw.spec.mocks.get(&route) {
            let now = wsfn::time::now_millis();
            if let Some(frame) = gw.answer_mock(&route, mock, &info, &request_id, now) {
                if let Some(h) = gw.connections.get(&info.connection_id) {
                    let _ = h.send(Outbound::Text(frame));
                }
            }
            return;
        }
        let event = events::message_json(
            &info,
            &route,
            &body,
            &ids::message_id(),
            &request_id,
            wsfn::time::now_millis(),
        );
        if let Some(Err(_)) = gw.invoke(&route, &info.connection_id, event).await {
            if let Some(h) = gw.connections.get(&info.connection_id) {
                let _ = h.send(Outbound::Text(reply("Internal server error")));
            }
        }
    });
}
