/**
 * Listens on Postgres for `strongroom_secret_changed` (sent by every secret write, on any
 * replica) and reports the changed variable ids. Reconnects with backoff. Notifications
 * sent while no connection listened are lost for good (Postgres keeps none), so every
 * LISTEN after the first calls `onResync`: the controller then re-resolves every key.
 */
import pg from "pg";
import type { Logger } from "pino";
import { SECRET_CHANGED_CHANNEL } from "../../secrets/change-signals.js";
import { connectionOptions, DEFAULT_TIMEOUTS, type DatabaseTimeouts } from "../../storage/connection-options.js";

export class SecretChangeListener {
  #client: pg.Client | undefined;
  #stopped = false;
  #delayMs = 500;
  #timer: NodeJS.Timeout | undefined;
  #listened = false;
  /** Successful LISTENs after the first (each one a possible gap). */
  resyncs = 0;

  constructor(
    private readonly databaseUrl: string,
    private readonly onChange: (variableId: string) => void,
    private readonly log: Logger,
    private readonly onResync: () => void = () => undefined,
    /** Bounded connect and queries, TCP keep-alive: an idle LISTEN connection must notice a partition. */
    private readonly timeouts: DatabaseTimeouts = DEFAULT_TIMEOUTS,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client(connectionOptions(this.databaseUrl, this.timeouts));
    client.on("notification", (n) => {
      if (n.channel === SECRET_CHANGED_CHANNEL && n.payload) this.onChange(n.payload);
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
      this.#delayMs = 500;
      if (this.#listened) {
        this.resyncs++;
        this.log.info("secret change listener reconnected; re-resolving every key");
        this.onResync();
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
    client.removeAllListeners();
    client.on("error", () => undefined);
    void client.end().catch(() => undefined);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.start();
    }, this.#delayMs);
    this.#delayMs = Math.min(this.#delayMs * 2, 30_000);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      client.removeAllListeners();
      client.on("error", () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
