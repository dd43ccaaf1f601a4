// wsfn client for browsers and Node >= 22 (global WebSocket); no dependencies.
// Protocol: docs/protocol.md. Pings only when idle, full-jitter reconnects,
// resubscribe with `since`, per-channel ordering and gap filling by `seq`,
// idempotent publish retries, token refresh before `exp`.
import { Channel } from './channel.js';
import { WsfnError } from './errors.js';
import { Heartbeat } from './heartbeat.js';
import { publish } from './publish.js';
import { backoffDelay } from './backoff.js';
import { Sequencer } from './sequencer.js';
import { tokenExpiry } from './token.js';

export { Channel, Heartbeat, Sequencer, WsfnError, backoffDelay, tokenExpiry };

const DEFAULTS = {
  // From the cost model (docs/cost.md, "The heartbeat interval"): a ping after 100 s without any
  // frame, answered by API Gateway itself, keeps an idle connection-hour at
  // 36 pings ($7.2e-5); with the 10 s pong timeout a dead socket is noticed
  // within 110 s of its last frame.
  pingIntervalMs: 100000,
  pongTimeoutMs: 10000,
  backoff: { baseMs: 500, capMs: 20000 },
  stableAfterMs: 60000,
  refreshLeadMs: 30000,
  requestTimeoutMs: 10000,
  // Below the server's IDEMPOTENCY_TTL_SECONDS (300): a retry after that
  // could be stored twice, so an unacked publish fails instead.
  publishTimeoutMs: 240000,
  gapWaitMs: 1000,
  // Quiet channels check for a lost message once an hour (36 × 100 s) and at
  // every reconnect: each check is a `history` read ($3.3e-6).
  syncEveryPings: 36,
};

/** A connection to a wsfn stage that survives drops; see docs/protocol.md. */
export class Client {
  constructor(url, options = {}) {
    this.url = url;
    this.options = { ...DEFAULTS, ...options, backoff: { ...DEFAULTS.backoff, ...options.backoff } };
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
    if (typeof this.WebSocket !== 'function') throw new Error('no WebSocket: pass options.WebSocket');
    if (!options.getToken && !options.token) throw new Error('options.getToken or options.token is required');
    this.state = 'disconnected';
    this.connectionId = null;
    this.token = options.token ?? null;
    this.channels = new Map();
    this.outbox = new Map();
    this.pending = new Map();
    this.listeners = new Map();
    this.attempt = 0;
    this.gen = 0;
    this.ws = null;
    this.timers = {};
    this.nextRequest = 0;
    this.syncs = 0;
    this.awaitingPong = false;
    this.lifecycle = null;
    this.heartbeat = new Heartbeat({
      idleMs: this.options.pingIntervalMs,
      timeoutMs: this.options.pongTimeoutMs,
      send: () => this.ws?.readyState === 1 && this.ws.send('{"action":"ping"}'),
      dead: () => this.dead('no pong'),
    });
  }

