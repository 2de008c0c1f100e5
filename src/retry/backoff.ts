/**
 * The one backoff: capped exponential, with "equal jitter" — each wait is between half and all
 * of `base · 2^(attempt-1)` (capped at `max`), so many clients that failed together (a fleet of
 * agents, replicas after an API server restart) do not retry together, while no wait is ever
 * shorter than half its nominal value. Pure: `random` is injectable for deterministic tests.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export function backoffMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.baseMs * 2 ** Math.max(0, attempt - 1), policy.maxMs);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
