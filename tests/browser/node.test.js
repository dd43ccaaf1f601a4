// The JS client under Node (global WebSocket: Node >= 22, or Node 20-21 with
// --experimental-websocket, which scripts/test.sh passes) against wsfn-local.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../../clients/js/wsfn.js';
import { range, startLocal } from './support.js';

async function devToken(base, sub) {
  const r = await fetch(`${base}/_wsfn/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sub, ttl: 600 }),
  });
  assert.equal(r.status, 200);
  return (await r.json()).token;
}

const waitFor = async (cond, ms, what) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('under Node: a dropped subscriber recovers every message once, in order', async () => {
  assert.equal(typeof WebSocket, 'function', 'Node needs a global WebSocket (>= 22, or --experimental-websocket)');
  const local = await startLocal(['--no-demo']);
  const url = local.base.replace('http://', 'ws://');
  const opts = (sub) => ({ getToken: () => devToken(local.base, sub), pingIntervalMs: 1000, backoff: { baseMs: 50, capMs: 200 } });
  const reader = new Client(url, opts('reader'));
  const writer = new Client(url, opts('writer'));
  try {
    const got = [];
    await reader.channel('room:node').subscribe((m) => got.push(m.seq));
    const first = reader.connectionId;
    assert.ok(first, 'the connection id came with the pong');
    const acks = [];
    for (let i = 1; i <= 30; i++) {
      acks.push(writer.channel('room:node').publish({ i }));
      if (i === 10) {
        await waitFor(() => got.length >= 5, 5000, 'first messages');
        const r = await fetch(`${local.base}/_wsfn/connections/${reader.connectionId}`, { method: 'DELETE' });
        assert.equal(r.status, 200);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual((await Promise.all(acks)).map((a) => a.seq), range(1, 30));
    await waitFor(() => got.length >= 30, 10000, 'all 30');
    assert.deepEqual(got, range(1, 30));
    assert.notEqual(reader.connectionId, first);
    // The demo is off: / answers 426 to a plain GET.
    assert.equal((await fetch(`${local.base}/`)).status, 426);
  } finally {
    reader.close();
    writer.close();
    await local.stop();
  }
});

test('under Node: the pong comes from the gateway, not from a function (heartbeat at API Gateway price)', async () => {
  const local = await startLocal(['--no-demo']);
  const url = local.base.replace('http://', 'ws://');
  const stats = async () => (await (await fetch(`${local.base}/_wsfn/stats`)).json()).invocations;
  const client = new Client(url, { getToken: () => devToken(local.base, 'idle'), pingIntervalMs: 200, pongTimeoutMs: 1000 });
  try {
    client.connect();
    await waitFor(() => client.connected, 5000, 'connected');
    assert.ok(client.connectionId, 'the pong named the connection');
    // Idle for ten intervals: about ten pings, every one answered (no reconnect).
    const first = client.connectionId;
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(client.connectionId, first, 'still the same socket');
    const counts = await stats();
    assert.equal(counts.ConnectFunction, 1);
    assert.equal(counts.MessageFunction, 0, 'no ping reached the message function');
    // A frame the function does answer is counted.
    await client.channel('room:idle').history();
    assert.equal((await stats()).MessageFunction, 1);
  } finally {
    client.close();
    await local.stop();
  }
});
