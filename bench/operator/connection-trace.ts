/**
 * `--trace-connections`: why a connection was opened. Listens on undici's diagnostics
 * channels (global by name, so it sees the controller's client) and, for every new socket to
 * the API server, records when it opened and the first request it carried, and when it
 * closed and after how long idle. Bench-only diagnostics; costs nothing when off.
 */
import diagnostics from "node:diagnostics_channel";
import type { Socket } from "node:net";

interface Traced {
  openedAt: number;
  first: string | undefined;
  requests: number;
  lastUsedAt: number;
}

export class ConnectionTrace {
  readonly #sockets = new Map<Socket, Traced>();
  readonly #lines: string[] = [];
  readonly #t0 = performance.now();
  #phase = "setup";
  /** The API server's port (the bench starts one per scenario). */
  port = 0;

  constructor() {
    diagnostics.subscribe("undici:client:connected", (m) =>
      this.#connected(m as { socket: Socket; connectParams: { port: string | number } }),
    );
    diagnostics.subscribe("undici:client:sendHeaders", (m) =>
      this.#sent(m as { socket: Socket; request: { method: string; path: string } }),
    );
  }

  phase(name: string): void {
    this.#phase = name;
  }

  #now(): number {
    return Math.round(performance.now() - this.#t0);
  }

  #connected({ socket, connectParams }: { socket: Socket; connectParams: { port: string | number } }): void {
    if (Number(connectParams.port) !== this.port) return;
    const t: Traced = { openedAt: this.#now(), first: undefined, requests: 0, lastUsedAt: this.#now() };
    this.#sockets.set(socket, t);
    const phase = this.#phase;
    socket.once("close", () => {
      this.#lines.push(
        `${String(t.openedAt).padStart(7)} ms  open   [${phase}] first: ${t.first ?? "-"}; ${t.requests} requests; closed at ${this.#now()} ms after ${this.#now() - t.lastUsedAt} ms idle`,
      );
      this.#sockets.delete(socket);
    });
  }

  #sent({ socket, request }: { socket: Socket; request: { method: string; path: string } }): void {
    const t = this.#sockets.get(socket);
    if (!t) return;
    t.first ??= `${request.method} ${request.path.split("?")[0]}${request.path.includes("watch=") ? " (watch)" : ""}`;
    t.requests++;
    t.lastUsedAt = this.#now();
  }

  print(): void {
    for (const [, t] of this.#sockets)
      this.#lines.push(
        `${String(t.openedAt).padStart(7)} ms  open   first: ${t.first ?? "-"}; ${t.requests} requests; still open`,
      );
    console.log("\n== API server connections (opened at, phase, first request, lifetime) ==");
    for (const line of this.#lines.sort((a, b) => Number.parseInt(a) - Number.parseInt(b))) console.log(line);
  }
}
