// Type declarations for wsfn.js (docs/protocol.md is the wire contract).

export type State = 'connecting' | 'connected' | 'disconnected' | 'closed';

/** A `message` frame: one publish on a channel. */
export interface Message<T = unknown> {
  type: 'message';
  channel: string;
  /** Absent on ephemeral messages. */
  seq?: number;
  /** Absent on ephemeral messages. */
  epoch?: string;
  data: T;
  /** The publisher's `sub`, or `@server` for the backend's publishes. */
  from: string;
  ts: number;
  id?: string;
  /** Not sequenced or stored; delivered at once, unordered. */
  ephemeral?: true;
}

export interface Ack {
  type: 'ack';
  id: string;
  channel: string;
  /** Absent for an ephemeral publish. */
  seq?: number;
  /** True when the server had already stored this publish (a retry); absent for an ephemeral one. */
  duplicate?: boolean;
  ephemeral?: true;
}

export interface PublishOptions {
  /** Not sequenced, stored or retried (EPHEMERAL_CHANNELS only): typing indicators, cursors. Fails when offline. */
  ephemeral?: boolean;
  /** false: this connection is not sent its own message (default true). */
  echo?: boolean;
}

/** A member's public data: the token's `info` claim (an object ≤ 1 KB). */
export type MemberInfo = Record<string, unknown>;

/** A `join` (a user's first connection subscribed) or `leave` (its last one left), PRESENCE_EVENTS channels. */
export interface MemberEvent {
  user: string;
  /** On `join`, when the member has some. */
  info?: MemberInfo;
}

/** Why the connection closed; `server: true` for the backend's `disconnect` frame. */
export interface Disconnect {
  code: number;
  reason: string;
  /** From a `disconnect` frame: false is final (the client is closed). */
  reconnect?: boolean;
  server?: true;
}

export interface Since {
  seq: number;
  epoch: string;
}

export interface HistoryPage<T = unknown> {
  type: 'history';
  channel: string;
  epoch: string;
  messages: Message<T>[];
  complete: boolean;
}

export interface Member {
  user: string;
  connections: number;
  info?: MemberInfo;
}

/** After a reconnect: whether every missed message was delivered. */
export interface Recovered {
  channel: string;
  recovered: boolean;
  /** Seq ranges that history no longer holds. */
  lost?: { from: number; to: number }[];
  /** `epoch`: the stream restarted; its earlier messages are gone. */
  reason?: 'epoch';
}

export interface BackoffOptions {
  /** First reconnect delay ceiling (500 ms). */
  baseMs?: number;
  /** Largest delay ceiling (20 s). */
  capMs?: number;
}

export interface ClientOptions {
  /** Returns a JWT; called before connecting and `refreshLeadMs` before `exp`. */
  getToken?: () => Promise<string> | string;
  /** A fixed token (no refresh). */
  token?: string;
  /** WebSocket constructor (default: the global one). */
  WebSocket?: new (url: string, protocols?: string | string[]) => WebSocket;
  /** Ping after this long without any inbound frame (100 s; README, "Cost model"). */
  pingIntervalMs?: number;
  /** A ping that no frame answers within this long means a dead socket (10 s). */
  pongTimeoutMs?: number;
  /** Where `visibilitychange` is heard (default: the global `document`). */
  document?: EventTarget & { visibilityState?: string };
  /** Where `online` is heard (default: the global `window`). */
  window?: EventTarget;
  /** Full-jitter reconnect backoff. */
  backoff?: BackoffOptions;
  /** A connection up this long resets the backoff (60 s). */
  stableAfterMs?: number;
  /** Refresh the token this long before `exp` (30 s). */
  refreshLeadMs?: number;
  /** Replies later than this fail the request (10 s). */
  requestTimeoutMs?: number;
  /** An unacked publish fails after this long (240 s, below the server's 300 s idempotency window). */
  publishTimeoutMs?: number;
  /** How long an out-of-order message waits for its gap before history is read (1 s). */
  gapWaitMs?: number;
  /** Channels whose traffic stopped check for a lost tail each `pingIntervalMs`; every Nth time, quiet channels too (36: hourly). */
  syncEveryPings?: number;
}

export class WsfnError extends Error {
  constructor(code: string, message: string, frame?: unknown);
  /** A protocol error code (`forbidden`, `rate_limited`, `unavailable`, ...) or `timeout`, `disconnected`, `closed`. */
  code: string;
  frame?: unknown;
}

export class Channel<T = unknown> {
  readonly name: string;
  /** Receives each message once, in `seq` order; resolves when subscribed. */
  subscribe(onMessage?: (message: Message<T>) => void): Promise<void>;
  unsubscribe(): Promise<void>;
  /** Resolves with the ack; retried across reconnects with one id, never stored twice (ephemeral: sent once). */
  publish(data: T, options?: PublishOptions): Promise<Ack>;
  /** `join` / `leave` of users on a PRESENCE_EVENTS channel. */
  on(event: 'join' | 'leave', fn: (member: MemberEvent) => void): () => void;
  /** One page of history. */
  history(options?: { since?: Since; limit?: number }): Promise<HistoryPage<T>>;
  /** Every member (all pages). */
  presence(): Promise<Member[]>;
}

export class Client {
  constructor(url: string, options: ClientOptions);
  readonly state: State;
  /** This connection's id (from `pong`), for server-side tooling; null while disconnected. */
  readonly connectionId: string | null;
  readonly connected: boolean;
  channel<T = unknown>(name: string): Channel<T>;
  publish<T = unknown>(channel: string, data: T, options?: PublishOptions): Promise<Ack>;
  /** Calls the application's `rpc` hook; resolves with its `data` (rejects with its error, or `unavailable`). */
  rpc<R = unknown>(method: string, data?: unknown): Promise<R>;
  connect(): void;
  close(): void;
  /** The page became visible or the network came back: ping now if connected, reconnect now if waiting to. */
  wake(): void;
  on(event: 'state', fn: (state: State) => void): () => void;
  on(event: 'error', fn: (error: Error) => void): () => void;
  on(event: 'recovered', fn: (report: Recovered) => void): () => void;
  on(event: 'disconnect', fn: (close: Disconnect) => void): () => void;
  /** The backend (un)subscribed this connection (server API). */
  on(event: 'subscribed' | 'unsubscribed', fn: (s: { channel: string; server: true }) => void): () => void;
}

/** Pings only after `idleMs` without inbound frames; `dead` when a ping gets no frame within `timeoutMs`. */
export class Heartbeat {
  constructor(options: { idleMs: number; timeoutMs: number; send: () => void; dead: () => void });
  start(): void;
  stop(): void;
  seen(): void;
  pingNow(): void;
}

export class Sequencer {
  epoch: string | null;
  seq: number;
  head: number;
  start(epoch: string, seq: number): Message[];
  isOtherEpoch(epoch: string): boolean;
  see(seq: number): void;
  push(message: Message): Message[];
  skipTo(seq: number): Message[];
  own(seq: number): Message[];
  readonly behind: boolean;
  readonly nextHeld: number | null;
}

export function backoffDelay(
  attempt: number,
  options?: BackoffOptions,
  random?: () => number,
): number;

export function tokenExpiry(token: string): number | null;
