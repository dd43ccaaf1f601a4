// Compiled (not run) by types.test.js: the declarations in clients/js/wsfn.d.ts
// describe the README's usage.
import { Client, WsfnError, type Message, type State } from '../../clients/js/wsfn.js';

const client = new Client('wss://example.execute-api.eu-west-1.amazonaws.com/prod', {
  getToken: async () => 'jwt',
  pingIntervalMs: 20000,
  backoff: { baseMs: 500, capMs: 20000 },
});
const off = client.on('state', (s: State) => s === 'connected');
client.on('recovered', (r) => r.lost?.map((l) => l.to - l.from));
client.on('error', (e) => (e instanceof WsfnError ? e.code : e.message));
const room = client.channel<{ text: string }>('room:lobby');
room.subscribe((m: Message<{ text: string }>) => m.data.text.toUpperCase() + m.seq);
room.publish({ text: 'hi' }).then((ack) => ack.duplicate || (ack.seq ?? 0) > 0);
room.publish({ text: 'typing' }, { ephemeral: true, echo: false }).then((ack) => ack.ephemeral === true);
room.on('join', (m) => m.user + JSON.stringify(m.info ?? {}));
room.on('leave', (m) => m.user);
client.on('disconnect', (d) => (d.reconnect === false ? `${d.code} ${d.reason}` : ''));
client.on('subscribed', (s) => client.channel(s.channel).subscribe());
room.history({ since: { seq: 1, epoch: 'e' }, limit: 10 }).then((p) => p.messages.length + Number(p.complete));
room.presence().then((members) => members.map((m) => m.user + m.connections + String(m.info?.name)));
const id: string | null = client.connectionId;
document.addEventListener('resume', () => client.wake());
off();
client.close();
export { id };
