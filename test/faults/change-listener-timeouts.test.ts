import { expect } from "chai";
import net from "node:net";
import { pino } from "pino";
import { SecretChanges } from "../../src/secrets/changes.js";

/**
 * The server's one LISTEN connection (secrets/changes.ts, followed by the controller and the
 * watch hub) uses the pool's bounded waits: against a partitioned database it gives up after
 * --db-connect-timeout and retries, instead of hanging on pg's defaults.
 */
describe("the change listener's LISTEN connection uses the pool's database timeouts", function () {
  this.timeout(30_000);
  let blackhole: net.Server;
  const sockets: net.Socket[] = [];

  before(async () => {
    // A database that accepts connections and never answers: a partition, as the client sees it.
    blackhole = net.createServer((socket) => void sockets.push(socket));
    await new Promise<void>((ok) => blackhole.listen(0, "127.0.0.1", ok));
  });
  after(async () => {
    sockets.forEach((s) => s.destroy());
    await new Promise((ok) => blackhole.close(ok));
  });

  it("gives up connecting after --db-connect-timeout, not the 5 s default, and tries again", async () => {
    const url = `postgres://x:y@127.0.0.1:${(blackhole.address() as net.AddressInfo).port}/db`;
    const lines: string[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
    const changes = new SecretChanges(url, log, { connectTimeoutMs: 200, queryTimeoutMs: 1_000 });
    const failures = () => lines.filter((l) => l.includes("secret change listener could not connect"));
    const started = Date.now();
    await changes.start();
    try {
      expect(failures(), "start() returned after the failed connect").to.have.length(1);
      expect(JSON.parse(failures()[0] ?? "{}").err).to.match(/timeout/i);
      // Generous bound (a busy machine): well under the 5 s default it would use without the pool's timeouts.
      expect(Date.now() - started).to.be.below(3_000);
      const deadline = Date.now() + 5_000;
      while (failures().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(failures().length, "it retried (0.25–0.5 s later)").to.be.at.least(2);
    } finally {
      await changes.stop();
    }
  });
});
