// The JS client and the demo app in headless Chromium against wsfn-local.
import test from 'node:test';
import assert from 'node:assert/strict';
import { launch, openDemo, publishMany, range, received, startLocal } from './support.js';

/** Runs `body` with a fresh wsfn-local (extra `args`, `env`) and browser; stops both. */
async function withStack(args, env, body) {
  const local = await startLocal(args, env);
  const browser = await launch();
  try {
    await body(browser, local.base, local);
  } finally {
    await browser.close();
    await local.stop();
  }
}

const waitForSeqs = (page, n, timeout = 15000) =>
  page.waitForFunction((n) => (window.wsfnDemo.received.lobby ?? []).length >= n, n, { timeout });

test('two pages chat through the demo, with presence', async () => {
  await withStack([], {}, async (browser, base) => {
    const alice = await openDemo(browser, base, 'alice');
    const bob = await openDemo(browser, base, 'bob');
    await alice.fill('#text', 'hello from alice');
    await alice.press('#text', 'Enter');
    await bob.locator('#messages li', { hasText: 'hello from alice' }).waitFor({ timeout: 10000 });
    await bob.fill('#text', 'hi alice');
    await bob.click('#send');
    await alice.locator('#messages li', { hasText: 'hi alice' }).waitFor({ timeout: 10000 });
    assert.deepEqual(await alice.locator('#messages li').allTextContents(), ['alicehello from alice', 'bobhi alice']);
    await alice.waitForFunction(
      () => ['alice', 'bob'].every((u) => [...document.querySelectorAll('#presence li')].some((li) => li.textContent === u)),
      null,
      { timeout: 12000 },
    );
    assert.equal(await alice.locator('#state').textContent(), 'connected');
    assert.deepEqual([...alice.jsErrors, ...bob.jsErrors], []);
  });
});

test('a page whose socket the gateway drops mid-stream shows every message once, in order', async () => {
  await withStack([], {}, async (browser, base) => {
    const reader = await openDemo(browser, base, 'reader');
    const writer = await openDemo(browser, base, 'writer');
    const first = await reader.evaluate(() => window.wsfnDemo.client.connectionId);
    const publishing = publishMany(writer, 40, 30);
    await reader.waitForFunction(() => window.wsfnDemo.received.lobby.length >= 10);
    await reader.click('#drop');
    await publishing;
    await waitForSeqs(reader, 40);
    assert.deepEqual(await received(reader), range(1, 40));
    const seqsShown = await reader.locator('#messages li').evaluateAll((lis) => lis.map((li) => Number(li.dataset.seq)));
    assert.deepEqual(seqsShown, range(1, 40));
    const demo = await reader.evaluate(() => ({
      states: window.wsfnDemo.states,
      recovered: window.wsfnDemo.recovered,
      id: window.wsfnDemo.client.connectionId,
    }));
    assert.ok(demo.states.includes('disconnected'), `the drop was seen: ${demo.states}`);
    assert.notEqual(demo.id, first, 'a new connection');
    // The room's recovery (the typing channel, ephemeral only, reports its own).
    const room = demo.recovered.filter((r) => r.channel === 'room:lobby');
    assert.deepEqual(room, [{ channel: 'room:lobby', recovered: true, lost: [] }]);
  });
});

test('a publish made while disconnected is delivered exactly once after the reconnect', async () => {
  await withStack([], {}, async (browser, base) => {
    const sender = await openDemo(browser, base, 'sender');
    const other = await openDemo(browser, base, 'other');
    const ack = await sender.evaluate(async () => {
      const { client } = window.wsfnDemo;
      const sent = new Promise((resolve, reject) => {
        const off = client.on('state', (s) => {
          if (s !== 'disconnected') return;
          off();
          // Offline now: the publish waits in the outbox for the next connection.
          client.channel('room:lobby').publish({ text: 'sent while offline' }).then(resolve, reject);
        });
      });
      await fetch(`/_wsfn/connections/${client.connectionId}`, { method: 'DELETE' });
      return sent;
    });
    assert.equal(ack.seq, 1);
    await waitForSeqs(other, 1);
    await new Promise((r) => setTimeout(r, 1500));
    const texts = await other.evaluate(() => window.wsfnDemo.received.lobby.map((m) => m.data.text));
    assert.deepEqual(texts, ['sent while offline']);
    const history = await other.evaluate(() => window.wsfnDemo.client.channel('room:lobby').history());
    assert.deepEqual(history.messages.map((m) => m.data.text), ['sent while offline']);
  });
});

