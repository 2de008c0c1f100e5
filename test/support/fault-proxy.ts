/**
 * A loopback TCP proxy in front of Postgres that can fake the network's failures:
 * - "forward": bytes pass both ways;
 * - "drop": a partition. Connections stay open and new ones are accepted, but no byte
 *   passes either way and nobody gets a reset (what a cut cable or a dropping firewall does);
 * - "refuse": the database host is down. Every connection is reset and the port refuses.
 * `forward()` heals it. The listening port never changes, so the server's URL stays valid.
 */
import net from "node:net";

export type ProxyMode = "forward" | "drop" | "refuse";

export class FaultProxy {
  #server: net.Server | undefined;
  #sockets = new Set<net.Socket>();
  #mode: ProxyMode = "forward";
  #port = 0;

  constructor(private target: { host: string; port: number }) {}

  get port(): number {
    return this.#port;
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  /** The database URL with host and port replaced by the proxy's. */
  url(databaseUrl: string): string {
    const u = new URL(databaseUrl);
    u.hostname = "127.0.0.1";
    u.port = String(this.#port);
    return u.toString();
  }

  static forUrl(databaseUrl: string): FaultProxy {
    const u = new URL(databaseUrl);
    return new FaultProxy({ host: u.hostname, port: Number(u.port || 5432) });
  }

  /** Point at another database port (a restarted embedded cluster listens elsewhere). */
  retarget(target: { host: string; port: number }): void {
    this.target = target;
  }

  async start(): Promise<this> {
    await this.#listen();
    return this;
  }

  async forward(): Promise<void> {
    this.#mode = "forward";
    if (!this.#server) await this.#listen();
  }

  drop(): void {
    this.#mode = "drop";
  }

  async refuse(): Promise<void> {
    this.#mode = "refuse";
    for (const socket of this.#sockets) socket.resetAndDestroy();
    this.#sockets.clear();
    await this.#closeListener();
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await this.#closeListener();
  }

  #listen(): Promise<void> {
    const server = net.createServer((client) => this.#accept(client));
    this.#server = server;
    return new Promise((ok, fail) => {
      server.once("error", fail);
      server.listen(this.#port, "127.0.0.1", () => {
        this.#port = (server.address() as net.AddressInfo).port;
        ok();
      });
    });
  }

  #closeListener(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    return new Promise((ok) => (server ? server.close(() => ok()) : ok()));
  }

  #accept(client: net.Socket): void {
    const upstream = net.connect(this.target.port, this.target.host);
    this.#sockets.add(client).add(upstream);
    const pipe = (from: net.Socket, to: net.Socket): void => {
      // In "drop" mode bytes vanish: both sides wait for answers that never come.
      from.on("data", (chunk: Buffer) => {
        if (this.#mode === "forward") to.write(chunk);
      });
      from.on("end", () => {
        if (this.#mode === "forward") to.end();
      });
    };
    pipe(client, upstream);
    pipe(upstream, client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  }
}
