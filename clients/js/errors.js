// The client's error type.

/** An error reply from the server (`code` as in the protocol), or a client-side failure. */
export class WsfnError extends Error {
  constructor(code, message, frame) {
    super(`${code}: ${message}`);
    this.name = 'WsfnError';
    this.code = code;
    this.frame = frame;
  }
}
