// A wsfn hook server in plain Node.js (no dependencies): copy it, then put
// your own rules where these are. One endpoint takes every hook
// (docs/protocol.md §10); configure it with
//   HOOKS='{"connect": "https://you/hooks", "subscribe": {"target": "https://you/hooks", "channels": ["room:*"]},
//           "publish": {"target": "https://you/hooks", "channels": ["room:*"]}, "rpc": "https://you/hooks"}'
// and the same HOOK_SECRET on both sides.
//
// What it does, as an example of each hook:
// - connect: allows, with the member's display name as `info`;
// - subscribe: private rooms (`members`) only for their members;
// - publish: a word filter that rewrites the message, and keeps every
//   message it allowed (`store`: your database here);
// - rpc: `roomMembers` answers who may enter a room.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

/** Requests older than this (or from the future) are refused. */
const MAX_SKEW_SECONDS = 300;

/** Whether `signature` is `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` under `secret`. */
export function verify(secret, timestamp, body, signature) {
  const ts = Number(timestamp);
  if (!Number.isInteger(ts) || Math.abs(Date.now() / 1000 - ts) > MAX_SKEW_SECONDS) return false;
  const expected = 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  const got = Buffer.from(String(signature ?? ''));
  const want = Buffer.from(expected);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** The rules: one function per hook, each returning the answer object. */
export function rules({ members = {}, bannedWords = [], store = [] } = {}) {
  const filter = (text) =>
    bannedWords.reduce((t, w) => t.replace(new RegExp(`\\b${w}\\b`, 'gi'), '*'.repeat(w.length)), text);
  return {
    connect: (req) => ({ allow: true, info: { name: req.claims?.name ?? req.user } }),
    subscribe: (req) => {
      const allowed = members[req.channel];
      if (allowed && !allowed.includes(req.user)) {
        return { allow: false, code: 'forbidden', message: `${req.channel} is for its members` };
      }
      return { allow: true };
    },
    publish: (req) => {
      const data = req.data;
      if (typeof data?.text !== 'string') {
        return { allow: false, code: 'bad_request', message: 'a message is {"text": string}' };
      }
      const clean = { ...data, text: filter(data.text) };
      store.push({ channel: req.channel, user: req.user, data: clean, id: req.id ?? null });
      return { allow: true, data: clean };
    },
    rpc: (req) => {
      if (req.method === 'roomMembers') return { data: members[req.data?.room] ?? null };
      return { error: { code: 'bad_request', message: `no method ${req.method}` } };
    },
  };
}

/** An HTTP server answering every hook at any path; `listen` it. */
export function createHookServer({ secret, ...options }) {
  if (!secret || secret.length < 16) throw new Error('HOOK_SECRET: at least 16 characters');
  const hooks = rules(options);
  return createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const answer = (status, value) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.method !== 'POST') return answer(405, { error: 'POST only' });
      if (!verify(secret, req.headers['x-wsfn-timestamp'], body, req.headers['x-wsfn-signature'])) {
        // Not from wsfn (or replayed): wsfn refuses the action (fail closed).
        return answer(401, { error: 'bad signature' });
      }
      let request;
      try {
        request = JSON.parse(body.toString('utf8'));
      } catch {
        return answer(400, { error: 'not JSON' });
      }
      const hook = hooks[request.hook];
      if (!hook) return answer(400, { error: `unknown hook ${request.hook}` });
      answer(200, hook(request));
    });
  });
}

// `node server.js`: PORT, HOOK_SECRET, MEMBERS (JSON: channel → users), BANNED_WORDS (comma list).
if (import.meta.url === `file://${process.argv[1]}`) {
  const server = createHookServer({
    secret: process.env.HOOK_SECRET,
    members: JSON.parse(process.env.MEMBERS ?? '{}'),
    bannedWords: (process.env.BANNED_WORDS ?? '').split(',').filter(Boolean),
  });
  server.listen(Number(process.env.PORT ?? 4000), '127.0.0.1', () => {
    console.log(`hooks on http://127.0.0.1:${server.address().port}`);
  });
}
