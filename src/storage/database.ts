/**
 * Opens storage: embedded Postgres when there is no database URL, the given server
 * otherwise; then applies migrations. The returned `close` ends the pool and stops the
 * embedded cluster, in that order.
 */
import pg from "pg";
import type { Logger } from "pino";
import { startEmbeddedPostgres } from "./embedded.js";
import { migrate } from "./migrations.js";

export interface Database {
  pool: pg.Pool;
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

export async function openDatabase(opts: { databaseUrl?: string | undefined; dataDir: string; log: Logger }): Promise<Database> {
  const embedded = opts.databaseUrl ? undefined : await startEmbeddedPostgres(opts.dataDir, (line) => opts.log.debug({ postgres: line.trim() }));
  const url = opts.databaseUrl ?? embedded!.url;
  const pool = new pg.Pool({ connectionString: url, max: 20 });
  // An idle client's network error must not crash the process; the next query reports it.
  pool.on("error", (err) => opts.log.warn({ err: err.message }, "idle database connection failed"));
  try {
    const applied = await migrate(pool);
    if (applied.length) opts.log.info({ migrations: applied }, "database migrated");
  } catch (err) {
    await pool.end();
    await embedded?.stop();
    throw err;
  }
  return {
    pool,
    url,
    embedded: Boolean(embedded),
    async close() {
      await pool.end();
      await embedded?.stop();
    },
  };
}

export { inTransaction } from "./transaction.js";

export type Queryable = pg.Pool | pg.PoolClient;
