//! The dependencies every handler borrows: built once per cold start (or once
//! per local gateway / test) and passed in explicitly.

use std::sync::Arc;

use crate::bus::{self, EventSink};
use crate::config::Config;
use crate::fanout::dispatch::Dispatcher;
use crate::fanout::{FanoutOptions, Sharding};
use crate::hooks::Hooks;
use crate::instance_cache::InstanceCache;
use crate::push::{Pusher, PusherFactory};
use crate::store::{HistoryLimits, Store};

/// What every handler is given: configuration, store, push client, fan-out
/// dispatcher, hooks and event bus.
#[derive(Clone)]
pub struct App {
    /// Validated configuration.
    pub config: Arc<Config>,
    /// Connection/channel store.
    pub store: Arc<dyn Store>,
    /// Management API clients, per endpoint.
    pub pushers: Arc<dyn PusherFactory>,
    /// Hands big channels' shards to `FANOUT_FUNCTION` (none: no sharding).
    pub dispatcher: Option<Arc<dyn Dispatcher>>,
    /// What ephemeral publishes may reuse for a second (this instance's).
    pub cache: Arc<InstanceCache>,
    /// The application's hooks (`HOOKS`), if any.
    pub hooks: Option<Arc<Hooks>>,
    /// Where events go (`EVENT_BUS`), if anywhere.
    pub bus: Option<Arc<dyn EventSink>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.config)
            .field("dispatcher", &self.dispatcher)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Bundles the dependencies.
    pub fn new(config: Config, store: Arc<dyn Store>, pushers: Arc<dyn PusherFactory>) -> Self {
        let hooks = config.hooks.clone().map(|h| Arc::new(Hooks::new(h)));
        Self {
            hooks,
            bus: None,
            config: Arc::new(config),
            store,
            pushers,
            dispatcher: None,
            cache: Arc::default(),
        }
    }

    /// Drops what this instance cached of a connection just removed: its
    /// record, and the subscriber lists of the channels it was in.
    pub(crate) fn forget_removed(&self, id: &str, removed: &crate::store::Removed) {
        self.cache.connections.forget(id);
        for channel in &removed.channels {
            self.cache.subscribers.forget(channel);
        }
    }

    /// Lambda hook targets are invoked with `client`.
    pub fn with_hook_lambda(mut self, client: aws_sdk_lambda::Client) -> Self {
        self.hooks = self
            .hooks
            .map(|h| Arc::new(Hooks::clone(&h).with_lambda(client)));
        self
    }

    /// Sends events (`EVENT_BUS`) to `sink`.
    pub fn with_bus(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.bus = Some(sink);
        self
    }

    /// Shards big fan-outs through `dispatcher`.
    pub fn with_dispatcher(mut self, dispatcher: Arc<dyn Dispatcher>) -> Self {
        self.dispatcher = Some(dispatcher);
        self
    }

    /// How a fan-out `depth` splits below the publisher shards, if at all.
    pub fn sharding(&self, depth: u8, seq: Option<u64>) -> Option<Sharding<'_>> {
        self.dispatcher.as_deref().map(|dispatcher| Sharding {
            dispatcher,
            size: self.config.fanout_shard_size,
            depth,
            seq,
        })
    }

    /// The pusher for an event: `MANAGEMENT_ENDPOINT` if set, else
    /// `https://{domainName}/{stage}` from the event.
    pub(crate) fn pusher_for(
        &self,
        domain: Option<&str>,
        stage: Option<&str>,
    ) -> Option<Arc<dyn Pusher>> {
        let endpoint = match (&self.config.management_endpoint, domain) {
            (Some(e), _) => e.clone(),
            (None, Some(d)) => match stage {
                Some(s) if !s.is_empty() => format!("https://{d}/{s}"),
                _ => format!("https://{d}"),
            },
            (None, None) => return None,
        };
        Some(self.pushers.pusher(&endpoint))
    }

    /// Fan-out settings from configuration.
    pub(crate) fn fanout_options(&self) -> FanoutOptions {
        FanoutOptions {
            concurrency: self.config.fanout_concurrency,
            ..FanoutOptions::default()
        }
    }

    /// Runs a handler's `work`, then sends the events it emitted
    /// (`EVENT_BUS`; without it none are collected), bounded by the
    /// invocation's deadline (`bus::send`); metrics under `function`.
    pub(crate) async fn with_events<F: std::future::Future>(
        &self,
        function: &'static str,
        request_id: Option<&str>,
        deadline_ms: Option<u64>,
        work: F,
    ) -> F::Output {
        let (result, events) = bus::collect(self.bus.as_deref(), work).await;
        let metrics = || self.metrics(function);
        bus::send(
            self.bus.as_deref(),
            events,
            metrics,
            request_id,
            deadline_ms,
        )
        .await;
        result
    }

    /// An empty metrics set for one invocation of `function`.
    pub fn metrics(&self, function: &str) -> crate::metrics::Metrics {
        crate::metrics::Metrics::new(&self.config.metrics_namespace, function)
    }

    /// History retention from configuration.
    pub(crate) fn history_limits(&self) -> HistoryLimits {
        HistoryLimits {
            ttl: self.config.history_ttl,
            max: self.config.history_max,
        }
    }
}
