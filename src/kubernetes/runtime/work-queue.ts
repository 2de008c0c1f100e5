/**
 * A de-duplicating keyed work queue (pepr / client-go style): a key waiting is queued once;
 * a key re-added while it is being processed runs once more afterwards; failures retry
 * with exponential backoff; `add(key, delay)` keeps the earliest pending time per key.
 */
export type Handler = (key: string) => Promise<void>;

export class WorkQueue {
  readonly #ready: string[] = [];
  readonly #queued = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  readonly #failures = new Map<string, number>();
  #running = 0;
  #stopped = false;

  constructor(
    private readonly handler: Handler,
    private readonly opts: { concurrency?: number; baseDelayMs?: number; maxDelayMs?: number; onDepth?: (n: number) => void; onError?: (key: string, err: unknown) => void } = {},
  ) {}

  get depth(): number {
    return this.#queued.size + this.#timers.size;
  }

  add(key: string, delayMs = 0): void {
    if (this.#stopped) return;
    if (delayMs > 0) {
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
      return;
    }
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

  #report(): void {
    this.opts.onDepth?.(this.depth);
  }

  #pump(): void {
    const concurrency = this.opts.concurrency ?? 4;
    while (!this.#stopped && this.#running < concurrency && this.#ready.length) {
      const key = this.#ready.shift()!;
      this.#queued.delete(key);
      this.#processing.add(key);
      this.#running++;
      void this.#run(key);
    }
  }

  async #run(key: string): Promise<void> {
    try {
      await this.handler(key);
      this.#failures.delete(key);
    } catch (err) {
      const failures = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, failures);
      this.opts.onError?.(key, err);
      const delay = Math.min((this.opts.baseDelayMs ?? 250) * 2 ** (failures - 1), this.opts.maxDelayMs ?? 30_000);
      this.add(key, delay);
    } finally {
      this.#processing.delete(key);
      this.#running--;
      if (this.#dirty.delete(key)) this.add(key);
      this.#report();
      this.#pump();
    }
  }

  /** Forget pending retries and refreshes of a key (it no longer exists). */
  forget(key: string): void {
    const t = this.#timers.get(key);
    if (t) clearTimeout(t.timer);
    this.#timers.delete(key);
    this.#failures.delete(key);
  }

  stop(): void {
    this.#stopped = true;
    for (const { timer } of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  /** Resolves when nothing is queued or running (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.#running || this.#ready.length) await new Promise((r) => setTimeout(r, 10));
  }
}
