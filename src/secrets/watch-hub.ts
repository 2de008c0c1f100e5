/**
 * In-process fan-out of "variable changed" signals to long-poll watchers. The server holds
 * one LISTEN connection (SecretChangeListener) that calls `notify`; each watcher waits on
 * its own ids. Bounded: at most `maxWatchers` waits at a time (a full hub refuses new ones).
 */
export type WaitOutcome = "changed" | "timeout" | "aborted";

interface Waiter {
  ids: readonly string[];
  done(outcome: WaitOutcome): void;
}

export class WatchHubFullError extends Error {}

export class WatchHub {
  readonly #byId = new Map<string, Set<Waiter>>();
  #count = 0;
  #closed = false;

  constructor(readonly maxWatchers: number) {}

  get watchers(): number {
    return this.#count;
  }

  /** A variable got a new version (or was deleted): wake everyone waiting on it. */
  notify(variableId: string): void {
    for (const waiter of [...(this.#byId.get(variableId) ?? [])]) waiter.done("changed");
  }

  /** Wake every watcher, e.g. after the LISTEN connection was lost (signals may have been missed). */
  notifyAll(): void {
    const all = new Set([...this.#byId.values()].flatMap((set) => [...set]));
    for (const waiter of all) waiter.done("changed");
  }

  /** Ends every wait ("aborted") and refuses new ones: the server is stopping. */
  close(): void {
    this.#closed = true;
    const all = new Set([...this.#byId.values()].flatMap((set) => [...set]));
    for (const waiter of all) waiter.done("aborted");
  }

  /** Resolves when one of `ids` changes, after `timeoutMs`, or when `signal` aborts. */
  wait(ids: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
    if (this.#count >= this.maxWatchers) throw new WatchHubFullError(`the server already holds ${this.maxWatchers} watches`);
    if (signal?.aborted || this.#closed) return Promise.resolve("aborted");
    this.#count++;
    return new Promise((resolve) => {
      let finished = false;
      const waiter: Waiter = {
        ids,
        done: (outcome) => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          for (const id of ids) {
            const set = this.#byId.get(id);
            set?.delete(waiter);
            if (set?.size === 0) this.#byId.delete(id);
          }
          this.#count--;
          resolve(outcome);
        },
      };
      const onAbort = (): void => waiter.done("aborted");
      const timer = setTimeout(() => waiter.done("timeout"), timeoutMs);
      signal?.addEventListener("abort", onAbort);
      for (const id of ids) {
        let set = this.#byId.get(id);
        if (!set) this.#byId.set(id, (set = new Set()));
        set.add(waiter);
      }
    });
  }
}
