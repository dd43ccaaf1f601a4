//! The task that owns the socket and does all I/O: connects (full-jitter
//! backoff, `connect.rs`), pings when idle (`heartbeat.rs`), times requests
//! out, refreshes the token, and hands frames and ticks to the state
//! machines (`channels.rs`, `publishes.rs`), performing what they return
//! (`react.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as Ws;

mod connect;
mod react;

use crate::channels::Channels;
use crate::heartbeat::Heartbeat;
use crate::out::Pending;
use crate::publishes::Publishes;
use crate::util::{backoff, now_secs, token_exp};
use crate::{Cmd, Error, Event, Options, State};

/// The heartbeat frame. API Gateway answers it itself and cannot echo an
/// `id`: the pong is recognised by its type (one ping is out at a time).
pub(crate) const PING: &str = r#"{"action":"ping"}"#;

/// What connects the actor to its handles.
pub(crate) struct Links {
    pub(crate) rx: mpsc::UnboundedReceiver<Cmd>,
    pub(crate) tx: mpsc::WeakUnboundedSender<Cmd>,
    pub(crate) state: watch::Sender<State>,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) connection_id: Arc<Mutex<Option<String>>>,
}

pub(crate) struct Actor {
    pub(crate) url: String,
    pub(crate) opts: Options,
    pub(crate) links: Links,
    pub(crate) token: Option<String>,
    pub(crate) channels: Channels,
    pub(crate) publishes: Publishes,
    pub(crate) pending: HashMap<String, (Pending, Instant)>,
    pub(crate) out: Vec<String>,
    pub(crate) next_request: u64,
    pub(crate) attempt: u32,
    pub(crate) closed: bool,
    /// The socket is open (frames can be sent).
    pub(crate) open: bool,
    /// Open and the first frame (the pong) came back.
    pub(crate) connected: bool,
    /// Wake from a reconnect backoff at once (the app said the network is back).
    pub(crate) wake: bool,
    /// Leave this socket (dead, `reconnect` frame, refused token); the delay before the next.
    pub(crate) leave: Option<Duration>,
    pub(crate) heartbeat: Heartbeat,
    pub(crate) next_sync: Instant,
    pub(crate) syncs: u64,
    pub(crate) stable_at: Option<Instant>,
    pub(crate) refresh_at: Option<Instant>,
}

impl Actor {
    pub(crate) fn new(url: String, opts: Options, links: Links) -> Self {
        let now = Instant::now();
        let heartbeat = Heartbeat::new(opts.ping_interval, opts.pong_timeout, now);
        let channels = Channels::new(opts.gap_wait);
        let publishes = Publishes::new(opts.publish_timeout, opts.backoff_base, opts.backoff_cap);
        Self {
            url,
            opts,
            links,
            token: None,
            channels,
            publishes,
            pending: HashMap::new(),
            out: Vec::new(),
            next_request: 0,
            attempt: 0,
            closed: false,
            open: false,
            connected: false,
            wake: false,
            leave: None,
            heartbeat,
            next_sync: now,
            syncs: 0,
            stable_at: None,
            refresh_at: None,
        }
    }

    pub(crate) fn emit(&self, e: Event) {
        let _ = self.links.events.send(e);
    }

    fn set_state(&self, s: State) {
        let changed = self.links.state.send_if_modified(|cur| {
            let changed = *cur != s && *cur != State::Closed;
            if changed {
                *cur = s;
            }
            changed
        });
        if changed {
            self.emit(Event::State(s));
        }
    }

