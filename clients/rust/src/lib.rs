//! `wsfn-client`: a client for wsfn (docs/protocol.md) that never loses a
//! message: heartbeats, full-jitter reconnects, resubscribe with `since`,
//! per-channel ordering and gap filling by `seq`, idempotent publish
//! retries, token refresh before `exp`. One background task owns the
//! socket; [`Client`] is a cheap handle to it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wsfn_client::Error> {
//! use futures::StreamExt;
//! use wsfn_client::{Client, Options, TokenSource};
//! let client = Client::connect("ws://127.0.0.1:3001", Options::new(TokenSource::fixed("<jwt>")));
//! let mut room = client.subscribe("room:lobby").await?;
//! client.publish("room:lobby", serde_json::json!({"text": "hi"})).await?;
//! while let Some(message) = room.next().await {
//!     println!("{} {}", message.seq, message.data);
//! }
//! # Ok(()) }
//! ```

mod actor;
mod channels;
mod dev;
mod heartbeat;
mod out;
mod publishes;
mod sequencer;
mod types;
mod util;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

pub use types::{
    Ack, Error, Event, HistoryPage, Lost, Member, Message, PublishOptions, Since, State,
};

/// What a [`TokenSource`] returns.
pub type TokenFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

/// Where tokens come from: called before connecting and `refresh_lead`
/// before the current token's `exp`.
#[derive(Clone)]
pub struct TokenSource(Arc<dyn Fn() -> TokenFuture + Send + Sync>);

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSource")
    }
}

impl TokenSource {
    /// Always the same token (no refresh possible).
    pub fn fixed(token: impl Into<String>) -> Self {
        let token = token.into();
        Self(Arc::new(move || {
            let t = token.clone();
            Box::pin(async move { Ok(t) })
        }))
    }

    /// Calls `f` for every token (e.g. asks the identity provider).
    pub fn from_fn<F, Fut>(f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        Self(Arc::new(move || Box::pin(f())))
    }

    /// Dev tokens for `user` from wsfn-local's local-only endpoint
    /// (`POST /_wsfn/token` on the host of `ws_url`, a `ws://` URL), valid
    /// `ttl` and allowed every channel. For local development only: a
    /// deployed stack has no such endpoint.
    pub fn wsfn_local_dev(ws_url: &str, user: &str, ttl: Duration) -> Self {
        let (url, user) = (ws_url.to_string(), user.to_string());
        Self::from_fn(move || {
            let (url, user) = (url.clone(), user.clone());
            async move { dev::token(&url, &user, ttl).await }
        })
    }

    pub(crate) fn fetch(&self) -> TokenFuture {
        (self.0)()
    }
}

/// Client behaviour; the defaults follow docs/protocol.md.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where tokens come from.
    pub token: TokenSource,
    /// Ping after this long without any inbound frame (100 s: README,
    /// "Cost model"); channels also look for a lost tail this often.
    pub ping_interval: Duration,
    /// A ping that no frame answers within this long means a dead socket (10 s).
    pub pong_timeout: Duration,
    /// Full-jitter backoff: first ceiling (500 ms).
    pub backoff_base: Duration,
    /// Full-jitter backoff: largest ceiling (20 s).
    pub backoff_cap: Duration,
    /// A connection up this long resets the backoff (60 s).
    pub stable_after: Duration,
    /// Refresh the token this long before `exp` (30 s).
    pub refresh_lead: Duration,
    /// Replies later than this fail the request (10 s).
    pub request_timeout: Duration,
    /// An unacknowledged publish fails after this long (240 s: below the
    /// server's 300 s idempotency window, so a retry is never stored twice).
    pub publish_timeout: Duration,
    /// How long an out-of-order message waits for its gap before history is read (1 s).
    pub gap_wait: Duration,
    /// Every Nth `ping_interval` quiet channels look for lost messages too
    /// (36: hourly at the default interval; docs/cost.md, "The heartbeat interval").
    pub sync_every_pings: u64,
}

impl Options {
    /// The defaults with `token`.
    pub fn new(token: TokenSource) -> Self {
        Self {
            token,
            ping_interval: Duration::from_secs(100),
            pong_timeout: Duration::from_secs(10),
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(20),
            stable_after: Duration::from_secs(60),
            refresh_lead: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
            publish_timeout: Duration::from_secs(240),
            gap_wait: Duration::from_secs(1),
            sync_every_pings: 36,
        }
    }
}

pub(crate) enum Cmd {
    Subscribe {
        channel: String,
        sink: mpsc::UnboundedSender<Message>,
        done: oneshot::Sender<Result<(), Error>>,
    },
    Publish {
        channel: String,
        data: Value,
        echo: bool,
        done: oneshot::Sender<Result<Ack, Error>>,
    },
    Request {
        frame: Value,
        done: oneshot::Sender<Result<Value, Error>>,
    },
    Token(Result<String, String>),
    Wake,
    Close,
}

/// A handle to the connection (clone it freely; the connection lives until
/// [`Client::close`] or until every handle is dropped).
#[derive(Debug, Clone)]
pub struct Client {
    tx: mpsc::UnboundedSender<Cmd>,
    state: watch::Receiver<State>,
    events: broadcast::Sender<Event>,
    connection_id: Arc<Mutex<Option<String>>>,
}

