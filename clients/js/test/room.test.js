// The backend's side of the room in the client (node --test): the
// `disconnect` frame, join/leave events, ephemeral publishes and `echo:
// false`, server-side subscriptions.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../wsfn.js';
import { FakeServer, until } from './fake-server.js';

const FAST = { pingIntervalMs: 40, pongTimeoutMs: 100, gapWaitMs: 20, backoff: { baseMs: 10, capMs: 50 } };

function setup() {
  const server = new FakeServer();
  let tokens = 0;
  const b = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const client = new Client('ws://fake', {
    ...FAST,
    WebSocket: server.WebSocket,
    getToken: async () => {
      tokens += 1;
      return `${b({ alg: 'HS256' })}.${b({ sub: 'alice', exp: Date.now() / 1000 + 3600 })}.sig`;
    },
  });
  const states = [];
  client.on('state', (s) => states.push(s));
  return { server, client, states, tokens: () => tokens };
}

test('a final disconnect frame closes the client and tells the application why', async (t) => {
  const { server, client, states } = setup();
  t.after(() => client.close());
  await client.channel('room:a').subscribe(() => {});
  const told = [];
  client.on('disconnect', (d) => told.push(d));
  server.silent = true;
  const pending = client.publish('room:a', 1).catch((e) => e);
  server.push({ type: 'disconnect', code: 4003, reason: 'banned', reconnect: false });
  await until(() => client.state === 'closed', 2000, 'closed');
  assert.equal((await pending).code, 'closed');
  assert.deepEqual(told, [{ code: 4003, reason: 'banned', reconnect: false, server: true }]);
  assert.equal(states.at(-1), 'closed');
  // The server's close follows; nothing reconnects.
  for (const ws of [...server.sockets]) server.kill(ws, 1000);
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(server.handshakes.length, 1);
});

test('a disconnect frame with reconnect: true gets a new token and reconnects', async (t) => {
  const { server, client, tokens } = setup();
  t.after(() => client.close());
  const got = [];
  await client.channel('room:a').subscribe((m) => got.push(m.data));
  const before = tokens();
  const told = [];
  client.on('disconnect', (d) => told.push(d));
  server.push({ type: 'disconnect', code: 4001, reason: 'token revoked', reconnect: true });
  await until(() => server.handshakes.length === 2 && client.connected, 2000, 'reconnected');
  assert.equal(tokens(), before + 1, 'a fresh token');
  assert.equal(told[0].reconnect, true);
  server.publish('room:a', 'after');
  await until(() => got.includes('after'), 2000, 'resubscribed');
});

test('join and leave reach the channel with the member info', async (t) => {
  const { server, client } = setup();
  t.after(() => client.close());
  const ch = client.channel('room:a');
  await ch.subscribe(() => {});
  const seen = [];
  ch.on('join', (m) => seen.push(['join', m]));
  ch.on('leave', (m) => seen.push(['leave', m]));
  client.channel('room:b').on('join', () => seen.push(['wrong channel']));
  server.push({ type: 'join', channel: 'room:a', user: 'bob', info: { name: 'Bob' } });
  server.push({ type: 'join', channel: 'room:a', user: 'eve' });
  server.push({ type: 'leave', channel: 'room:a', user: 'bob' });
  await until(() => seen.length === 3, 2000, 'events');
  assert.deepEqual(seen, [
    ['join', { user: 'bob', info: { name: 'Bob' } }],
    ['join', { user: 'eve' }],
    ['leave', { user: 'bob' }],
  ]);
});

test('ephemeral messages arrive at once and leave the sequence alone', async (t) => {
  const { server, client } = setup();
  t.after(() => client.close());
  const got = [];
  const ch = client.channel('typing:a');
  await ch.subscribe((m) => got.push(m));
  server.publish('typing:a', 'one');
  await until(() => got.length === 1);
  const ack = await ch.publish({ typing: true }, { ephemeral: true });
  assert.deepEqual({ ...ack, id: undefined }, { type: 'ack', channel: 'typing:a', ephemeral: true, id: undefined });
  await until(() => got.length === 2, 2000, 'the ephemeral message');
  assert.equal(got[1].ephemeral, true);
  server.publish('typing:a', 'two');
  await until(() => got.length === 3);
  assert.deepEqual(got.filter((m) => !m.ephemeral).map((m) => m.seq), [1, 2]);
  assert.ok(!server.frames.some((f) => f.action === 'history'), 'no gap was seen');
  // Offline, an ephemeral publish fails at once rather than going out late.
  client.close();
  await assert.rejects(ch.publish(1, { ephemeral: true }), (e) => e.code === 'disconnected');
});

test('echo: false publishes are acked, not echoed, and leave no gap', async (t) => {
  const { server, client } = setup();
  t.after(() => client.close());
  const got = [];
  const ch = client.channel('room:e');
  await ch.subscribe((m) => got.push(m.seq));
  const ack = await ch.publish('mine', { echo: false });
  assert.equal(ack.seq, 1);
  assert.equal(server.frames.find((f) => f.action === 'publish').echo, false);
  server.publish('room:e', 'theirs');
  await until(() => got.length === 1);
  // Heartbeats pass (the channel's traffic stopped: it reads its tail from
  // history); its own message is still not delivered to it.
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(server.frames.some((f) => f.action === 'history'), 'the tail was read');
  assert.deepEqual(got, [2]);
});

test('a server-side subscription delivers messages and is reported', async (t) => {
  const { server, client } = setup();
  t.after(() => client.close());
  await client.channel('room:a').subscribe(() => {});
  const told = [];
  client.on('subscribed', (s) => told.push(s));
  client.on('unsubscribed', (s) => told.push({ ...s, gone: true }));
  const ws = [...server.sockets][0];
  ws.subs.add('room:vip');
  server.push({ type: 'subscribed', channel: 'room:vip', seq: 0, epoch: 'e1' });
  await until(() => told.length === 1, 2000, 'reported');
  assert.deepEqual(told, [{ channel: 'room:vip', server: true }]);
  const got = [];
  await client.channel('room:vip').subscribe((m) => got.push(m.data));
  assert.ok(!server.frames.some((f) => f.action === 'subscribe' && f.channel === 'room:vip'));
  server.publish('room:vip', 'hi');
  await until(() => got.length === 1, 2000, 'delivered');
  server.push({ type: 'unsubscribed', channel: 'room:vip' });
  await until(() => told.length === 2);
  assert.equal(client.channel('room:vip').subscribed, false);
});
