// Reconnect and retry delays: full-jitter exponential backoff (AWS
// Architecture Blog, "Exponential Backoff And Jitter").

/** Full-jitter exponential backoff: a uniform delay in [0, min(cap, base × 2^attempt)). */
export function backoffDelay(attempt, { baseMs = 500, capMs = 20000 } = {}, random = Math.random) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
