// A small in-memory wsfn server and WebSocket pair for the client's unit
// tests: enough of docs/protocol.md to exercise reconnects, recovery, gaps
// and publish retries deterministically. The browser and Rust suites run
// the same behaviour against wsfn-local itself.

export class FakeServer {
  constructor() {
    this.streams = new Map();
    this.published = new Map();
    this.sockets = new Set();
    this.frames = [];
    this.handshakes = [];
    this.refuse = 0;
    this.loseMessages = 0;
    this.swallowAcks = 0;
    this.unavailable = 0;
    this.silent = false;
    this.pings = 0;
    this.next = 0;
    const server = this;
    this.WebSocket = class FakeWebSocket {
      constructor(url, protocols) {
        this.readyState = 0;
        this.subs = new Set();
        server.handshakes.push(protocols);
        setTimeout(() => {
          if (server.refuse > 0) {
            server.refuse -= 1;
            this.readyState = 3;
            return this.onclose?.({ code: 1006, reason: '' });
          }
          this.readyState = 1;
          this.connectionId = `conn${++server.next}`;
          server.sockets.add(this);
          this.onopen?.();
        }, 1);
      }
      send(text) {
        if (this.readyState !== 1) throw new Error('not open');
        const f = JSON.parse(text);
        server.frames.push(f);
        setTimeout(() => this.readyState === 1 && server.handle(this, f), 1);
      }
      close(code = 1000) {
        server.kill(this, code);
      }
    };
  }

  stream(channel) {
    if (!this.streams.has(channel)) this.streams.set(channel, { epoch: 'e1', msgs: [] });
    return this.streams.get(channel);
  }

  /** Closes a socket from the server side (as DELETE @connections or a network drop). */
  kill(ws, code = 1006) {
    if (ws.readyState === 3) return;
    ws.readyState = 3;
    this.sockets.delete(ws);
    setTimeout(() => ws.onclose?.({ code, reason: '' }), 1);
  }

  send(ws, frame) {
    if (frame.type === 'message' && this.loseMessages > 0) {
      this.loseMessages -= 1;
      return;
    }
    setTimeout(() => ws.readyState === 1 && ws.onmessage?.({ data: JSON.stringify(frame) }), 1);
  }

  /** Sends a server frame to every open socket (join, leave, disconnect, ...). */
  push(frame) {
    for (const ws of this.sockets) this.send(ws, frame);
  }

  /** Publishes as another user (or the backend) would; `skip`: a socket not sent to (`echo: false`). */
  publish(channel, data, id, skip) {
    const s = this.stream(channel);
    if (id && this.published.has(id)) return { ...this.published.get(id), duplicate: true };
    const m = { type: 'message', channel, seq: s.msgs.length + 1, epoch: s.epoch, data, from: 'u', ts: Date.now() };
    if (id) m.id = id;
    s.msgs.push(m);
    const ack = { type: 'ack', channel, seq: m.seq, duplicate: false };
    if (id) this.published.set(id, ack);
    for (const ws of this.sockets) if (ws.subs.has(channel) && ws !== skip) this.send(ws, m);
    return ack;
  }

  handle(ws, f) {
    if (this.silent) return;
    const reply = (r) => this.send(ws, { ...r, id: f.id });
    const s = f.channel && this.stream(f.channel);
    switch (f.action) {
      case 'ping':
        // As API Gateway's MOCK route answers it: no `id` echoed.
        this.pings += 1;
        return this.send(ws, { type: 'pong', ts: Date.now(), connection: ws.connectionId });
      case 'auth':
        return reply({ type: 'authed', exp: 0 });
      case 'subscribe': {
        ws.subs.add(f.channel);
        const latest = s.msgs.length;
        if (!f.since) return reply({ type: 'subscribed', channel: f.channel, seq: latest, epoch: s.epoch });
        const same = f.since.epoch === s.epoch;
        reply({ type: 'subscribed', channel: f.channel, seq: latest, epoch: s.epoch, recovered: same });
        if (same) for (const m of s.msgs.slice(f.since.seq)) this.send(ws, m);
        return;
      }
      case 'publish': {
        if (f.ephemeral) {
          const m = { type: 'message', channel: f.channel, data: f.data, from: 'u', ts: Date.now(), ephemeral: true };
          for (const o of this.sockets) if (o.subs.has(f.channel) && (f.echo !== false || o !== ws)) this.send(o, m);
          return reply({ type: 'ack', channel: f.channel, ephemeral: true });
        }
        if (this.unavailable > 0) {
          // The application's publish hook did not answer: nothing stored.
          this.unavailable -= 1;
          return reply({ type: 'error', code: 'unavailable', message: 'the application did not answer; retry' });
        }
        const ack = this.publish(f.channel, f.data, f.id, f.echo === false ? ws : undefined);
        if (this.swallowAcks > 0) {
          this.swallowAcks -= 1;
          return this.kill(ws);
        }
        return reply(ack);
      }
      case 'history': {
        const from = f.since && f.since.epoch === s.epoch ? f.since.seq : 0;
        const messages = s.msgs.slice(from, from + (f.limit ?? 100));
        const complete = from + messages.length === s.msgs.length;
        return reply({ type: 'history', channel: f.channel, epoch: s.epoch, messages, complete });
      }
      case 'rpc':
        // An rpc hook that echoes, and refuses the method `secret`.
        if (f.method === 'secret') return reply({ type: 'error', code: 'forbidden', message: 'no' });
        return reply({ type: 'rpc', data: { method: f.method, echo: f.data } });
      default:
        return reply({ type: 'error', code: 'bad_request', message: 'unknown action' });
    }
  }
}

/** Waits until `cond()` holds (bounded). */
export async function until(cond, ms = 3000, what = 'condition') {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