    pub(crate) async fn run(mut self) {
        while !self.closed {
            self.set_state(State::Connecting);
            let delay = match self.connect().await {
                Ok(ws) => {
                    self.session(ws).await;
                    self.leave.take().unwrap_or_else(|| self.next_backoff())
                }
                Err(e) => {
                    self.emit(Event::Error(e));
                    self.next_backoff()
                }
            };
            if self.closed {
                break;
            }
            self.set_state(State::Disconnected);
            let until = Instant::now() + delay;
            while !self.closed {
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => break,
                    cmd = self.links.rx.recv() => match cmd {
                        Some(c) => self.command(c),
                        None => self.closed = true,
                    },
                }
                self.publishes.expire(Instant::now());
                if std::mem::take(&mut self.wake) {
                    break;
                }
            }
        }
        self.set_state(State::Closed);
        self.publishes.close();
        self.channels.close();
    }

    pub(crate) fn next_backoff(&mut self) -> Duration {
        let d = backoff(self.attempt, self.opts.backoff_base, self.opts.backoff_cap);
        self.attempt = self.attempt.saturating_add(1);
        d
    }

    async fn session(&mut self, ws: connect::Socket) {
        let (mut sink, mut stream) = ws.split();
        self.open = true;
        self.wake = false;
        // A ping at once: its pong names the connection.
        let now = Instant::now();
        self.heartbeat = Heartbeat::new(self.opts.ping_interval, self.opts.pong_timeout, now);
        self.heartbeat.ping_now(now);
        self.out.push(PING.to_string());
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            for f in std::mem::take(&mut self.out) {
                if sink.send(Ws::text(f)).await.is_err() {
                    self.leave = None;
                    return self.disconnected();
                }
            }
            if self.closed || self.leave.is_some() {
                let _ = sink.send(Ws::Close(None)).await;
                return self.disconnected();
            }
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(Ok(Ws::Text(t))) => self.on_frame(t.as_str()),
                    Some(Ok(Ws::Close(_))) | Some(Err(_)) | None => return self.disconnected(),
                    Some(Ok(_)) => {}
                },
                cmd = self.links.rx.recv() => match cmd {
                    Some(c) => self.command(c),
                    None => self.closed = true,
                },
                _ = tick.tick() => self.tick(),
            }
        }
    }

    fn disconnected(&mut self) {
        self.open = false;
        self.connected = false;
        self.stable_at = None;
        self.refresh_at = None;
        self.out.clear();
        *self
            .links
            .connection_id
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
        for (_, (p, _)) in std::mem::take(&mut self.pending) {
            self.abandon(p, Error::Disconnected);
        }
        self.channels.disconnected();
    }

    /// A request that will get no reply (disconnected or timed out).
    pub(crate) fn abandon(&mut self, p: Pending, e: Error) {
        match p {
            Pending::User(done) => {
                let _ = done.send(Err(e));
            }
            Pending::Publish { key } => self.publishes.abandoned(key),
            Pending::Subscribe { channel } | Pending::Fill { channel } => {
                let timed_out = matches!(e, Error::Timeout(_));
                self.channels.abandoned(&channel, timed_out);
            }
            Pending::Auth | Pending::Unsubscribe => {}
        }
    }

    /// Queues a frame with a fresh request id; false when not open.
    pub(crate) fn send(&mut self, mut frame: Value, kind: Pending) -> bool {
        if !self.open {
            return false;
        }
        let id = match frame["id"].as_str() {
            Some(id) => id.to_string(),
            None => {
                self.next_request += 1;
                format!("r{}", self.next_request)
            }
        };
        frame["id"] = json!(id);
        self.out.push(frame.to_string());
        self.pending.insert(id, (kind, Instant::now()));
        true
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Close => self.closed = true,
            Cmd::Subscribe {
                channel,
                sink,
                done,
            } => {
                let mut out = Vec::new();
                let connected = self.connected;
                self.channels
                    .subscribe(channel, sink, done, connected, &mut out);
                self.perform(out);
            }
            Cmd::Publish {
                channel,
                data,
                echo,
                done,
            } => {
                let key = self.publishes.enqueue(channel, data, echo, done);
                self.send_publish(key);
            }
            Cmd::Request { frame, done } => {
                if !self.connected {
                    let _ = done.send(Err(Error::Disconnected));
                } else {
                    self.send(frame, Pending::User(done));
                }
            }
            Cmd::Token(Ok(t)) => {
                self.token = Some(t.clone());
                self.send(json!({"action": "auth", "token": t}), Pending::Auth);
            }
            Cmd::Wake => {
                if !self.open {
                    self.wake = true;
                } else if self.connected && self.heartbeat.ping_now(Instant::now()) {
                    self.out.push(PING.to_string());
                }
            }
            Cmd::Token(Err(e)) => {
                self.emit(Event::Error(format!("token refresh: {e}")));
                self.token = None;
                self.leave = Some(Duration::ZERO);
            }
        }
    }

    /// A `pong` names this connection.
    pub(crate) fn set_connection_id(&mut self, connection: Option<String>) {
        if connection.is_some() {
            *self
                .links
                .connection_id
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = connection;
        }
    }

    /// The first frame on a new socket (normally the pong): it is usable.
    pub(crate) fn on_connected(&mut self) {
        if self.connected {
            return;
        }
        self.connected = true;
        let now = Instant::now();
        self.syncs = 0;
        self.next_sync = now + self.opts.ping_interval;
        self.stable_at = Some(now + self.opts.stable_after);
        self.schedule_refresh();
        self.set_state(State::Connected);
        let mut out = Vec::new();
        self.channels.resubscribe(&mut out);
        self.perform(out);
        for k in self.publishes.keys() {
            self.send_publish(k);
        }
    }

    /// The token was accepted in band: refresh it again before its `exp`.
    pub(crate) fn on_authed(&mut self) {
        self.schedule_refresh();
    }

    /// The next refresh: `refresh_lead` before the held token's `exp`.
    fn schedule_refresh(&mut self) {
        let lead = self.opts.refresh_lead.as_secs();
        self.refresh_at = self.token.as_deref().and_then(token_exp).map(|exp| {
            Instant::now()
                + Duration::from_secs(exp.saturating_sub(now_secs()).saturating_sub(lead))
        });
    }

    /// The backend's `disconnect` frame: final (close) or reconnect with a
    /// fresh token (a revoked one is refused).
    pub(crate) fn on_disconnect_frame(&mut self, f: &Value) {
        let reconnect = f["reconnect"].as_bool().unwrap_or(false);
        self.emit(Event::Disconnected {
            code: f["code"]
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(4000),
            reason: f["reason"].as_str().unwrap_or_default().to_string(),
            reconnect,
        });
        if reconnect {
            self.token = None;
            let delay = self.next_backoff();
            self.leave = Some(delay);
        } else {
            self.closed = true;
        }
    }

    pub(crate) fn on_reconnect_frame(&mut self, after_ms: u64) {
        if self.connected && self.leave.is_none() {
            self.leave = Some(Duration::from_millis(after_ms));
        }
    }
}
