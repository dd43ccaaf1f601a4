// Dead-socket detection that costs nothing while frames flow: a ping goes out
// only after `idleMs` without any inbound frame, and a ping that no frame
// answers within `timeoutMs` means the socket is dead. No I/O of its own: the
// client passes `send` (one ping frame) and `dead`. A dead socket is noticed
// at most `idleMs + timeoutMs` after the last frame (docs/protocol.md §6).

export class Heartbeat {
  /**
   * @param {{idleMs: number, timeoutMs: number, send: () => void, dead: () => void}} options
   */
  constructor({ idleMs, timeoutMs, send, dead }) {
    this.idleMs = idleMs;
    this.timeoutMs = timeoutMs;
    this.send = send;
    this.dead = dead;
    this.timer = undefined;
    /** A ping is out and nothing has arrived since. */
    this.waiting = false;
    this.lastSeen = 0;
    this.running = false;
  }

  /** Starts watching a new socket (nothing is sent yet). */
  start() {
    this.stop();
    this.running = true;
    this.lastSeen = Date.now();
    this.arm(this.idleMs);
  }

  /** Stops every timer (the socket is gone). */
  stop() {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting = false;
    this.running = false;
  }

  /** Any inbound frame: the socket is alive. Cheap: no timer is touched unless a ping was out. */
  seen() {
    this.lastSeen = Date.now();
    if (this.waiting) {
      this.waiting = false;
      clearTimeout(this.timer);
      this.arm(this.idleMs);
    }
  }

  /** Pings at once (the page became visible, the network came back), unless a ping is already out. */
  pingNow() {
    if (!this.running || this.waiting) return;
    clearTimeout(this.timer);
    this.ping();
  }

  arm(ms) {
    this.timer = setTimeout(() => this.fire(), ms);
  }

  fire() {
    this.timer = undefined;
    if (!this.running) return;
    if (this.waiting) {
      this.stop();
      return this.dead();
    }
    // Frames arrived since the timer was set: wait out the rest of the idle time.
    const quiet = Date.now() - this.lastSeen;
    if (quiet < this.idleMs) return this.arm(this.idleMs - quiet);
    this.ping();
  }

  ping() {
    this.waiting = true;
    this.arm(this.timeoutMs);
    this.send();
  }
}
