// Starts wsfn-local (the debug build scripts/test.sh made) and headless
// Chromium for the browser tests; both are stopped by the test that started them.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const binary = process.env.WSFN_LOCAL_BIN ?? path.join(root, 'target/debug/wsfn-local');

/** Runs wsfn-local on a free port with `args`; resolves once it listens. */
export function startLocal(args = [], env = {}) {
  const child = spawn(binary, ['--port', '0', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`wsfn-local did not start:\n${output}`));
    }, 20000);
    const read = (chunk) => {
      output += chunk;
      const m = output.match(/WebSocket\s+ws:\/\/([\d.]+:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({
          base: `http://${m[1]}`,
          output: () => output,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', done);
              child.kill('SIGINT');
              setTimeout(() => child.kill('SIGKILL'), 5000).unref();
            }),
        });
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`wsfn-local exited with ${code}:\n${output}`));
    });
  });
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--disable-features=LocalNetworkAccessChecks'],
  });
}

/** Opens the demo as `user` (extra query parameters in `query`) and waits until it is connected. */
export async function openDemo(browser, base, user, query = {}) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  const q = new URLSearchParams({ user, ...query });
  await page.goto(`${base}/?${q}`);
  await page.waitForFunction(() => window.wsfnDemo?.client.connected, null, { timeout: 10000 });
  page.jsErrors = errors;
  return page;
}

/** The seqs a page has received in `room`. */
export function received(page, room = 'lobby') {
  return page.evaluate((r) => (window.wsfnDemo.received[r] ?? []).map((m) => m.seq), room);
}

/** Publishes `n` messages from `page` into `room`, `gapMs` apart; resolves with the acks. */
export function publishMany(page, n, gapMs = 25, room = 'lobby') {
  return page.evaluate(
    async ({ n, gapMs, room }) => {
      const ch = window.wsfnDemo.client.channel(`room:${room}`);
      const acks = [];
      for (let i = 1; i <= n; i++) {
        acks.push(ch.publish({ text: `m${i}` }));
        await new Promise((r) => setTimeout(r, gapMs));
      }
      return Promise.all(acks);
    },
    { n, gapMs, room },
  );
}

export const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
