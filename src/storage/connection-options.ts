/**
 * Bounded waits for every database connection (pool and LISTEN client alike). A network
 * partition drops packets without a reset: without these, a connect, a query or a wait for
 * a pooled client would hang for minutes (the kernel's TCP retransmission timeout).
 * See docs/adr/0010-database-faults.md.
 */
import type pg from "pg";

export interface DatabaseTimeouts {
  /** Connecting a new client and waiting for a pooled one (pg-pool uses one setting for both). */
  connectTimeoutMs: number;
  /** Server-side statement_timeout; the client gives up a little later if no answer comes. */
  queryTimeoutMs: number;
}

/** The documented defaults of --db-connect-timeout and --db-query-timeout. */
export const DEFAULT_TIMEOUTS: DatabaseTimeouts = { connectTimeoutMs: 5_000, queryTimeoutMs: 15_000 };

/**
 * The server's own statement_timeout answers first when it can (a clean error, the
 * connection stays usable); the client-side timer only fires when no answer can arrive.
 */
const CLIENT_GRACE_MS = 500;
/** First keep-alive probe after this much idle time: finds dead idle connections. */
const KEEPALIVE_IDLE_MS = 10_000;

export function connectionOptions(
  connectionString: string,
  timeouts: DatabaseTimeouts = DEFAULT_TIMEOUTS,
): pg.ClientConfig {
  return {
    connectionString,
    connectionTimeoutMillis: timeouts.connectTimeoutMs,
    query_timeout: timeouts.queryTimeoutMs + CLIENT_GRACE_MS,
    statement_timeout: timeouts.queryTimeoutMs,
    // A transaction whose client vanished must not hold its row locks until TCP gives up.
    idle_in_transaction_session_timeout: Math.max(2 * timeouts.queryTimeoutMs, 10_000),
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
  };
}