test('a token that expires is refreshed in band, without a visible drop', async () => {
  // No clock-skew leeway: a token past `exp` is refused at once.
  await withStack([], { JWT_LEEWAY_SECONDS: '0' }, async (browser, base) => {
    const page = await openDemo(browser, base, 'refresher', { ttl: '3', lead: '1500' });
    const id = await page.evaluate(() => window.wsfnDemo.client.connectionId);
    await new Promise((r) => setTimeout(r, 7000));
    const acks = await publishMany(page, 3, 50);
    assert.deepEqual(acks.map((a) => a.seq), [1, 2, 3]);
    const demo = await page.evaluate(() => ({
      states: window.wsfnDemo.states,
      tokens: window.wsfnDemo.tokens,
      errors: window.wsfnDemo.errors,
      id: window.wsfnDemo.client.connectionId,
    }));
    assert.deepEqual(demo.states, ['connecting', 'connected'], 'never disconnected');
    assert.equal(demo.id, id, 'the same connection');
    assert.ok(demo.tokens >= 4, `refreshed ${demo.tokens - 1} times`);
    assert.deepEqual(demo.errors, []);
  });
});

test('the two-hour cap (--max-duration) is crossed without losing a message', async () => {
  await withStack(['--max-duration', '4'], {}, async (browser, base) => {
    const reader = await openDemo(browser, base, 'reader');
    const writer = await openDemo(browser, base, 'writer');
    await publishMany(writer, 30, 200);
    await waitForSeqs(reader, 30, 20000);
    assert.deepEqual(await received(reader), range(1, 30));
    const states = await reader.evaluate(() => window.wsfnDemo.states);
    assert.ok(states.filter((s) => s === 'connected').length >= 2, `reconnected at the cap: ${states}`);
  });
});

test('with 20 % of deliveries dropped, every page still ends with the complete, ordered stream', async () => {
  await withStack(['--drop-deliveries', '0.2'], {}, async (browser, base) => {
    const pages = [];
    for (const user of ['p1', 'p2', 'p3']) pages.push(await openDemo(browser, base, user, { ping: '500' }));
    await Promise.all(pages.map((p, i) => publishMany(p, 15, 40 + i * 7)));
    for (const p of pages) await waitForSeqs(p, 45, 20000);
    for (const p of pages) assert.deepEqual(await received(p), range(1, 45));
    const stats = await (await fetch(`${base}/_wsfn/stats`)).json();
    assert.ok(stats.dropped_deliveries >= 10, `deliveries were dropped: ${JSON.stringify(stats)}`);
    for (const p of pages) {
      const states = await p.evaluate(() => window.wsfnDemo.states);
      assert.deepEqual(states, ['connecting', 'connected'], 'filled from history, no reconnect');
    }
  });
});

