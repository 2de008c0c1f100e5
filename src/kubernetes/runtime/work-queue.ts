/**
 * A de-duplicating keyed work queue with controller-runtime's reconcile contract:
 * the handler's result decides what happens to the key —
 *   resolves with nothing          → forget it (failures reset, nothing scheduled);
 *   resolves with requeueAfterMs   → run it again after that delay (failures reset);
 *   throws                         → rate-limited retry (exponential backoff per key).
 * A key waiting is queued once; a key re-added while it runs runs once more afterwards;
 * scheduling keeps the earliest pending time per key. Workers start only on `start()`, so
 * the controller can wait for its informers to sync first (client-go's WaitForCacheSync).
 */
import { backoffMs } from "../../retry/backoff.js";

export interface ReconcileOutcome {
  requeueAfterMs?: number;
}
export type Handler = (key: string) => Promise<ReconcileOutcome | void>;

export interface WorkQueueOptions {
  concurrency?: number;
  /** First retry delay after a failure; doubles per consecutive failure up to maxDelayMs (jittered: retry/backoff.ts). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** The backoff's jitter source, for deterministic tests. */
  random?: () => number;
  onDepth?: (depth: { ready: number; scheduled: number }) => void;
  onError?: (key: string, err: unknown, failures: number) => void;
}

export class WorkQueue {
  readonly #ready: string[] = [];
  readonly #queued = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  readonly #failures = new Map<string, number>();
  #running = 0;
  #started = false;
  #stopped = false;

  constructor(
    private readonly handler: Handler,
    private readonly opts: WorkQueueOptions = {},
  ) {}

  /** Keys ready to run now (waiting for a worker). */
  get readyDepth(): number {
    return this.#queued.size;
  }

  /** Keys scheduled for later (refreshes, requeues, retries). */
  get scheduledDepth(): number {
    return this.#timers.size;
  }

  get running(): number {
    return this.#running;
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  add(key: string): void {
    if (this.#stopped) return;
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    this.#queued.add(key);
    this.#ready.push(key);
    this.#report();
    this.#pump();
  }

  addAfter(key: string, delayMs: number): void {
    if (this.#stopped) return;
    if (delayMs <= 0) return this.add(key);
    const at = Date.now() + delayMs;
    const existing = this.#timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.#timers.set(key, { at, timer });
    this.#report();
  }

  /** Retry after the key's backoff: base × 2^(failures-1), capped, jittered. */
  addRateLimited(key: string): void {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    this.addAfter(
      key,
      backoffMs(
        failures,
        { baseMs: this.opts.baseDelayMs ?? 250, maxMs: this.opts.maxDelayMs ?? 30_000 },
        this.opts.random,
      ),
    );
  }

  /** Forget a key's failures and anything scheduled for it. */
  forget(key: string): void {
    const t = this.#timers.get(key);
    if (t) clearTimeout(t.timer);
    this.#timers.delete(key);
    this.#failures.delete(key);
    this.#report();
  }

  /** Begin running keys (queued ones included). */
  start(): void {
    this.#started = true;
    this.#pump();
  }

  stop(): void {
    this.#stopped = true;
    for (const { timer } of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#ready.length = 0;
    this.#queued.clear();
    this.#report();
  }

  /** Resolves when nothing is queued or running (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.#running || (this.#started && this.#ready.length)) await new Promise((r) => setTimeout(r, 10));
  }

  #report(): void {
    this.opts.onDepth?.({ ready: this.readyDepth, scheduled: this.scheduledDepth });
  }

  #pump(): void {
    const concurrency = this.opts.concurrency ?? 4;
    while (this.#started && !this.#stopped && this.#running < concurrency && this.#ready.length) {
      const key = this.#ready.shift()!;
      this.#queued.delete(key);
      this.#processing.add(key);
      this.#running++;
      void this.#run(key);
    }
  }

  async #run(key: string): Promise<void> {
    try {
      const outcome = await this.handler(key);
      this.forget(key);
      if (outcome?.requeueAfterMs !== undefined) this.addAfter(key, outcome.requeueAfterMs);
    } catch (err) {
      this.addRateLimited(key);
      this.opts.onError?.(key, err, this.#failures.get(key) ?? 0);
    } finally {
      this.#processing.delete(key);
      this.#running--;
      if (this.#dirty.delete(key)) this.add(key);
      this.#report();
      this.#pump();
    }
  }
}
