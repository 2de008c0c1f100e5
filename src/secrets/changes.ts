/**
 * Secret changes, in one place: how a write announces one, and how the server hears them.
 *
 * - **Sending**: after a secret write commits, `signalSecretChanged` sends a NOTIFY on
 *   `strongroom_secret_changed` (payload: the variable id). The writes committed in one turn
 *   of the event loop share ONE statement (storage/per-turn-loader.ts): a round trip costs more
 *   than the signal. That statement is its own transaction holding no data, so it need not wait
 *   for its commit record to reach the disk (`synchronous_commit` off for it alone): it would
 *   otherwise hold Postgres's notify lock through an fsync. See add-version.ts, ADR 16.
 * - **Receiving**: `SecretChanges` is the server process's ONE `LISTEN` connection; the
 *   controller and the watch hub `subscribe` to it. It reconnects with backoff. Notifications
 *   sent while nobody listened are lost for good (Postgres keeps none), so every LISTEN after
 *   the first calls each subscriber's `resync`: the controller re-resolves every key, the hub
 *   re-checks every watcher.
 */
import pg from "pg";
import type { Logger } from "pino";
import { connectionOptions, DEFAULT_TIMEOUTS, type DatabaseTimeouts } from "../storage/connection-options.js";
import { perTurnLoader } from "../storage/per-turn-loader.js";
import { backoffMs, type BackoffPolicy } from "../retry/backoff.js";

export const SECRET_CHANGED_CHANNEL = "strongroom_secret_changed";

const NOTIFY_EACH =
  "SELECT pg_notify($1, id), set_config('synchronous_commit', 'off', true) FROM unnest($2::text[]) AS id";

async function notifyEach(pool: pg.Pool, ids: readonly string[]): Promise<void[]> {
  // A lost signal costs a refresh interval, not data: never fail the write that sent it.
  await pool
    .query({ name: "notify-secrets-changed", text: NOTIFY_EACH, values: [SECRET_CHANGED_CHANNEL, ids] })
    .catch(() => undefined);
  return ids.map(() => undefined);
}

const joined = perTurnLoader(notifyEach);

/** Tell every replica's controller and watchers that `resourceId` changed (after its commit). Never rejects. */
export function signalSecretChanged(pool: pg.Pool, resourceId: string): Promise<void> {
  return joined(pool).load(resourceId);
}

export interface ChangeSubscriber {
  /** A variable got a new version (or was deleted), on any replica. */
  changed(variableId: string): void;
  /** Signals may have been missed (the connection was lost and is back): re-check everything. */
  resync(): void;
}

/** Reconnects: 0.5 s, 1 s, 2 s… up to 30 s, jittered (every replica lost Postgres at the same moment). */
const RECONNECT: BackoffPolicy = { baseMs: 500, maxMs: 30_000 };

export class SecretChanges {
  readonly #subscribers = new Set<ChangeSubscriber>();
  #client: pg.Client | undefined;
  #stopped = false;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #listened = false;
  /** Successful LISTENs after the first (each one a possible gap). */
  resyncs = 0;

  constructor(
    private readonly databaseUrl: string,
    private readonly log: Logger,
    /** Bounded connect and queries, TCP keep-alive: an idle LISTEN connection must notice a partition. */
    private readonly timeouts: DatabaseTimeouts = DEFAULT_TIMEOUTS,
  ) {}

  /** Returns the unsubscribe function. */
  subscribe(subscriber: ChangeSubscriber): () => void {
    this.#subscribers.add(subscriber);
    return () => this.#subscribers.delete(subscriber);
  }

  async start(): Promise<void> {
    const client = new pg.Client(connectionOptions(this.databaseUrl, this.timeouts));
    client.on("notification", (n) => {
      if (n.channel !== SECRET_CHANGED_CHANNEL || !n.payload) return;
      for (const subscriber of this.#subscribers) subscriber.changed(n.payload);
    });
    client.on("error", (err) => {
      this.log.warn({ err: err.message }, "secret change listener lost its connection");
      this.#reconnect(client);
    });
    client.on("end", () => this.#reconnect(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${SECRET_CHANGED_CHANNEL}`);
      this.#client = client;
      this.#failures = 0;
      if (this.#listened) {
        this.resyncs++;
        this.log.info("secret change listener reconnected; re-checking every subscriber");
        for (const subscriber of this.#subscribers) subscriber.resync();
      }
      this.#listened = true;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "secret change listener could not connect");
      this.#reconnect(client);
    }
  }

  #reconnect(client: pg.Client): void {
    if (this.#stopped || this.#timer || (this.#client && this.#client !== client)) return;
    this.#client = undefined;
    void this.#close(client);
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        void this.start();
      },
      backoffMs(++this.#failures, RECONNECT),
    );
  }

  async #close(client: pg.Client): Promise<void> {
    client.removeAllListeners();
    client.on("error", () => undefined);
    await client.end().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    if (client) await this.#close(client);
  }
}
