/**
 * Leader election on a coordination.k8s.io/v1 Lease with client-go's semantics
 * (k8s.io/client-go/tools/leaderelection):
 * - the other holder's clock is never trusted: a Lease counts as expired only when this
 *   replica's own clock says `leaseDuration` has passed since it last saw the record change
 *   (observedTime), whatever renewTime the holder wrote;
 * - a candidate tries every `retryPeriod`; the leader renews every `retryPeriod` and keeps
 *   trying on failures until `renewDeadline` has passed since its last successful renew;
 *   only then does it give leadership up — and it stops all work at that moment, before any
 *   other replica may take over (renewDeadline < leaseDuration);
 * - every write carries the resourceVersion read, so two candidates cannot both win (409).
 */
import type { Logger } from "pino";

export interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: Date | undefined;
  renewTime: Date | undefined;
  leaseTransitions: number;
}

/** The Lease as the elector sees it; implemented over CoordinationV1Api in lease-api.ts. */
export interface LeaseApi {
  /** undefined when the Lease does not exist. */
  get(): Promise<{ record: LeaseRecord; resourceVersion: string } | undefined>;
  /** false when someone else created it first (409). */
  create(record: LeaseRecord): Promise<boolean>;
  /** false on a conflict (409: the resourceVersion is stale). */
  update(record: LeaseRecord, resourceVersion: string): Promise<boolean>;
}

export interface LeaderElectionTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const DEFAULT_TIMINGS: LeaderElectionTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Jitter for the retry period, in [0, 1): injectable so tests are deterministic. */
  random?(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  random: () => Math.random(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface LeaderElectionOptions {
  identity: string;
  timings?: LeaderElectionTimings;
  clock?: Clock;
  onStartedLeading: () => Promise<void> | void;
  onStoppedLeading: () => Promise<void> | void;
}

export function validateTimings(t: LeaderElectionTimings): string | undefined {
  if (!(t.leaseDurationMs > t.renewDeadlineMs)) return "lease duration must be greater than the renew deadline";
  if (!(t.renewDeadlineMs > t.retryPeriodMs * 1.2)) return "renew deadline must be greater than 1.2 × the retry period";
  return undefined;
}

const sameRecord = (a: LeaseRecord | undefined, b: LeaseRecord): boolean =>
  !!a &&
  a.holderIdentity === b.holderIdentity &&
  a.renewTime?.getTime() === b.renewTime?.getTime() &&
  a.leaseTransitions === b.leaseTransitions &&
  a.leaseDurationSeconds === b.leaseDurationSeconds;

export class LeaderElector {
  readonly #timings: LeaderElectionTimings;
  readonly #clock: Clock;
  #leading = false;
  #stopped = true;
  #timer: unknown;
  #observed: LeaseRecord | undefined;
  /** Local clock reading when the observed record last changed. */
  #observedAt = 0;
  /** Local clock reading of our last successful acquire or renew. */
  #renewedAt = 0;

  constructor(
    private readonly api: LeaseApi,
    private readonly opts: LeaderElectionOptions,
    private readonly log: Logger,
  ) {
    this.#timings = opts.timings ?? DEFAULT_TIMINGS;
    this.#clock = opts.clock ?? systemClock;
    const problem = validateTimings(this.#timings);
    if (problem) throw new Error(`leader election: ${problem}`);
  }

  get leading(): boolean {
    return this.#leading;
  }

  start(): void {
    this.#stopped = false;
    void this.#round();
  }

  /** One attempt to acquire or renew; then schedule the next (retryPeriod, jittered while a candidate). */
  async #round(): Promise<void> {
    if (this.#stopped) return;
    let ok = false;
    try {
      ok = await this.#tryAcquireOrRenew();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "leader election: could not reach the Lease");
    }
    if (this.#stopped) return;
    const now = this.#clock.now();
    if (ok) {
      this.#renewedAt = now;
      if (!this.#leading) {
        this.#leading = true;
        this.log.info({ identity: this.opts.identity }, "became leader");
        await this.opts.onStartedLeading();
      }
    } else if (this.#leading && now - this.#renewedAt >= this.#timings.renewDeadlineMs) {
      await this.#lose("could not renew the Lease within the renew deadline");
    }
    if (this.#stopped) return;
    const jitter = this.#leading ? 0 : (this.#clock.random?.() ?? Math.random()) * 0.2 * this.#timings.retryPeriodMs;
    this.#timer = this.#clock.setTimeout(() => void this.#round(), this.#timings.retryPeriodMs + jitter);
  }

  async #lose(why: string): Promise<void> {
    this.#leading = false;
    this.log.warn({ identity: this.opts.identity, why }, "lost leadership; stopping all work");
    await this.opts.onStoppedLeading();
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = this.#clock.now();
    const { identity } = this.opts;
    const fresh = (transitions: number, acquired: Date | undefined): LeaseRecord => ({
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.#timings.leaseDurationMs / 1000),
      acquireTime: acquired,
      renewTime: new Date(now),
      leaseTransitions: transitions,
    });
    const current = await this.api.get();
    if (!current) {
      const record = fresh(0, new Date(now));
      if (!(await this.api.create(record))) return false;
      this.#observe(record, now);
      return true;
    }
    if (!sameRecord(this.#observed, current.record)) this.#observe(current.record, now);
    const held = current.record.holderIdentity !== "" && current.record.holderIdentity !== identity;
    const durationMs = (current.record.leaseDurationSeconds || this.#timings.leaseDurationMs / 1000) * 1000;
    if (held && this.#observedAt + durationMs > now) return false;
    const mine = current.record.holderIdentity === identity;
    const record = mine
      ? fresh(current.record.leaseTransitions, current.record.acquireTime)
      : fresh(current.record.leaseTransitions + 1, new Date(now));
    if (!(await this.api.update(record, current.resourceVersion))) return false;
    this.#observe(record, now);
    return true;
  }

  #observe(record: LeaseRecord, now: number): void {
    this.#observed = record;
    this.#observedAt = now;
  }

  /** Stop campaigning; when leading, stop the work and release the Lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clock.clearTimeout(this.#timer);
    if (!this.#leading) return;
    this.#leading = false;
    await this.opts.onStoppedLeading();
    try {
      const current = await this.api.get();
      if (current?.record.holderIdentity === this.opts.identity) {
        await this.api.update(
          { ...current.record, holderIdentity: "", leaseDurationSeconds: 1, renewTime: new Date(this.#clock.now()) },
          current.resourceVersion,
        );
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "could not release the lease");
    }
  }
}
