/**
 * The latest values of variables for reads already granted (authz/read-decisions.ts),
 * fetched for every such read that arrives in one turn of the event loop with ONE
 * statement.
 *
 * Under load, a loopback round trip to Postgres costs more than everything the statement
 * does: the write wakes a backend, the answer wakes us, and on two cores each of those is
 * a context switch (bench/README.md: `writev` was 40 % of the server's busy time). The
 * value statement names no role and decides nothing — each read compares the version it
 * returns with its own cached decision — so reads of different callers can share it
 * safely: every caller gets the rows of one snapshot, exactly as if it had asked alone.
 * A read that arrives alone waits only for the end of the current turn (setImmediate).
 */
import pg from "pg";
import type { Queryable } from "../storage/database.js";
import { AUTHORIZATION_VERSION } from "../authz/closure-cache.js";

export interface ValueRow {
  resource_id: string;
  version: number;
  value: Buffer;
  authorization_version: string;
}

/** One backward probe of the secrets primary key per id, and the version this snapshot sees. */
const LATEST_VALUES = `SELECT i.id AS resource_id, s.version, s.value, ${AUTHORIZATION_VERSION}
  FROM unnest($1::text[]) AS i(id)
  CROSS JOIN LATERAL (SELECT version, value FROM secrets WHERE resource_id = i.id ORDER BY version DESC LIMIT 1) s`;

/** Ids per statement: a turn with more waiting reads runs several statements (a read is never split). */
const IDS_PER_STATEMENT = 1000;

interface Waiter {
  ids: readonly string[];
  resolve: (rows: Map<string, ValueRow>) => void;
  reject: (err: unknown) => void;
}

export class LatestValues {
  #waiting: Waiter[] = [];

  constructor(private readonly db: Queryable) {}

  /** The latest value of each id that has one (an id with none has no entry). */
  read(ids: readonly string[]): Promise<Map<string, ValueRow>> {
    return new Promise((resolve, reject) => {
      if (this.#waiting.length === 0) setImmediate(() => this.#flush());
      this.#waiting.push({ ids, resolve, reject });
    });
  }

  #flush(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    // Each read's ids go to one statement, so a batch is answered from one snapshot.
    let group: Waiter[] = [];
    let ids = new Set<string>();
    for (const waiter of waiting) {
      if (group.length > 0 && ids.size + waiter.ids.length > IDS_PER_STATEMENT) {
        void this.#run(group, ids);
        group = [];
        ids = new Set();
      }
      group.push(waiter);
      for (const id of waiter.ids) ids.add(id);
    }
    void this.#run(group, ids);
  }

  async #run(group: Waiter[], ids: Set<string>): Promise<void> {
    try {
      const { rows } = await this.db.query<ValueRow>({ name: "secret-latest-values", text: LATEST_VALUES, values: [[...ids]] });
      const byId = new Map(rows.map((row) => [row.resource_id, row]));
      for (const waiter of group) waiter.resolve(byId);
    } catch (err) {
      for (const waiter of group) waiter.reject(err);
    }
  }
}

const byPool = new WeakMap<pg.Pool, LatestValues>();

/**
 * The shared reader of a pool. Only a pool's reads are shared: a client inside a
 * transaction must see its own statements in its own order, so it reads alone.
 */
export async function latestValues(db: Queryable, ids: readonly string[]): Promise<Map<string, ValueRow>> {
  if (!(db instanceof pg.Pool)) {
    const { rows } = await db.query<ValueRow>({ name: "secret-latest-values", text: LATEST_VALUES, values: [ids] });
    return new Map(rows.map((row) => [row.resource_id, row]));
  }
  let reader = byPool.get(db);
  if (!reader) byPool.set(db, (reader = new LatestValues(db)));
  return reader.read(ids);
}
