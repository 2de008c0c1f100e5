/** Transactions: one client, BEGIN … COMMIT, ROLLBACK on any error. */
import type pg from "pg";
import { classifyDatabaseError } from "./pg-errors.js";

/**
 * Run `work` in one transaction on one client. A client whose connection failed or timed
 * out is discarded rather than returned to the pool: its socket may still owe the answer to
 * a query, and a ROLLBACK would only queue behind it. Postgres rolls back a transaction
 * whose session ends.
 */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client reports a dead socket as an 'error' event (the pool only listens
  // while it is idle): unheard, that event would crash the process. Its query fails too.
  const onError = (err: Error): void => void (broken = err);
  client.on("error", onError);
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    if (classifyDatabaseError(err) === "unavailable") broken = err as Error;
    else await client.query("ROLLBACK").catch((rollbackErr: Error) => (broken = rollbackErr));
    throw err;
  } finally {
    client.removeListener("error", onError);
    client.release(broken);
  }
}
