// The client's state machine against an in-memory server (node --test).
import test from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../wsfn.js';
import { FakeServer, until } from './fake-server.js';

const FAST = { pingIntervalMs: 40, pongTimeoutMs: 100, gapWaitMs: 20, backoff: { baseMs: 10, capMs: 50 } };

function token(expSeconds) {
  const b = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b({ alg: 'HS256' })}.${b({ sub: 'alice', exp: expSeconds })}.sig`;
}

/** A client on an in-memory server; its tokens live `ttlSeconds`. */
function setup(extra = {}, ttlSeconds = 3600) {
  const server = new FakeServer();
  let tokens = 0;
  const client = new Client('ws://fake', {
    ...FAST,
    WebSocket: server.WebSocket,
    getToken: async () => {
      tokens += 1;
      return token(Date.now() / 1000 + ttlSeconds);
    },
    ...extra,
  });
  const states = [];
  client.on('state', (s) => states.push(s));
  return { server, client, states, tokens: () => tokens };
}

const seqs = (got) => got.map((m) => m.seq);
const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

test('connects with the token as subprotocol and learns its connection id from pong', async (t) => {
  const { server, client, states } = setup();
  t.after(() => client.close());
  await client.channel('room:a').subscribe(() => {});
  assert.equal(server.handshakes[0][0], 'wsfn.v1');
  assert.match(server.handshakes[0][1], /^bearer\./);
  assert.equal(client.connectionId, 'conn1');
  assert.deepEqual(states, ['connecting', 'connected']);
});

test('a dropped socket reconnects, resubscribes with since, and recovers every missed message once', async (t) => {
  const { server, client } = setup();
  t.after(() => client.close());
  const got = [];
  const recovered = [];
  client.on('recovered', (r) => recovered.push(r));
  await client.channel('room:a').subscribe((m) => got.push(m));
  for (let i = 1; i <= 3; i++) server.publish('room:a', i);
  await until(() => got.length === 3);
  server.refuse = 2;
  server.kill([...server.sockets][0]);
  for (let i = 4; i <= 9; i++) server.publish('room:a', i);
  await until(() => got.length === 9, 3000, 'recovery');
  assert.deepEqual(seqs(got), range(1, 9));
  const resubscribe = server.frames.filter((f) => f.action === 'subscribe').at(-1);
  assert.deepEqual(resubscribe.since, { seq: 3, epoch: 'e1' });
  assert.deepEqual(recovered, [{ channel: 'room:a', recovered: true, lost: [] }]);
});

test('a lost live message is fetched from history; a lost tail is found by the heartbeat', async (t) => {
  const { server, client } = setup();
  t.after(() => client.close());
  const got = [];
  await client.channel('room:a').subscribe((m) => got.push(m));
  server.publish('room:a', 1);
  server.loseMessages = 1;
  server.publish('room:a', 2);
  server.publish('room:a', 3);
  await until(() => got.length === 3, 3000, 'gap fill');
  server.loseMessages = 1;
  server.publish('room:a', 4);
  await until(() => got.length === 4, 3000, 'tail sync');
  assert.deepEqual(seqs(got), [1, 2, 3, 4]);
  assert.ok(server.frames.some((f) => f.action === 'history'));
});

test('a publish made while disconnected is sent after reconnect and stored once', async (t) => {
  const { server, client } = setup();
  t.after(() => client.close());
  await client.channel('room:a').subscribe(() => {});
  server.refuse = 3;
  server.kill([...server.sockets][0]);
  await until(() => client.state !== 'connected');
  const ack = await client.channel('room:a').publish({ text: 'hi' });
  assert.equal(ack.seq, 1);
  assert.equal(server.stream('room:a').msgs.length, 1);
});

test('a publish whose ack is lost is retried with the same id and not stored twice', async (t) => {
  const { server, client } = setup();
  t.after(() => client.close());
  const got = [];
  await client.channel('room:a').subscribe((m) => got.push(m));
  server.swallowAcks = 1;
  const ack = await client.channel('room:a').publish('once');
  assert.equal(ack.duplicate, true, 'the retry was recognised by its id');
  const ids = server.frames.filter((f) => f.action === 'publish').map((f) => f.id);
  assert.equal(ids.length, 2);
  assert.equal(ids[0], ids[1]);
  assert.equal(server.stream('room:a').msgs.length, 1);
  await until(() => got.length === 1);
});

test('a socket that stops answering pings is replaced', async (t) => {
  const { server, client } = setup();
  t.after(() => client.close());
  await client.channel('room:a').subscribe(() => {});
  const first = client.connectionId;
  server.silent = true;
  await until(() => client.state === 'disconnected', 2000, 'dead socket detected');
  server.silent = false;
  await until(() => client.connected && client.connectionId !== first, 2000, 'new connection');
});

test('the token is refreshed in band before it expires', async (t) => {
  // Tokens expire 1.2 s after they are made, refreshed 1 s before: about every 200 ms.
  const { server, client, tokens } = setup({ refreshLeadMs: 1000 }, 1.2);
  t.after(() => client.close());
  await client.channel('room:a').subscribe(() => {});
  await until(() => server.frames.filter((f) => f.action === 'auth').length >= 2, 3000, 'auth frames');
  assert.equal(server.handshakes.length, 1, 'no reconnect');
  assert.ok(tokens() >= 3);
});

test('a reconnect frame moves the client to a new connection without losing messages', async (t) => {
  const { server, client } = setup();
  t.after(() => client.close());
  const got = [];
  await client.channel('room:a').subscribe((m) => got.push(m));
  server.publish('room:a', 1);
  const ws = [...server.sockets][0];
  server.send(ws, { type: 'reconnect', reason: 'max_duration', after_ms: 0 });
  await until(() => server.handshakes.length === 2 && client.connected, 2000, 'second connection');
  server.publish('room:a', 2);
  await until(() => got.length === 2);
  assert.deepEqual(seqs(got), [1, 2]);
});

test('an epoch change is reported as unrecoverable and the new stream is read from its start', async (t) => {
  const { server, client } = setup();
  t.after(() => client.close());
  const got = [];
  const recovered = [];
  client.on('recovered', (r) => recovered.push(r));
  await client.channel('room:a').subscribe((m) => got.push(m));
  server.publish('room:a', 'old');
  await until(() => got.length === 1);
  server.streams.set('room:a', { epoch: 'e2', msgs: [] });
  server.refuse = 1;
  server.kill([...server.sockets][0]);
  server.publish('room:a', 'new');
  await until(() => got.length === 2, 3000, 'new stream');
  assert.equal(got[1].epoch, 'e2');
  assert.deepEqual(recovered, [{ channel: 'room:a', recovered: false, reason: 'epoch' }]);
});

test('close() stops reconnecting and fails pending publishes', async () => {
  const { server, client, states } = setup();
  await client.channel('room:a').subscribe(() => {});
  server.silent = true;
  const p = client.channel('room:a').publish('x');
  client.close();
  await assert.rejects(p, /closed/);
  assert.equal(states.at(-1), 'closed');
  const n = server.handshakes.length;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(server.handshakes.length, n);
});

test('a publish still unsent at its deadline fails instead of going out late', async (t) => {
  const { server, client } = setup({ publishTimeoutMs: 150 });
  t.after(() => client.close());
  await client.channel('room:a').subscribe(() => {});
  server.refuse = 1000;
  server.kill([...server.sockets][0]);
  await until(() => client.state !== 'connected');
  await assert.rejects(client.channel('room:a').publish('late'), /timeout/);
  assert.equal(server.frames.filter((f) => f.action === 'publish').length, 0);
});

test('a publish answered unavailable (the application\'s hook) is retried and stored once', async (t) => {
  const { server, client } = setup();
  t.after(() => client.close());
  server.unavailable = 2;
  const ack = await client.publish('room:a', { n: 1 });
  assert.equal(ack.seq, 1);
  assert.equal(server.stream('room:a').msgs.length, 1);
  assert.equal(server.unavailable, 0, 'both refusals were retried');
});

test('rpc resolves with the hook\'s data and rejects with its error', async (t) => {
  const { client } = setup();
  t.after(() => client.close());
  await client.channel('room:a').subscribe(() => {});
  assert.deepEqual(await client.rpc('sum', [1, 2]), { method: 'sum', echo: [1, 2] });
  await assert.rejects(client.rpc('secret'), (e) => e.code === 'forbidden');
});
