// Reading a token (without verifying it): when it expires, so it can be
// refreshed before.

/** A JWT's `exp` in ms since the Unix epoch, or null when it has none or cannot be read. */
export function tokenExpiry(token) {
  try {
    const part = String(token).split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const text = typeof atob === 'function' ? atob(b64) : Buffer.from(b64, 'base64').toString('binary');
    const exp = JSON.parse(text).exp;
    return Number.isFinite(exp) ? exp * 1000 : null;
  } catch {
    return null;
  }
}
