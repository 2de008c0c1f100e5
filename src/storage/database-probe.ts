/**
 * "Does the database answer?" within a fixed budget, for readiness. Kubernetes probes time
 * out after a second: the probe answers within `budgetMs` whatever the database does. At
 * most one probe query is in flight: during a partition, frequent /ready calls share it
 * instead of piling up stuck queries on the pool.
 */
import type pg from "pg";
import { classifyDatabaseError } from "./pg-errors.js";

export interface ProbeResult {
  up: boolean;
  /** Why the database counts as down; safe to show (no host, no credentials). */
  reason?: string;
}

export class DatabaseProbe {
  #inFlight: Promise<ProbeResult> | undefined;

  constructor(
    private readonly pool: Pick<pg.Pool, "query">,
    private readonly budgetMs = 900,
    private readonly onResult: (result: ProbeResult) => void = () => undefined,
  ) {}

  check(): Promise<ProbeResult> {
    this.#inFlight ??= this.#query().finally(() => (this.#inFlight = undefined));
    const inFlight = this.#inFlight;
    return new Promise((ok) => {
      const timer = setTimeout(() => {
        const result = { up: false, reason: `database did not answer within ${this.budgetMs} ms` };
        this.onResult(result);
        ok(result);
      }, this.budgetMs);
      void inFlight.then((result) => {
        clearTimeout(timer);
        ok(result);
      });
    });
  }

  async #query(): Promise<ProbeResult> {
    let result: ProbeResult;
    try {
      await this.pool.query("SELECT 1");
      result = { up: true };
    } catch (err) {
      result = { up: false, reason: describe(err) };
    }
    this.onResult(result);
    return result;
  }
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (classifyDatabaseError(err) !== "unavailable") return "database query failed";
  if (code === "ECONNREFUSED") return "database refused the connection";
  if (typeof code === "string" && /^57P0[123]$/.test(code)) return "database is shutting down or starting up";
  const message = (err as { message?: unknown }).message;
  if (typeof message === "string" && /timeout/i.test(message)) return "database connection timed out";
  return "database unreachable";
}