  /**
   * Listens to `state`, `error`, `recovered`, `disconnect` (`{code, reason,
   * reconnect?, server?}`), `subscribed`/`unsubscribed` (the backend's
   * server-side subscriptions); returns a function that stops listening.
   */
  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(fn);
    return () => this.listeners.get(event)?.delete(fn);
  }

  emit(event, value) {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        fn(value);
      } catch (e) {
        if (event !== 'error') this.emit('error', e);
      }
    }
  }

  /** The channel `name` (one object per name). */
  channel(name) {
    if (!this.channels.has(name)) this.channels.set(name, new Channel(this, name));
    return this.channels.get(name);
  }

  /** Opens the connection (subscribe and publish do it too). */
  connect() {
    if (this.state === 'disconnected' && !this.timers.reconnect && !this.ws) this.open();
  }

  /** Closes for good: pending publishes fail, no reconnect. */
  close() {
    this.setState('closed');
    this.lifecycle?.();
    this.lifecycle = null;
    this.detach(1000, 'client closed');
    for (const e of this.outbox.values()) e.reject(new WsfnError('closed', 'client closed'));
    this.outbox.clear();
  }

  get connected() {
    return this.state === 'connected';
  }

  setState(state) {
    if (this.state === state || this.state === 'closed') return;
    this.state = state;
    this.emit('state', state);
  }

  async freshToken() {
    const { getToken, refreshLeadMs } = this.options;
    const exp = this.token && tokenExpiry(this.token);
    if (getToken && (!this.token || (exp !== null && exp - Date.now() < refreshLeadMs))) {
      this.token = await getToken();
    }
    return this.token;
  }

  /**
   * The page became visible or the network came back (the browser's
   * `visibilitychange` and `online` events call it; apps elsewhere may too):
   * a connected socket is checked with a ping at once, a reconnect that waits
   * for its backoff happens now.
   */
  wake() {
    if (this.state === 'connected') return this.heartbeat.pingNow();
    if (this.timers.reconnect) {
      clearTimeout(this.timers.reconnect);
      this.timers.reconnect = undefined;
      this.open();
    }
  }

  /** Listens to the page's visibility and the network (browsers; `options.document`/`options.window` in tests). */
  watchLifecycle() {
    if (this.lifecycle) return;
    const doc = this.options.document ?? globalThis.document;
    const win = this.options.window ?? globalThis.window;
    const onVisibility = () => doc.visibilityState === 'visible' && this.wake();
    const onOnline = () => this.wake();
    doc?.addEventListener?.('visibilitychange', onVisibility);
    win?.addEventListener?.('online', onOnline);
    this.lifecycle = () => {
      doc?.removeEventListener?.('visibilitychange', onVisibility);
      win?.removeEventListener?.('online', onOnline);
    };
  }

  async open() {
    this.watchLifecycle();
    this.setState('connecting');
    let token;
    try {
      token = await this.freshToken();
    } catch (e) {
      this.emit('error', e);
      return this.scheduleReconnect();
    }
    if (this.state === 'closed') return;
    const gen = ++this.gen;
    const ws = new this.WebSocket(this.url, ['wsfn.v1', `bearer.${token}`]);
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      if (gen === this.gen) this.onOpen();
    };
    ws.onmessage = (ev) => gen === this.gen && this.onFrame(ev.data);
    ws.onclose = (ev) => {
      if (gen !== this.gen) return;
      // A refused handshake looks like a close before open: the token may be stale.
      if (!opened && this.options.getToken) this.token = null;
      this.onClose(ev.code, ev.reason);
    };
    ws.onerror = () => {};
  }

  /** The socket is open: a ping right away; its `pong` names the connection. */
  onOpen() {
    this.awaitingPong = true;
    this.heartbeat.start();
    this.heartbeat.pingNow();
  }

  /** The first frame on a new socket (normally the `pong`): it is usable. */
  onConnected() {
    this.awaitingPong = false;
    this.setState('connected');
    this.syncs = 0;
    this.timers.sync = setInterval(() => this.syncChannels(), this.options.pingIntervalMs);
    this.timers.stable = setTimeout(() => (this.attempt = 0), this.options.stableAfterMs);
    this.scheduleRefresh();
    for (const ch of this.channels.values()) if (ch.wanted) ch.resubscribe();
    for (const entry of this.outbox.values()) entry.send();
  }

  onFrame(text) {
    this.heartbeat.seen();
    let f;
    try {
      f = JSON.parse(text);
    } catch {
      f = null;
    }
    // API Gateway answers `ping` itself and cannot echo its `id`: a pong is
    // matched by its type (one ping is out at a time).
    if (f?.type === 'pong') this.connectionId = f.connection ?? this.connectionId;
    // Any answer proves the new socket usable (a throttled ping's included).
    if (this.awaitingPong) this.onConnected();
    if (!f) return this.emit('error', new WsfnError('bad_frame', 'not JSON'));
    if (f.type === 'pong') return;
    if (f.type === 'message') return this.channels.get(f.channel)?.onMessage(f);
    if (f.type === 'join' || f.type === 'leave') return this.channels.get(f.channel)?.onMember(f);
    if (f.type === 'reconnect') return this.restart(f.after_ms ?? 0);
    if (f.type === 'disconnect') return this.onDisconnectFrame(f);
    if ((f.type === 'subscribed' || f.type === 'unsubscribed') && f.id === undefined) {
      return this.onServerSubscription(f);
    }
    const waiter = f.id !== undefined && this.pending.get(f.id);
    if (waiter) {
      this.pending.delete(f.id);
      clearTimeout(waiter.timer);
      if (f.type === 'error') waiter.reject(new WsfnError(f.code, f.message, f));
      else waiter.resolve(f);
    } else if (f.type === 'error') {
      this.emit('error', new WsfnError(f.code, f.message, f));
    }
  }

  onClose(code, reason) {
    this.detach();
    if (this.state === 'closed') return;
    this.setState('disconnected');
    this.emit('disconnect', { code, reason });
    this.scheduleReconnect();
  }

  /** Forgets the socket (its late events are ignored) and fails what waited on it. */
  detach(code, reason) {
    this.gen += 1;
    this.heartbeat.stop();
    this.awaitingPong = false;
    for (const t of ['sync', 'stable', 'refresh', 'reconnect']) {
      clearTimeout(this.timers[t]);
      clearInterval(this.timers[t]);
      this.timers[t] = undefined;
    }
    const ws = this.ws;
    this.ws = null;
    this.connectionId = null;
    if (ws && ws.readyState <= 1) {
      try {
        ws.close(code ?? 1000, reason ?? '');
      } catch {
        /* already closing */
      }
    }
    for (const [id, w] of this.pending) {
      clearTimeout(w.timer);
      w.reject(new WsfnError('disconnected', 'the connection closed'));
      this.pending.delete(id);
    }
    for (const ch of this.channels.values()) ch.subscribed = false;
  }

  scheduleReconnect(delay = backoffDelay(this.attempt++, this.options.backoff)) {
    if (this.state === 'closed' || this.timers.reconnect) return;
    this.timers.reconnect = setTimeout(() => {
      this.timers.reconnect = undefined;
      this.open();
    }, delay);
  }

  /** A socket that stopped answering: drop it and reconnect. */
  dead(reason) {
    this.onClose(4000, reason);
  }

  /** The server asked for a new connection (`reconnect` frame, before the 2 h cap). */
  restart(afterMs) {
    if (this.timers.reconnect || this.state !== 'connected') return;
    this.detach(1000, 'reconnect requested');
    this.setState('disconnected');
    this.scheduleReconnect(afterMs);
  }

  /**
   * Every `pingIntervalMs`: channels that had traffic read what follows their
   * last seq (a lost last message is found without a message after it);
   * every `syncEveryPings`-th time, all channels. Sends nothing for quiet
   * channels in between.
   */
  syncChannels() {
    this.syncs += 1;
    const all = this.syncs % this.options.syncEveryPings === 0;
    for (const ch of this.channels.values()) ch.sync(all);
  }

  scheduleRefresh() {
    const exp = this.options.getToken && this.token && tokenExpiry(this.token);
    if (!exp) return;
    const wait = Math.max(0, exp - this.options.refreshLeadMs - Date.now());
    this.timers.refresh = setTimeout(() => this.refresh(), Math.min(wait, 2 ** 31 - 1));
  }

  async refresh() {
    try {
      this.token = await this.options.getToken();
      await this.request({ action: 'auth', token: this.token });
      this.scheduleRefresh();
    } catch (e) {
      if (e.code === 'disconnected') return;
      this.emit('error', e);
      this.token = null;
      this.dead('token refresh failed');
    }
  }

  /** Sends one frame and waits for the reply with its `id`. */
  request(frame, timeoutMs = this.options.requestTimeoutMs) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== 1) {
        return reject(new WsfnError('disconnected', 'not connected'));
      }
      const id = frame.id ?? `r${++this.nextRequest}`;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new WsfnError('timeout', `no reply to ${frame.action} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.get(id)?.reject(new WsfnError('superseded', 'sent again'));
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...frame, id }));
    });
  }

  /**
   * Publishes `data` on `channel`. Sequenced publishes carry an id and are
   * retried across reconnects (never stored twice); `{ephemeral: true}`
   * sends once, now (fails when offline); `{echo: false}` keeps this
   * connection from receiving its own message.
   */
  publish(channel, data, options = {}) {
    return publish(this, channel, data, options);
  }

  /**
   * Calls the application's `rpc` hook with `data`; resolves with its
   * answer's `data`. Not retried: an rpc may not be idempotent.
   */
  async rpc(method, data = null) {
    const reply = await this.request({ action: 'rpc', method, data });
    return reply.data;
  }

  /** A `disconnect` frame: the backend closes this connection (server API). */
  onDisconnectFrame(f) {
    const info = { code: f.code, reason: f.reason ?? '', reconnect: !!f.reconnect, server: true };
    if (!f.reconnect) {
      // Final: no reconnect; the application is told why.
      this.emit('disconnect', info);
      return this.close();
    }
    // Revoked (or asked to come back): a new token, then a new connection.
    if (this.options.getToken) this.token = null;
    this.detach(1000, 'disconnected by the server');
    this.setState('disconnected');
    this.emit('disconnect', info);
    this.scheduleReconnect();
  }

  /** `subscribed`/`unsubscribed` without an id: the backend (un)subscribed this connection. */
  onServerSubscription(f) {
    const ch = this.channel(f.channel);
    if (f.type === 'subscribed') ch.onServerSubscribed(f);
    else ch.onServerUnsubscribed();
    this.emit(f.type, { channel: f.channel, server: true });
  }
}