test('the demo shows who joins and leaves and who is typing, and a server disconnect is final', async () => {
  await withStack([], {}, async (browser, base) => {
    const here = (page) =>
      page.locator('#presence li').evaluateAll((lis) => lis.map((li) => li.dataset.user).sort());
    const alice = await openDemo(browser, base, 'alice');
    await alice.waitForFunction(() => document.querySelector('#presence li[data-user="alice"]'), null, { timeout: 10000 });
    const bob = await openDemo(browser, base, 'bob');
    // alice hears bob join (an event, not a poll) with his color.
    await alice.waitForFunction(() => window.wsfnDemo.events.some((e) => e.type === 'join' && e.user === 'bob'), null, {
      timeout: 10000,
    });
    const join = await alice.evaluate(() => window.wsfnDemo.events.find((e) => e.user === 'bob'));
    assert.match(join.info.color, /^hsl\(/);
    assert.deepEqual(await here(alice), ['alice', 'bob']);
    await bob.waitForFunction(() => document.querySelectorAll('#presence li').length === 2, null, { timeout: 10000 });
    // bob types: alice sees the indicator; bob's page is not sent its own.
    await bob.type('#text', 'hel', { delay: 20 });
    await alice.locator('#typing', { hasText: 'bob is typing' }).waitFor({ timeout: 10000 });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await bob.evaluate(() => window.wsfnDemo.typing), []);
    const typed = await alice.evaluate(() => window.wsfnDemo.typing);
    assert.ok(typed.length >= 1 && typed.every((t) => t.from === 'bob'), JSON.stringify(typed));
    // The indicator is ephemeral: no message in the room, nothing stored.
    const history = await alice.evaluate(() => window.wsfnDemo.client.channel('typing:lobby').history());
    assert.deepEqual(history.messages, []);
    await alice.waitForFunction(() => document.querySelector('#typing').textContent === '', null, { timeout: 6000 });
    // The backend disconnects bob for good: his page is told and stays closed; alice sees him leave.
    const r = await fetch(`${base}/2015-03-31/functions/PublishFunction/invocations`, {
      method: 'POST',
      body: JSON.stringify({ disconnect: { user: 'bob', code: 4003, reason: 'banned' } }),
    });
    assert.deepEqual(await r.json(), { disconnected: 1 });
    await bob.waitForFunction(() => window.wsfnDemo.client.state === 'closed', null, { timeout: 10000 });
    const told = await bob.evaluate(() => window.wsfnDemo.disconnects);
    assert.deepEqual(told, [{ code: 4003, reason: 'banned', reconnect: false, server: true }]);
    assert.equal(await bob.locator('#state').textContent(), 'closed');
    await alice.waitForFunction(() => window.wsfnDemo.events.some((e) => e.type === 'leave' && e.user === 'bob'), null, {
      timeout: 10000,
    });
    assert.deepEqual(await here(alice), ['alice']);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await bob.evaluate(() => window.wsfnDemo.client.state), 'closed', 'no reconnect');
    assert.deepEqual([...alice.jsErrors, ...bob.jsErrors], []);
  });
});

test('the moderated room passes the demo publish hook: what arrives is rewritten', async () => {
  await withStack([], {}, async (browser, base) => {
    const alice = await openDemo(browser, base, 'alice', { room: 'moderated' });
    const bob = await openDemo(browser, base, 'bob', { room: 'moderated' });
    await alice.fill('#text', 'darn this heck of a bug');
    await alice.press('#text', 'Enter');
    await bob.locator('#messages li', { hasText: 'this' }).waitFor({ timeout: 10000 });
    assert.deepEqual(await bob.locator('#messages li').allTextContents(), ['alice**** this **** of a bug']);
    // The lobby has no hook: the same words arrive as written.
    await alice.locator('#rooms li', { hasText: 'lobby' }).click();
    await bob.locator('#rooms li', { hasText: 'lobby' }).click();
    await alice.waitForFunction(() => window.wsfnDemo.received.lobby !== undefined, null, { timeout: 10000 });
    await bob.waitForFunction(() => window.wsfnDemo.received.lobby !== undefined, null, { timeout: 10000 });
    await alice.fill('#text', 'darn');
    await alice.press('#text', 'Enter');
    await bob.locator('#messages li', { hasText: 'darn' }).waitFor({ timeout: 10000 });
    assert.deepEqual([...alice.jsErrors, ...bob.jsErrors], []);
  });
});
