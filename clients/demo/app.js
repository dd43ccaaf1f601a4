// The demo chat served by wsfn-local at `/`: rooms, who is here (kept by
// join/leave events), a typing indicator (ephemeral messages), a connection
// badge and a button that drops this page's socket from the gateway's side.
// Query parameters: user, room, ttl (token lifetime, s), ping (ms), lead (token
// refresh lead, ms). `window.wsfnDemo` exposes the state to the browser tests.
import { Client } from '/demo/wsfn.js';

const params = new URLSearchParams(location.search);
const user = params.get('user') || `guest-${Math.random().toString(36).slice(2, 7)}`;
const num = (name, fallback) => Number(params.get(name) || fallback);
const $ = (id) => document.getElementById(id);

const demo = {
  user,
  received: {},
  states: [],
  recovered: [],
  errors: [],
  tokens: 0,
  acks: [],
  members: {},
  events: [],
  typing: [],
  disconnects: [],
};
window.wsfnDemo = demo;

async function getToken() {
  const r = await fetch('/_wsfn/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      sub: user,
      ttl: num('ttl', 3600),
      subscribe: ['room:*', 'typing:*'],
      publish: ['room:*', 'typing:*'],
      // The member's public data: shown beside the name in "Here".
      info: { color: color(user) },
    }),
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

// `moderated`: wsfn-local's demo publish hook masks a few words there.
const rooms = new Set(['lobby', 'moderated', params.get('room') || 'lobby']);
let current = null;

function color(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 360;
  return `hsl(${h} 60% 45%)`;
}

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

function renderPresence() {
  const members = demo.members[current] ?? new Map();
  $('presence').replaceChildren(
    ...[...members.values()].map((m) => {
      const li = document.createElement('li');
      li.dataset.user = m.user;
      const dot = document.createElement('span');
      dot.className = 'dot';
      dot.style.background = m.info?.color ?? '#888';
      li.append(dot, m.user);
      return li;
    }),
  );
}

/** Who is here: read once per (re)connection, then kept by join/leave events. */
async function loadPresence(room) {
  if (!client.connected) return;
  try {
    const list = await client.channel(`room:${room}`).presence();
    demo.members[room] = new Map(list.map((m) => [m.user, m]));
    if (room === current) renderPresence();
  } catch (e) {
    log(`presence: ${e.message}`);
  }
}

const typers = new Map();
function renderTyping() {
  const names = [...typers.keys()];
  $('typing').textContent = names.length ? `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} typing…` : '';
}

async function join(room) {
  current = room;
  rooms.add(room);
  renderRooms();
  render(room);
  renderPresence();
  typers.clear();
  renderTyping();
  const ch = client.channel(`room:${room}`);
  if (!demo.received[room]) {
    demo.received[room] = [];
    demo.members[room] = new Map();
    ch.on('join', (m) => {
      demo.events.push({ type: 'join', room, ...m });
      demo.members[room].set(m.user, { ...m, connections: 1 });
      if (room === current) renderPresence();
    });
    ch.on('leave', (m) => {
      demo.events.push({ type: 'leave', room, ...m });
      demo.members[room].delete(m.user);
      if (room === current) renderPresence();
    });
    await ch.subscribe((m) => {
      demo.received[room].push(m);
      render(room);
    });
    // Someone else's keystrokes: ephemeral, never stored, shown for 3 s.
    await client.channel(`typing:${room}`).subscribe((m) => {
      demo.typing.push({ room, from: m.from });
      if (room !== current || m.from === user) return;
      clearTimeout(typers.get(m.from));
      typers.set(
        m.from,
        setTimeout(() => {
          typers.delete(m.from);
          renderTyping();
        }, 3000),
      );
      renderTyping();
    });
  }
  loadPresence(room);
}

// At most one typing signal per 1.5 s while typing; not echoed to this page.
let lastTyping = 0;
$('text').oninput = () => {
  if (!current || Date.now() - lastTyping < 1500) return;
  lastTyping = Date.now();
  client
    .channel(`typing:${current}`)
    .publish({ typing: true }, { ephemeral: true, echo: false })
    .catch(() => {});
};

client.on('state', (s) => {
  demo.states.push(s);
  $('state').textContent = s;
  $('state').dataset.state = s;
  // Events missed while away: read the list again.
  if (s === 'connected' && current) loadPresence(current);
});
client.on('disconnect', (d) => {
  demo.disconnects.push(d);
  if (d.server) log(`disconnected by the server: ${d.code} ${d.reason}${d.reconnect ? ' (reconnecting)' : ''}`);
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
join(params.get('room') || 'lobby');
