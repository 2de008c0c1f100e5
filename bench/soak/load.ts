/**
 * The soak's read/write load and its ledger. Each worker owns its variables and writes them
 * in sequence, so every acknowledged (201) value must be found afterwards among the
 * variable's versions. A variable takes at most VERSIONS_PER_VARIABLE writes: the server
 * keeps 20 versions, and an acknowledged write pruned by later ones could not be checked.
 */
export const VERSIONS_PER_VARIABLE = 15;
/** Answers slower than this count as hangs: every wait in the server is bounded. */
const REQUEST_TIMEOUT_MS = 20_000;

export interface Target {
  /** Changes when the server restarts on a new port. */
  url: string;
  account: string;
  token: string;
}

export interface Counters {
  requests: number;
  answered: number;
  byStatus: Map<number, number>;
  /** 503s and refused connections inside a fault window (or its grace period). */
  unavailableDuringFaults: number;
  /** Any other 5xx, a 503 outside a fault, or a hang: each one fails the soak. */
  unexpected: string[];
  writesAttempted: number;
  writesAcknowledged: number;
}

export const newCounters = (): Counters => ({
  requests: 0,
  answered: 0,
  byStatus: new Map(),
  unavailableDuringFaults: 0,
  unexpected: [],
  writesAttempted: 0,
  writesAcknowledged: 0,
});

export interface Ledger {
  /** variable id → values acknowledged, in order. */
  acknowledged: Map<string, string[]>;
  /** variable id → writes attempted (acknowledged or not). */
  attempts: Map<string, number>;
}

export type Outcome = { status: number; text: string } | { status: 0; error: string };

export class Load {
  readonly counters = newCounters();
  readonly ledger: Ledger = { acknowledged: new Map(), attempts: new Map() };
  #stopped = false;

  constructor(
    private readonly target: Target,
    private readonly variables: string[],
    private readonly inFault: () => boolean,
  ) {}

  async request(method: string, path: string, body?: string): Promise<Outcome> {
    this.counters.requests++;
    try {
      const res = await fetch(this.target.url + path, {
        method,
        headers: { Authorization: `Token token="${this.target.token}"` },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        ...(body !== undefined ? { body } : {}),
      });
      const text = await res.text();
      this.counters.answered++;
      this.counters.byStatus.set(res.status, (this.counters.byStatus.get(res.status) ?? 0) + 1);
      if (res.status >= 500) this.#serverError(res.status, `${method} ${path.replace(/\?.*/, "")}`);
      return { status: res.status, text };
    } catch (err) {
      const error = (err as Error).name === "TimeoutError" ? "timeout" : "connection failed";
      if (error === "timeout") this.counters.unexpected.push(`${method} hung for ${REQUEST_TIMEOUT_MS} ms`);
      else if (this.inFault()) this.counters.unavailableDuringFaults++;
      else this.counters.unexpected.push(`${method}: connection failed outside a fault`);
      return { status: 0, error };
    }
  }

  #serverError(status: number, what: string): void {
    if (status === 503 && this.inFault()) this.counters.unavailableDuringFaults++;
    else this.counters.unexpected.push(`${status} on ${what}${status === 503 ? " outside a fault" : ""}`);
  }

  /** `workers` loops until stop(): two reads (one a batch) for every write. */
  run(workers: number): Promise<void[]> {
    return Promise.all(Array.from({ length: workers }, (_, w) => this.#worker(w, workers)));
  }

  stop(): void {
    this.#stopped = true;
  }

  async #worker(index: number, workers: number): Promise<void> {
    const mine = this.variables.filter((_, i) => i % workers === index);
    let sequence = 0;
    for (const variable of mine) {
      for (let n = 0; n < VERSIONS_PER_VARIABLE; n++) {
        if (this.#stopped) return;
        const value = `w${index}-${++sequence}-${Date.now()}`;
        this.ledger.attempts.set(variable, (this.ledger.attempts.get(variable) ?? 0) + 1);
        this.counters.writesAttempted++;
        const res = await this.request(
          "POST",
          `/secrets/${this.target.account}/variable/${encodeURIComponent(variable)}`,
          value,
        );
        if (res.status === 201) {
          this.counters.writesAcknowledged++;
          const list = this.ledger.acknowledged.get(variable) ?? [];
          list.push(value);
          this.ledger.acknowledged.set(variable, list);
        }
        await this.request("GET", `/secrets/${this.target.account}/variable/${encodeURIComponent(variable)}`);
        const batch = mine.slice(0, 5).map((v) => `${this.target.account}:variable:${v}`);
        await this.request("GET", `/secrets?variable_ids=${encodeURIComponent(batch.join(","))}`);
        if (res.status === 0) await new Promise((ok) => setTimeout(ok, 100)); // server down: do not spin
      }
    }
  }
}

/** Every acknowledged value must be among its variable's stored versions. */
export async function verify(
  load: Load,
  target: Target,
): Promise<{ acknowledged: number; found: number; lost: string[] }> {
  let acknowledged = 0;
  let found = 0;
  const lost: string[] = [];
  const entries = [...load.ledger.acknowledged.entries()];
  const check = async (variable: string, values: string[]): Promise<void> => {
    const stored = new Set<string>();
    const attempts = load.ledger.attempts.get(variable) ?? values.length;
    for (let version = 1; version <= attempts; version++) {
      const res = await fetch(
        `${target.url}/secrets/${target.account}/variable/${encodeURIComponent(variable)}?version=${version}`,
        {
          headers: { Authorization: `Token token="${target.token}"` },
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        },
      );
      if (res.status === 404) break;
      if (res.status !== 200) throw new Error(`verification read of ${variable} v${version}: ${res.status}`);
      stored.add(await res.text());
    }
    for (const value of values) {
      acknowledged++;
      if (stored.has(value)) found++;
      else lost.push(`${variable}=${value}`);
    }
  };
  for (let i = 0; i < entries.length; i += 8)
    await Promise.all(entries.slice(i, i + 8).map(([variable, values]) => check(variable, values)));
  return { acknowledged, found, lost };
}