impl Client {
    /// Starts connecting to `url` (`wss://…/stage`, or wsfn-local's `ws://127.0.0.1:3001`).
    pub fn connect(url: impl Into<String>, options: Options) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(State::Disconnected);
        let (events, _) = broadcast::channel(256);
        let connection_id = Arc::new(Mutex::new(None));
        let actor = actor::Actor::new(
            url.into(),
            options,
            actor::Links {
                rx,
                tx: tx.downgrade(),
                state: state_tx,
                events: events.clone(),
                connection_id: connection_id.clone(),
            },
        );
        tokio::spawn(actor.run());
        Self {
            tx,
            state,
            events,
            connection_id,
        }
    }

    async fn call<T>(&self, cmd: impl FnOnce(oneshot::Sender<T>) -> Cmd) -> Result<T, Error> {
        let (done, rx) = oneshot::channel();
        self.tx.send(cmd(done)).map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)
    }

    /// Subscribes; the stream yields each message once, in `seq` order,
    /// across reconnects. Resolves when the server confirmed the subscription.
    pub async fn subscribe(&self, channel: &str) -> Result<Subscription, Error> {
        let (sink, rx) = mpsc::unbounded_channel();
        let channel = channel.to_string();
        let name = channel.clone();
        self.call(|done| Cmd::Subscribe {
            channel,
            sink,
            done,
        })
        .await??;
        Ok(Subscription { channel: name, rx })
    }

    /// Publishes `data`; resolves with the ack. Retried (one id) across
    /// reconnects until acknowledged, never stored twice.
    pub async fn publish(&self, channel: &str, data: Value) -> Result<Ack, Error> {
        self.publish_with(channel, data, PublishOptions::default())
            .await
    }

    /// Publishes with options: `ephemeral` (sent once, now — not stored,
    /// sequenced or retried; [`Error::Disconnected`] when offline) and
    /// `echo: false` (this connection is not sent its own message).
    pub async fn publish_with(
        &self,
        channel: &str,
        data: Value,
        options: PublishOptions,
    ) -> Result<Ack, Error> {
        if options.ephemeral {
            let mut frame =
                json!({"action": "publish", "channel": channel, "data": data, "ephemeral": true});
            if !options.echo {
                frame["echo"] = json!(false);
            }
            let reply = self.request(frame).await?;
            return serde_json::from_value(reply).map_err(|e| Error::BadReply(e.to_string()));
        }
        let channel = channel.to_string();
        self.call(|done| Cmd::Publish {
            channel,
            data,
            echo: options.echo,
            done,
        })
        .await?
    }

    async fn request(&self, frame: Value) -> Result<Value, Error> {
        self.call(|done| Cmd::Request { frame, done }).await?
    }

    /// One page of history (`since` a position, `limit` 1–100).
    pub async fn history(
        &self,
        channel: &str,
        since: Option<Since>,
        limit: Option<u32>,
    ) -> Result<HistoryPage, Error> {
        let mut frame = json!({"action": "history", "channel": channel});
        if let Some(s) = since {
            frame["since"] = json!(s);
        }
        if let Some(l) = limit {
            frame["limit"] = json!(l);
        }
        let reply = self.request(frame).await?;
        serde_json::from_value(reply).map_err(|e| Error::BadReply(e.to_string()))
    }

    /// Calls the application's `rpc` hook; its answer's `data`. Not
    /// retried (an rpc may not be idempotent): `unavailable` comes back as
    /// [`Error::Server`] for the caller to decide.
    pub async fn rpc(&self, method: &str, data: Value) -> Result<Value, Error> {
        let mut reply = self
            .request(json!({"action": "rpc", "method": method, "data": data}))
            .await?;
        Ok(reply["data"].take())
    }

    /// Every member of `channel` (all pages; a user on two pages counted once).
    pub async fn presence(&self, channel: &str) -> Result<Vec<Member>, Error> {
        let mut members: Vec<Member> = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1000 {
            let mut frame = json!({"action": "presence", "channel": channel});
            if let Some(c) = &cursor {
                frame["cursor"] = json!(c);
            }
            let reply = self.request(frame).await?;
            let page: Vec<Member> = serde_json::from_value(reply["members"].clone())
                .map_err(|e| Error::BadReply(e.to_string()))?;
            for m in page {
                match members.iter_mut().find(|x| x.user == m.user) {
                    Some(x) => x.connections += m.connections,
                    None => members.push(m),
                }
            }
            cursor = reply["cursor"].as_str().map(str::to_string);
            if reply["complete"].as_bool().unwrap_or(true) || cursor.is_none() {
                break;
            }
        }
        Ok(members)
    }

    /// This connection's id (from `pong`), for server-side tooling.
    pub fn connection_id(&self) -> Option<String> {
        self.connection_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The current state.
    pub fn state(&self) -> State {
        *self.state.borrow()
    }

    /// Waits until the state is `want` (bounded by `timeout`); true if it was reached.
    pub async fn wait_for(&self, want: State, timeout: Duration) -> bool {
        let mut rx = self.state.clone();
        tokio::time::timeout(timeout, rx.wait_for(|s| *s == want))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// State changes, recovery reports, errors, `join`/`leave`, the
    /// backend's `disconnect` and server-side (un)subscriptions.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The network came back or the app returned to the foreground: a
    /// connected socket is checked with a ping at once (when none is out), a
    /// reconnect waiting for its backoff happens now.
    pub fn wake(&self) {
        let _ = self.tx.send(Cmd::Wake);
    }

    /// Closes for good: pending publishes fail with [`Error::Closed`].
    pub fn close(&self) {
        let _ = self.tx.send(Cmd::Close);
    }
}

/// One channel's messages, each once, in `seq` order (a [`futures::Stream`]).
#[derive(Debug)]
pub struct Subscription {
    channel: String,
    rx: mpsc::UnboundedReceiver<Message>,
}

impl Subscription {
    /// The channel's name.
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

impl futures::Stream for Subscription {
    type Item = Message;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.rx.poll_recv(cx)
    }
}
