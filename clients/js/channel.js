// One wsfn channel: its subscription, ordered delivery (Sequencer), gap
// filling from `history`, recovery reports, history and presence reads,
// join/leave events and ephemeral messages.
import { Sequencer } from './sequencer.js';

/** One channel: subscription, ordered delivery, history and presence. */
export class Channel {
  constructor(client, name) {
    this.client = client;
    this.name = name;
    this.handlers = new Set();
    this.seqr = new Sequencer();
    this.wanted = false;
    this.subscribed = false;
    this.filling = false;
    /** Messages arrived in the current heartbeat interval, and in the one before. */
    this.active = false;
    this.hadTraffic = false;
    this.recovery = null;
    this.ready = null;
    this.listeners = new Map();
  }

  /** Listens to `join` (`{user, info?}`) and `leave` (`{user}`) on PRESENCE_EVENTS channels; returns a function that stops listening. */
  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(fn);
    return () => this.listeners.get(event)?.delete(fn);
  }

  /** A `join` or `leave` frame. */
  onMember(f) {
    const member = f.info === undefined ? { user: f.user } : { user: f.user, info: f.info };
    for (const fn of this.listeners.get(f.type) ?? []) {
      try {
        fn(member);
      } catch (e) {
        this.client.emit('error', e);
      }
    }
  }

  /** Receives this channel's messages, each once, in `seq` order; resolves when subscribed. */
  subscribe(onMessage) {
    if (onMessage) this.handlers.add(onMessage);
    this.wanted = true;
    if (!this.ready) {
      this.ready = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    }
    // Already subscribed by the backend (server API): nothing to ask.
    if (this.subscribed) this.settle?.resolve();
    else if (this.client.connected) this.resubscribe();
    this.client.connect();
    return this.ready;
  }

  async unsubscribe() {
    this.wanted = false;
    this.handlers.clear();
    this.ready = null;
    const was = this.subscribed;
    this.subscribed = false;
    // Offline: nothing to tell the server (the next connection does not resubscribe).
    if (was) await this.client.request({ action: 'unsubscribe', channel: this.name }).catch(() => {});
  }

  /** `options`: `{ephemeral: true}` (sent once, not stored), `{echo: false}` (not sent back to this connection). */
  publish(data, options) {
    return this.client.publish(this.name, data, options);
  }

  /** The backend subscribed this connection (server API): messages flow like any subscription's. */
  onServerSubscribed(f) {
    if (this.subscribed) return;
    this.subscribed = true;
    if (this.seqr.epoch === null || this.seqr.isOtherEpoch(f.epoch)) this.seqr.start(f.epoch, f.seq);
  }

  /** The backend unsubscribed this connection: it stays so after reconnects. */
  onServerUnsubscribed() {
    this.subscribed = false;
    this.wanted = false;
    this.ready = null;
  }

  /** One page of history (`since` {seq, epoch}, `limit` 1-100). */
  history({ since, limit } = {}) {
    return this.client.request({ action: 'history', channel: this.name, since, limit });
  }

  /** Every member, paging through `cursor`s (a user on two pages is counted once). */
  async presence() {
    const members = new Map();
    let cursor;
    for (let page = 0; page < 1000; page++) {
      const r = await this.client.request({ action: 'presence', channel: this.name, cursor });
      for (const m of r.members) {
        const seen = members.get(m.user);
        members.set(m.user, { ...m, connections: (seen?.connections ?? 0) + m.connections });
      }
      if (r.complete || !r.cursor) break;
      cursor = r.cursor;
    }
    return [...members.values()];
  }

  async resubscribe() {
    if (this.subscribing) return;
    this.subscribing = true;
    const resuming = this.seqr.epoch !== null;
    const frame = { action: 'subscribe', channel: this.name };
    if (resuming) frame.since = { seq: this.seqr.seq, epoch: this.seqr.epoch };
    let r;
    try {
      r = await this.client.request(frame);
    } catch (e) {
      if (!['disconnected', 'timeout', 'internal', 'unavailable', 'rate_limited'].includes(e.code)) {
        this.wanted = false;
        this.settle?.reject(e);
        this.ready = null;
        this.client.emit('error', e);
      } else if (e.code !== 'disconnected') {
        setTimeout(() => this.client.connected && this.wanted && this.resubscribe(), 1000);
      }
      return;
    } finally {
      this.subscribing = false;
    }
    this.subscribed = true;
    if (!resuming) {
      this.deliver(this.seqr.start(r.epoch, r.seq));
    } else if (this.seqr.isOtherEpoch(r.epoch)) {
      this.restartStream(r.epoch, r.seq);
    } else {
      this.seqr.see(r.seq);
      this.recovery = { target: r.seq, lost: [] };
      this.checkGap();
      this.checkRecovered();
    }
    this.settle?.resolve();
  }

  /** The stream restarted (new epoch): report it, then read the new stream from its start. */
  restartStream(epoch, head) {
    this.client.emit('recovered', { channel: this.name, recovered: false, reason: 'epoch' });
    this.recovery = null;
    this.deliver(this.seqr.start(epoch, 0));
    this.seqr.see(head);
    this.fill(true);
  }

  onMessage(m) {
    // Ephemeral: at once, unordered (no seq to order by, nothing to recover).
    if (m.ephemeral) return this.deliver([m], true);
    if (this.seqr.isOtherEpoch(m.epoch)) return this.restartStream(m.epoch, m.seq);
    this.active = true;
    this.deliver(this.seqr.push(m));
    this.checkGap();
  }

  deliver(list, ephemeral = false) {
    for (const m of list) {
      for (const fn of this.handlers) {
        try {
          fn(m);
        } catch (e) {
          this.client.emit('error', e);
        }
      }
    }
    if (list.length && !ephemeral) this.checkRecovered();
  }

  checkRecovered() {
    if (this.recovery && this.seqr.seq >= this.recovery.target) {
      const { lost } = this.recovery;
      this.recovery = null;
      this.client.emit('recovered', { channel: this.name, recovered: lost.length === 0, lost });
    }
  }

  checkGap() {
    if (!this.seqr.behind || this.filling || this.gapTimer) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      this.fill(false);
    }, this.client.options.gapWaitMs);
  }

  /**
   * Every heartbeat interval. A burst's lost last message has nothing after
   * it to reveal the gap: once the channel's traffic has stopped (messages in
   * the interval before, none in this one) it reads what follows its last
   * seq, once. While messages keep coming a gap shows by itself, so a busy
   * channel reads nothing. `all`: quiet channels check too.
   */
  sync(all) {
    if (!this.subscribed) return;
    const settled = this.hadTraffic && !this.active;
    this.hadTraffic = this.active;
    this.active = false;
    if (settled || all || this.seqr.behind) this.fill(true);
  }

  /** Reads history after the last delivered seq until caught up; reports what is lost. */
  async fill(always) {
    if (this.filling || !this.subscribed || (!always && !this.seqr.behind)) return;
    this.filling = true;
    try {
      for (let page = 0; page < 1000; page++) {
        const since = { seq: this.seqr.seq, epoch: this.seqr.epoch };
        const r = await this.history({ since, limit: 100 });
        if (this.seqr.isOtherEpoch(r.epoch)) {
          this.filling = false;
          return this.restartStream(r.epoch, 0);
        }
        const first = r.messages[0]?.seq;
        const lostTo = first ? first - 1 : r.complete ? null : (this.seqr.nextHeld ?? this.seqr.head + 1) - 1;
        if (lostTo && lostTo > since.seq) {
          this.recovery?.lost.push({ from: since.seq + 1, to: lostTo });
          if (!this.recovery) {
            const lost = [{ from: since.seq + 1, to: lostTo }];
            this.client.emit('recovered', { channel: this.name, recovered: false, lost });
          }
          this.deliver(this.seqr.skipTo(lostTo));
        }
        for (const m of r.messages) this.deliver(this.seqr.push(m));
        // Nothing more to read (caught up, or the rest was lost), or the head reached.
        if (r.messages.length === 0 || r.complete) break;
      }
    } catch {
      // Disconnected or timed out: the next connection resubscribes with `since`.
    } finally {
      this.filling = false;
    }
    this.checkRecovered();
    this.checkGap();
  }
}
