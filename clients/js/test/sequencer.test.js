// Ordering and gap logic (node --test).
import test from 'node:test';
import assert from 'node:assert/strict';
import { Sequencer } from '../sequencer.js';
import { backoffDelay } from '../backoff.js';
import { tokenExpiry } from '../token.js';

const msg = (seq, epoch = 'e1') => ({ type: 'message', channel: 'c', seq, epoch, data: seq });
const seqs = (list) => list.map((m) => m.seq);

test('in-order messages are delivered at once', () => {
  const s = new Sequencer();
  s.start('e1', 0);
  assert.deepEqual(seqs(s.push(msg(1))), [1]);
  assert.deepEqual(seqs(s.push(msg(2))), [2]);
  assert.equal(s.behind, false);
});

test('early messages wait for the gap, then come out in order', () => {
  const s = new Sequencer();
  s.start('e1', 3);
  assert.deepEqual(s.push(msg(6)), []);
  assert.deepEqual(s.push(msg(5)), []);
  assert.equal(s.behind, true);
  assert.equal(s.nextHeld, 5);
  assert.deepEqual(seqs(s.push(msg(4))), [4, 5, 6]);
  assert.equal(s.behind, false);
});

test('duplicates and old messages are dropped', () => {
  const s = new Sequencer();
  s.start('e1', 0);
  s.push(msg(1));
  assert.deepEqual(s.push(msg(1)), []);
  s.push(msg(3));
  assert.deepEqual(s.push(msg(3)), [], 'a held message is not held twice');
  assert.deepEqual(seqs(s.push(msg(2))), [2, 3]);
  assert.deepEqual(s.push(msg(2)), []);
});

test('skipTo declares a range lost and releases what follows', () => {
  const s = new Sequencer();
  s.start('e1', 0);
  s.push(msg(4));
  s.push(msg(5));
  assert.deepEqual(seqs(s.skipTo(3)), [4, 5]);
  assert.equal(s.seq, 5);
  assert.deepEqual(s.skipTo(2), [], 'never moves back');
});

test('acks and subscribed replies raise the head: a missing seq shows as behind', () => {
  const s = new Sequencer();
  s.start('e1', 2);
  s.see(4);
  assert.equal(s.behind, true);
  s.push(msg(3));
  s.push(msg(4));
  assert.equal(s.behind, false);
});

test('messages before the first subscribed reply are held, then kept past the start', () => {
  const s = new Sequencer();
  assert.deepEqual(s.push(msg(1)), [], 'nothing is delivered before start');
  s.push(msg(8));
  s.push(msg(9));
  assert.deepEqual(seqs(s.start('e1', 7)), [8, 9]);
  assert.equal(s.seq, 9);
});

test('another epoch is recognised; an empty epoch adopts the first stream seen', () => {
  const s = new Sequencer();
  s.start('', 0);
  assert.equal(s.isOtherEpoch('e1'), false);
  assert.deepEqual(seqs(s.push(msg(1, 'e1'))), [1]);
  assert.equal(s.epoch, 'e1');
  assert.equal(s.isOtherEpoch('e2'), true);
});

test('full jitter: uniform below min(cap, base * 2^attempt)', () => {
  assert.equal(backoffDelay(0, { baseMs: 500, capMs: 20000 }, () => 0.999), 499);
  assert.equal(backoffDelay(3, { baseMs: 500, capMs: 20000 }, () => 0.5), 2000);
  assert.equal(backoffDelay(10, { baseMs: 500, capMs: 20000 }, () => 0.999), 19980);
  assert.equal(backoffDelay(1000, { baseMs: 500, capMs: 20000 }, () => 0), 0);
  for (let i = 0; i < 100; i++) assert.ok(backoffDelay(2) < 2000);
});

test('token expiry is read from the payload', () => {
  const payload = Buffer.from(JSON.stringify({ sub: 'a', exp: 1700000000 })).toString('base64url');
  assert.equal(tokenExpiry(`x.${payload}.y`), 1700000000 * 1000);
  assert.equal(tokenExpiry('garbage'), null);
});

// A seeded generator (mulberry32): the same cases on every run; the seed is
// printed when a case fails, so it can be replayed.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('property: any interleaving delivers each seq once, in order, or reports it lost (500 cases)', () => {
  for (let seed = 1; seed <= 500; seed++) {
    const r = rng(seed);
    const int = (n) => Math.floor(r() * n);
    const n = 1 + int(60);
    const startAfter = Math.min(n, int(3));
    const missing = new Set();
    for (let q = 1; q <= n; q++) if (r() < 0.15) missing.add(q);
    // Arrivals: every frame not missing, shuffled, some twice.
    const arrivals = [];
    for (let q = 1; q <= n; q++) if (!missing.has(q)) arrivals.push(q);
    for (let i = arrivals.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [arrivals[i], arrivals[j]] = [arrivals[j], arrivals[i]];
    }
    for (let i = 0, d = int(10); i < d && arrivals.length; i++) arrivals.splice(int(arrivals.length), 0, arrivals[int(arrivals.length)]);
    const s = new Sequencer();
    const delivered = [];
    const early = Math.floor(arrivals.length / 4);
    for (const q of arrivals.slice(0, early)) delivered.push(...seqs(s.push(msg(q))));
    delivered.push(...seqs(s.start('e1', startAfter)));
    for (const q of arrivals.slice(early)) delivered.push(...seqs(s.push(msg(q))));
    s.see(n);
    // The gaps: history has some, the rest is declared lost.
    const lost = [];
    for (let q = startAfter + 1; q <= n; q++) {
      if (!missing.has(q) || q <= s.seq) continue;
      if (r() < 0.5) delivered.push(...seqs(s.push(msg(q))));
      else {
        lost.push(q);
        delivered.push(...seqs(s.skipTo(q)));
      }
    }
    for (let i = 1; i < delivered.length; i++) {
      assert.ok(delivered[i - 1] < delivered[i], `seed ${seed}: out of order or twice: ${delivered}`);
    }
    const all = [...new Set([...delivered, ...lost])].sort((a, b) => a - b);
    const want = Array.from({ length: n - startAfter }, (_, i) => startAfter + 1 + i);
    assert.deepEqual(all, want, `seed ${seed}`);
    assert.equal(s.behind, false, `seed ${seed}`);
  }
});

test('own(): a seq published with echo: false counts as delivered, to no one', () => {
  const s = new Sequencer();
  s.start('e', 0);
  const m = (seq) => ({ type: 'message', channel: 'c', epoch: 'e', seq });
  assert.deepEqual(s.push(m(2)), []);
  assert.deepEqual(s.own(1).map((x) => x.seq), [2]);
  assert.deepEqual(s.own(4), []);
  assert.equal(s.behind, true, 'seq 3 is missing');
  assert.deepEqual(s.push(m(3)).map((x) => x.seq), [3]);
  assert.equal(s.seq, 4);
  assert.deepEqual(s.push(m(4)), [], 'its own message from history is not delivered');
});
