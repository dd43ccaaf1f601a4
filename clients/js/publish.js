// Publishing: sequenced publishes carry a generated id and are retried across
// reconnects until acked (the server never stores one id twice); ephemeral
// ones are sent once, now.
import { WsfnError } from './errors.js';
import { backoffDelay } from './backoff.js';

// Publishes failing with these codes are retried (the same id: never stored twice).
const RETRYABLE = new Set(['rate_limited', 'internal', 'unavailable', 'timeout', 'disconnected']);

function newId() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** `client.publish(channel, data, {ephemeral, echo})`. */
export function publish(client, channel, data, { ephemeral = false, echo = true } = {}) {
  client.connect();
  const extra = echo ? {} : { echo: false };
  if (ephemeral) {
    // Not stored, not deduplicated: a late retry would show stale state
    // (a typing indicator), so it is sent once or fails.
    if (!client.connected) return Promise.reject(new WsfnError('disconnected', 'not connected'));
    return client.request({ action: 'publish', channel, data, ephemeral: true, ...extra });
  }
  return new Promise((resolve, reject) => {
    const entry = { id: newId(), channel, data, extra, tries: 0 };
    entry.resolve = (ack) => (clearTimeout(entry.timer), resolve(ack));
    entry.reject = (e) => (clearTimeout(entry.timer), reject(e));
    entry.send = () => send(client, entry);
    entry.deadline = Date.now() + client.options.publishTimeoutMs;
    // Unsent (offline) at the deadline: fail rather than risk a late retry
    // outside the server's idempotency window. In flight: its reply decides.
    entry.timer = setTimeout(() => {
      if (client.outbox.has(entry.id) && !entry.inFlight) {
        client.outbox.delete(entry.id);
        entry.reject(new WsfnError('timeout', 'publish not acknowledged in time'));
      }
    }, client.options.publishTimeoutMs);
    client.outbox.set(entry.id, entry);
    if (client.connected) entry.send();
  });
}

async function send(client, entry) {
  if (entry.inFlight || !client.outbox.has(entry.id)) return;
  if (Date.now() > entry.deadline) {
    client.outbox.delete(entry.id);
    return entry.reject(new WsfnError('timeout', 'publish not acknowledged in time'));
  }
  entry.inFlight = true;
  const { id, channel, data, extra } = entry;
  try {
    const ack = await client.request({ action: 'publish', id, channel, data, ...extra });
    client.outbox.delete(id);
    // The ack's seq is this client's own message: with `echo: false` it
    // never arrives, and must not look like a gap.
    const ch = client.channels.get(channel);
    if (ch?.subscribed) {
      if (extra.echo === false) ch.deliver(ch.seqr.own(ack.seq));
      else ch.seqr.see(ack.seq);
      ch.checkGap();
    }
    entry.resolve(ack);
  } catch (e) {
    entry.inFlight = false;
    if (e.code === 'superseded') return;
    if (!RETRYABLE.has(e.code) && e.code !== 'unauthorized') {
      client.outbox.delete(id);
      return entry.reject(e);
    }
    if (Date.now() > entry.deadline) {
      client.outbox.delete(id);
      return entry.reject(new WsfnError('timeout', `publish not acknowledged: ${e.message}`));
    }
    // `unauthorized`: a stale token or an unknown connection; a new connection fixes both.
    if (e.code === 'unauthorized') return client.dead('unauthorized');
    // Disconnected: the next connection sends it again (onConnected).
    if (e.code !== 'disconnected') {
      const delay = backoffDelay(entry.tries++, client.options.backoff);
      setTimeout(() => client.connected && entry.send(), delay);
    }
  }
}
