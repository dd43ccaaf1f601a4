// The example hook server's rules and signature check (node --test); the
// end-to-end run through wsfn-local is clients/rust/tests/example_hooks_node.rs.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createHookServer, rules, verify } from '../server.js';

const SECRET = 'example-secret-0123456789';
const sign = (ts, body) => 'sha256=' + createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex');
const now = () => Math.floor(Date.now() / 1000);

test('the signature is checked over the raw body, with the timestamp', () => {
  const body = '{"hook":"rpc"}';
  const ts = now();
  assert.ok(verify(SECRET, String(ts), Buffer.from(body), sign(ts, body)));
  assert.ok(!verify(SECRET, String(ts), Buffer.from(body + ' '), sign(ts, body)), 'another body');
  assert.ok(!verify('another-secret-0123456', String(ts), Buffer.from(body), sign(ts, body)));
  assert.ok(!verify(SECRET, String(ts - 600), Buffer.from(body), sign(ts - 600, body)), 'too old');
  assert.ok(!verify(SECRET, String(ts), Buffer.from(body), undefined));
});

test('rules: members only, the word filter, persistence, rpc', () => {
  const store = [];
  const r = rules({ members: { 'room:staff': ['ann'] }, bannedWords: ['darn'], store });
  assert.deepEqual(r.subscribe({ user: 'bob', channel: 'room:staff' }).allow, false);
  assert.deepEqual(r.subscribe({ user: 'ann', channel: 'room:staff' }), { allow: true });
  assert.deepEqual(r.subscribe({ user: 'bob', channel: 'room:lobby' }), { allow: true });
  const p = r.publish({ user: 'ann', channel: 'room:lobby', data: { text: 'Darn it' }, id: 'm1' });
  assert.deepEqual(p, { allow: true, data: { text: '**** it' } });
  assert.equal(store.length, 1);
  assert.equal(r.publish({ user: 'ann', channel: 'room:lobby', data: 3 }).code, 'bad_request');
  assert.deepEqual(r.rpc({ method: 'roomMembers', data: { room: 'room:staff' } }), { data: ['ann'] });
  assert.equal(r.rpc({ method: 'nope' }).error.code, 'bad_request');
});

test('the server refuses unsigned requests and answers signed ones', async (t) => {
  const server = createHookServer({ secret: SECRET });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const url = `http://127.0.0.1:${server.address().port}/`;
  const body = JSON.stringify({ hook: 'connect', user: 'ann', claims: { sub: 'ann' } });
  const unsigned = await fetch(url, { method: 'POST', body });
  assert.equal(unsigned.status, 401);
  const ts = now();
  const signed = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'x-wsfn-timestamp': String(ts), 'x-wsfn-signature': sign(ts, body) },
  });
  assert.equal(signed.status, 200);
  assert.deepEqual(await signed.json(), { allow: true, info: { name: 'ann' } });
  assert.throws(() => createHookServer({ secret: 'short' }), /16 characters/);
});
