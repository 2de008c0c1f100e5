/**
 * Brute-force protection: counts failed authentications per key (a role id, or a client
 * address) in a fixed window. After `maxFailures` failures the key is blocked — callers
 * answer without checking credentials — until `windowMs` has passed since the failure
 * that blocked it. Attempts refused while blocked do not count, so an attacker gets at
 * most `maxFailures` guesses per window and a locked-out user is never locked out forever.
 *
 * Memory is bounded: at most `maxEntries` keys, least recently failed evicted first
 * (a Map keeps insertion order; a failure re-inserts its key). Counts live in this
 * process only: with several replicas each counts on its own.
 */

export interface ThrottleOptions {
  /** Failures allowed per window; 0 disables the throttle. */
  maxFailures: number;
  windowMs: number;
  maxEntries: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  /** When the window (or the block) ends. */
  resetAt: number;
}

export class FailureThrottle {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: ThrottleOptions) {
    this.#max = options.maxFailures;
    this.#windowMs = options.windowMs;
    this.#maxEntries = Math.max(1, options.maxEntries);
    this.#now = options.now ?? Date.now;
  }

  /** Seconds until `key` may try again, or 0 when it may try now. */
  retryAfterSeconds(key: string): number {
    if (this.#max === 0) return 0;
    const entry = this.#live(key);
    if (!entry || entry.failures < this.#max) return 0;
    return Math.max(1, Math.ceil((entry.resetAt - this.#now()) / 1000));
  }

  /** Count one failure of `key`. */
  fail(key: string): void {
    if (this.#max === 0) return;
    const now = this.#now();
    const entry = this.#live(key) ?? { failures: 0, resetAt: now + this.#windowMs };
    entry.failures += 1;
    // The block lasts a whole window from the failure that triggered it.
    if (entry.failures === this.#max) entry.resetAt = now + this.#windowMs;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** A success forgets the key's failures. */
  succeed(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.resetAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }
}

/**
 * The address a client is counted under. IPv6 clients usually control a whole /64, so
 * they are counted by that prefix; IPv4 (and IPv4-mapped IPv6) by the address.
 */
export function addressKey(ip: string | undefined): string {
  if (!ip) return "unknown";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!ip.includes(":")) return ip;
  const [head = "", tail = ""] = ip.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = ip.includes("::")
    ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

export interface ThrottleRefusal {
  /** Which counter refused: metric label and audit reason (never the role or address itself). */
  reason: "role" | "address";
  retryAfterSeconds: number;
}

/** The two counters every credential check goes through: per role and per client address. */
export class AuthnThrottle {
  readonly #roles: FailureThrottle;
  readonly #addresses: FailureThrottle;

  constructor(options: {
    maxFailuresPerRole: number;
    maxFailuresPerAddress: number;
    windowSeconds: number;
    maxEntries?: number;
    now?: () => number;
  }) {
    const common = {
      windowMs: options.windowSeconds * 1000,
      maxEntries: options.maxEntries ?? 10_000,
      ...(options.now ? { now: options.now } : {}),
    };
    this.#roles = new FailureThrottle({ ...common, maxFailures: options.maxFailuresPerRole });
    this.#addresses = new FailureThrottle({ ...common, maxFailures: options.maxFailuresPerAddress });
  }

  /** Checked before any credential is looked at: a refusal, or undefined to go on. */
  refusal(roleId: string, ip: string | undefined): ThrottleRefusal | undefined {
    const byAddress = this.#addresses.retryAfterSeconds(addressKey(ip));
    if (byAddress > 0) return { reason: "address", retryAfterSeconds: byAddress };
    const byRole = this.#roles.retryAfterSeconds(roleId);
    if (byRole > 0) return { reason: "role", retryAfterSeconds: byRole };
    return undefined;
  }

  failed(roleId: string, ip: string | undefined): void {
    this.#roles.fail(roleId);
    this.#addresses.fail(addressKey(ip));
  }

  /**
   * The address counter alone, for authenticators whose role is known only from a verified
   * signed token (authn-kubernetes): a signature cannot be guessed, so a per-role count would
   * only let anyone lock a workload out.
   */
  addressRefusal(ip: string | undefined): ThrottleRefusal | undefined {
    const byAddress = this.#addresses.retryAfterSeconds(addressKey(ip));
    return byAddress > 0 ? { reason: "address", retryAfterSeconds: byAddress } : undefined;
  }

  addressFailed(ip: string | undefined): void {
    this.#addresses.fail(addressKey(ip));
  }

  /** A success resets the role's count, not the address's (one valid key must not launder an address). */
  succeeded(roleId: string): void {
    this.#roles.succeed(roleId);
  }
}
