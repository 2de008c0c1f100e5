/**
 * Opens storage: embedded Postgres when there is no database URL, the given server
 * otherwise; then applies migrations. The returned `close` ends the pool and stops the
 * embedded cluster, in that order.
 */
import pg from "pg";
import type { Logger } from "pino";
import { connectionOptions, DEFAULT_TIMEOUTS, type DatabaseTimeouts } from "./connection-options.js";
import { startEmbeddedPostgres } from "./embedded.js";
import { migrate } from "./migrations.js";

export interface Database {
  pool: pg.Pool;
  url: string;
  embedded: boolean;
  timeouts: DatabaseTimeouts;
  close(): Promise<void>;
}

/** node-postgres's own default, and what measured best on the read path (docs/adr/0020-read-decisions.md). */
export const DEFAULT_POOL_SIZE = 10;

export async function openDatabase(opts: {
  databaseUrl?: string | undefined;
  dataDir: string;
  log: Logger;
  timeouts?: DatabaseTimeouts;
  poolSize?: number;
}): Promise<Database> {
  const timeouts = opts.timeouts ?? DEFAULT_TIMEOUTS;
  const embedded = opts.databaseUrl
    ? undefined
    : await startEmbeddedPostgres(opts.dataDir, (line) => opts.log.debug({ postgres: line.trim() }), {
        warn: (message, details) => opts.log.warn(details, message),
      });
  const url = opts.databaseUrl ?? embedded!.url;
  const pool = new pg.Pool({ ...connectionOptions(url, timeouts), max: opts.poolSize ?? DEFAULT_POOL_SIZE });
  // An idle client's network error must not crash the process; the next query reports it.
  pool.on("error", (err) => opts.log.warn({ err: err.message }, "idle database connection failed"));
  // Belt and braces: a socket error on a checked-out client must never be an unhandled
  // 'error' event (a crash); the query in flight fails with it and is reported there.
  pool.on("connect", (client) => client.on("error", () => undefined));
  // Ending the pool waits for every client to say goodbye; over a partition none can.
  const endPool = (): Promise<void> => boundedWait(pool.end(), timeouts.connectTimeoutMs);
  try {
    const applied = await migrate(pool);
    if (applied.length) opts.log.info({ migrations: applied }, "database migrated");
  } catch (err) {
    await endPool();
    await embedded?.stop();
    throw err;
  }
  return {
    pool,
    url,
    embedded: Boolean(embedded),
    timeouts,
    async close() {
      await endPool();
      await embedded?.stop();
    },
  };
}

function boundedWait(work: Promise<void>, ms: number): Promise<void> {
  return new Promise((ok) => {
    const timer = setTimeout(ok, ms);
    timer.unref();
    work
      .then(
        () => ok(),
        () => ok(),
      )
      .finally(() => clearTimeout(timer));
  });
}

export { inTransaction } from "./transaction.js";

export type Queryable = pg.Pool | pg.PoolClient;
