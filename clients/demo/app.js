// The demo chat served by wsfn-local at `/`: rooms, presence, a connection
// badge and a button that drops this page's socket from the gateway's side.
// Query parameters: user, room, ttl (token lifetime, s), ping (ms), lead (token
// refresh lead, ms). `window.wsfnDemo` exposes the state to the browser tests.
import { Client } from '/demo/wsfn.js';

const params = new URLSearchParams(location.search);
const user = params.get('user') || `guest-${Math.random().toString(36).slice(2, 7)}`;
const num = (name, fallback) => Number(params.get(name) || fallback);
const $ = (id) => document.getElementById(id);

const demo = { user, received: {}, states: [], recovered: [], errors: [], tokens: 0, acks: [] };
window.wsfnDemo = demo;

async function getToken() {
  const r = await fetch('/_wsfn/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sub: user, ttl: num('ttl', 3600) }),
  });
  if (!r.ok) throw new Error(`dev token: ${r.status} ${await r.text()}`);
  demo.tokens += 1;
  return (await r.json()).token;
}

const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
const client = new Client(url, {
  getToken,
  pingIntervalMs: num('ping', 100000),
  refreshLeadMs: num('lead', 30000),
});
demo.client = client;

const rooms = new Set(['lobby', params.get('room') || 'lobby']);
let current = null;

function log(text) {
  $('log').textContent = `${new Date().toLocaleTimeString()} ${text}`;
}

function render(room) {
  if (room !== current) return;
  const list = $('messages');
  list.replaceChildren(
    ...(demo.received[room] ?? []).map((m) => {
      const li = document.createElement('li');
      li.dataset.seq = m.seq;
      const from = document.createElement('span');
      from.className = 'from';
      from.textContent = m.from;
      li.append(from, String(m.data?.text ?? JSON.stringify(m.data)));
      return li;
    }),
  );
  list.scrollTop = list.scrollHeight;
}

function renderRooms() {
  $('rooms').replaceChildren(
    ...[...rooms].map((r) => {
      const li = document.createElement('li');
      li.textContent = `# ${r}`;
      li.className = r === current ? 'active' : '';
      li.onclick = () => join(r);
      return li;
    }),
  );
}

async function refreshPresence() {
  if (!current || !client.connected) return;
  try {
    const members = await client.channel(`room:${current}`).presence();
    $('presence').replaceChildren(
      ...members.map((m) => {
        const li = document.createElement('li');
        li.textContent = m.connections > 1 ? `${m.user} (${m.connections})` : m.user;
        return li;
      }),
    );
  } catch (e) {
    log(`presence: ${e.message}`);
  }
}

async function join(room) {
  current = room;
  rooms.add(room);
  renderRooms();
  render(room);
  const ch = client.channel(`room:${room}`);
  if (!demo.received[room]) {
    demo.received[room] = [];
    await ch.subscribe((m) => {
      demo.received[room].push(m);
      render(room);
    });
  }
  refreshPresence();
}

client.on('state', (s) => {
  demo.states.push(s);
  $('state').textContent = s;
  $('state').dataset.state = s;
  if (s === 'connected') refreshPresence();
});
client.on('recovered', (r) => {
  demo.recovered.push(r);
  log(r.recovered ? `${r.channel}: recovered every missed message` : `${r.channel}: some messages were lost`);
});
client.on('error', (e) => {
  demo.errors.push(String(e.message ?? e));
  log(`error: ${e.message ?? e}`);
});

$('composer').onsubmit = async (ev) => {
  ev.preventDefault();
  const text = $('text').value.trim();
  if (!text || !current) return;
  $('text').value = '';
  try {
    demo.acks.push(await client.channel(`room:${current}`).publish({ text }));
  } catch (e) {
    log(`not sent: ${e.message}`);
  }
};

$('new-room').onsubmit = (ev) => {
  ev.preventDefault();
  const name = $('room-name').value.trim();
  $('room-name').value = '';
  if (name) join(name);
};

$('drop').onclick = async () => {
  if (!client.connectionId) return;
  const r = await fetch(`/_wsfn/connections/${encodeURIComponent(client.connectionId)}`, { method: 'DELETE' });
  log(r.ok ? 'connection dropped by the gateway; watch it recover' : `drop: ${r.status}`);
};

$('user').textContent = `signed in as ${user}`;
setInterval(refreshPresence, 5000);
join(params.get('room') || 'lobby');
