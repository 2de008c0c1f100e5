/**
 * One statement for what many requests ask in one turn of the event loop.
 *
 * Under load, a loopback round trip to Postgres costs more than a primary-key lookup: the
 * write wakes a backend, the answer wakes us, and on two cores each is a context switch
 * (bench/README.md: `writev` to Postgres was the largest single cost of a read). DataLoader
 * collects the keys asked for until the end of the turn — `setImmediate`, so the requests
 * parsed from every socket that was readable in this turn join — and runs one statement.
 * Nothing is cached: each turn reads afresh. Only a pool's loads are joined: a client in a
 * transaction must see its own statements, in its own order, so callers use `load` on it
 * directly. See docs/adr/0020-read-decisions.md.
 */
import DataLoader from "dataloader";
import type pg from "pg";

/** Keys per statement: a turn with more runs several. */
const KEYS_PER_STATEMENT = 1000;

/**
 * `load(pool, keys)` answers with one value per key, in order. Returns the joined loader
 * for a pool (one per pool, made on first use).
 */
export function perTurnLoader<K, V>(
  load: (pool: pg.Pool, keys: readonly K[]) => Promise<V[]>,
): (pool: pg.Pool) => DataLoader<K, V> {
  const byPool = new WeakMap<pg.Pool, DataLoader<K, V>>();
  return (pool) => {
    let loader = byPool.get(pool);
    if (!loader) {
      loader = new DataLoader((keys) => load(pool, keys), {
        cache: false,
        maxBatchSize: KEYS_PER_STATEMENT,
        batchScheduleFn: (run) => setImmediate(run),
      });
      byPool.set(pool, loader);
    }
    return loader;
  };
}
