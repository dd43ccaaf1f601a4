// Per-channel ordering for wsfn: each seq is delivered once, in order;
// messages that arrive early are held until the gap before them is filled
// (from `history`) or declared lost. No I/O: the client feeds it frames.

/** Marks a seq this client published with `echo: false`: counted, never delivered. */
const OWN = Symbol('own');

/** Orders one channel's `message` frames by `seq` within one `epoch`. */
export class Sequencer {
  constructor() {
    /** The stream's epoch, or null before the first `subscribed`. */
    this.epoch = null;
    /** The highest seq delivered (everything up to it was delivered or lost). */
    this.seq = 0;
    /** The highest seq known to exist (from messages, acks, `subscribed`). */
    this.head = 0;
    /** Early messages by seq. */
    this.held = new Map();
  }

  /**
   * Starts following a stream after `seq` (a first subscribe starts at the
   * latest); held messages of that epoch past `seq` are kept. Returns the
   * frames that are now deliverable.
   */
  start(epoch, seq) {
    for (const [s, m] of this.held) if (s <= seq || m.epoch !== epoch) this.held.delete(s);
    this.epoch = epoch;
    this.seq = seq;
    this.head = seq;
    for (const s of this.held.keys()) this.see(s);
    return this.drain();
  }

  /** Whether `epoch` is another stream than the one followed (the stream restarted). */
  isOtherEpoch(epoch) {
    return this.epoch !== null && this.epoch !== '' && epoch !== '' && epoch !== this.epoch;
  }

  /** Records that `seq` exists (an ack, a `subscribed` reply's latest). */
  see(seq) {
    if (Number.isSafeInteger(seq) && seq > this.head) this.head = seq;
  }

  /** Accepts one `message` frame; returns the frames now deliverable, in order. */
  push(msg) {
    const seq = msg.seq;
    if (!Number.isSafeInteger(seq) || seq <= this.seq || this.held.has(seq)) return [];
    if (this.epoch === null) {
      // Before the first `subscribed`: held until start() says where to begin.
      this.held.set(seq, msg);
      return [];
    }
    // A stream that did not exist at subscribe time (`epoch: ""`) has one now.
    if (this.epoch === '') this.epoch = msg.epoch;
    this.see(seq);
    if (seq !== this.seq + 1) {
      this.held.set(seq, msg);
      return [];
    }
    this.seq = seq;
    return [msg, ...this.drain()];
  }

  /**
   * This client's own message, published with `echo: false`: `seq` counts
   * as delivered (to no one here) so it is neither a gap nor read from
   * history. Returns the frames that frees.
   */
  own(seq) {
    if (!Number.isSafeInteger(seq) || seq <= this.seq || this.epoch === null) return [];
    this.see(seq);
    this.held.set(seq, OWN);
    return this.drain();
  }

  /** Declares everything up to `seq` lost or delivered elsewhere; returns what that frees. */
  skipTo(seq) {
    if (seq <= this.seq) return [];
    for (const s of this.held.keys()) if (s <= seq) this.held.delete(s);
    this.seq = seq;
    this.see(seq);
    return this.drain();
  }

  /** Whether some seq at or below `head` has not been delivered yet. */
  get behind() {
    return this.head > this.seq;
  }

  /** The lowest held seq (where a fill from history may stop), or null. */
  get nextHeld() {
    let min = null;
    for (const s of this.held.keys()) if (min === null || s < min) min = s;
    return min;
  }

  drain() {
    const out = [];
    for (let next = this.held.get(this.seq + 1); next; next = this.held.get(this.seq + 1)) {
      this.held.delete(this.seq + 1);
      this.seq += 1;
      if (next !== OWN) out.push(next);
    }
    return out;
  }
}
