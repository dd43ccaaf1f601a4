// The idle-only heartbeat under fake timers (node:test's mock timers): pings
// per idle hour, none while frames flow, how soon a dead socket is noticed,
// and a ping at once when the page becomes visible or the network returns.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Client, Heartbeat } from '../wsfn.js';
import { FakeServer } from './fake-server.js';

const HOUR = 3600_000;
const STEP = 100;

/** Fake time moves `ms` forward in steps, letting promises settle after each. */
async function advance(t, ms) {
  for (let left = ms; left > 0; left -= STEP) {
    t.mock.timers.tick(Math.min(STEP, left));
    await new Promise((r) => setImmediate(r));
  }
}

function fakeTimers(t) {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_800_000_000_000 });
}

test('Heartbeat: one ping per idle interval, none while frames arrive, dead after idle + timeout', async (t) => {
  fakeTimers(t);
  let pings = 0;
  let deadAt = null;
  let answer = true;
  const hb = new Heartbeat({
    idleMs: 100_000,
    timeoutMs: 10_000,
    send: () => {
      pings += 1;
      if (answer) setTimeout(() => hb.seen(), 50);
    },
    dead: () => (deadAt = Date.now()),
  });
  hb.start();
  await advance(t, HOUR);
  assert.ok(pings >= 35 && pings <= 36, `${pings} pings in an idle hour`);

  // Frames every 5 s: never a ping.
  pings = 0;
  for (let i = 0; i < 720; i++) {
    hb.seen();
    await advance(t, 5_000);
  }
  assert.equal(pings, 0, 'no ping while frames arrive');

  // The socket dies right after its last frame: noticed idle + timeout later.
  answer = false;
  hb.seen();
  const last = Date.now();
  await advance(t, 200_000);
  assert.equal(pings, 1);
  assert.ok(deadAt !== null, 'dead socket noticed');
  assert.ok(deadAt - last <= 110_000 + STEP, `noticed after ${deadAt - last} ms`);
  assert.ok(deadAt - last >= 110_000, 'not before the timeout');
  hb.stop();
});

test('Heartbeat: pingNow pings at once, but never a second ping while one is out', async (t) => {
  fakeTimers(t);
  let pings = 0;
  const hb = new Heartbeat({ idleMs: 100_000, timeoutMs: 10_000, send: () => (pings += 1), dead: () => {} });
  hb.start();
  await advance(t, 1_000);
  hb.pingNow();
  assert.equal(pings, 1);
  hb.pingNow();
  assert.equal(pings, 1, 'one ping in flight');
  hb.seen();
  hb.pingNow();
  assert.equal(pings, 2);
  hb.stop();
  hb.pingNow();
  assert.equal(pings, 2, 'stopped: nothing sent');
});

/** A client on the fake server with default heartbeat options and a fake page. */
function setup() {
  const server = new FakeServer();
  const document = new EventTarget();
  document.visibilityState = 'visible';
  const window = new EventTarget();
  const b = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const token = `${b({ alg: 'HS256' })}.${b({ sub: 'alice', exp: 4_000_000_000 })}.sig`;
  const client = new Client('ws://fake', {
    WebSocket: server.WebSocket,
    token,
    document,
    window,
    backoff: { baseMs: 10_000, capMs: 10_000 },
  });
  return { server, client, document, window };
}

test('client: an idle hour costs about 36 pings; traffic costs none; a dead socket is left within 110 s', async (t) => {
  fakeTimers(t);
  const { server, client } = setup();
  t.after(() => client.close());
  client.connect();
  await advance(t, 1_000);
  assert.equal(client.state, 'connected');
  assert.equal(client.connectionId, 'conn1');
  assert.equal(server.pings, 1, 'one ping at open (its pong names the connection)');

  await advance(t, HOUR);
  const idle = server.pings - 1;
  assert.ok(idle >= 35 && idle <= 36, `${idle} pings in an idle hour`);
  assert.equal(server.frames.length, server.pings, 'nothing but pings while idle');

  // A subscribed channel with a message every 10 s: no pings for 10 minutes.
  const subscribed = client.channel('room:a').subscribe(() => {});
  await advance(t, 1_000);
  await subscribed;
  const before = server.pings;
  for (let i = 0; i < 60; i++) {
    server.publish('room:a', i);
    await advance(t, 10_000);
  }
  assert.equal(server.pings, before, 'no ping while frames arrive');
  const reads = () => server.frames.filter((f) => f.action === 'history').length;
  assert.equal(reads(), 0, 'a busy channel reads no history');
  // Traffic stops: one read of what follows the last seq (a lost tail), then none.
  await advance(t, 250_000);
  assert.equal(reads(), 1, 'one tail check after the burst');
  await advance(t, 1_000_000);
  assert.equal(reads(), 1, 'quiet channels wait for the hourly check');

  // The server stops answering right after a frame.
  server.publish('room:a', 'last');
  await advance(t, 200);
  const last = Date.now();
  server.silent = true;
  while (client.state === 'connected' && Date.now() - last < 300_000) await advance(t, STEP);
  assert.equal(client.state, 'disconnected');
  assert.ok(Date.now() - last <= 110_000 + 2 * STEP, `dead socket left after ${Date.now() - last} ms`);
});

test('client: the page becoming visible pings at once; the network coming back reconnects at once', async (t) => {
  fakeTimers(t);
  const { server, client, document, window } = setup();
  t.after(() => client.close());
  client.connect();
  await advance(t, 1_000);
  assert.equal(client.state, 'connected');
  await advance(t, 30_000);
  const before = server.pings;
  document.visibilityState = 'hidden';
  document.dispatchEvent(new Event('visibilitychange'));
  assert.equal(server.pings, before, 'hidden: nothing sent');
  document.visibilityState = 'visible';
  document.dispatchEvent(new Event('visibilitychange'));
  await advance(t, 200);
  assert.equal(server.pings, before + 1, 'visible: one ping at once');

  // Offline: the socket drops; the reconnect waits for its backoff (10 s)...
  server.kill([...server.sockets][0]);
  await advance(t, 200);
  assert.equal(client.state, 'disconnected');
  const handshakes = server.handshakes.length;
  // ...until the network is back.
  window.dispatchEvent(new Event('online'));
  await advance(t, 1_000);
  assert.equal(server.handshakes.length, handshakes + 1, 'reconnected without waiting');
  assert.equal(client.state, 'connected');

  client.close();
  const after = server.pings;
  document.dispatchEvent(new Event('visibilitychange'));
  assert.equal(server.pings, after, 'closed: the listeners are gone');
});
