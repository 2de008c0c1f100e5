import { expect } from "chai";
import net from "node:net";
import * as k8s from "@kubernetes/client-node";
import pg from "pg";
import { pino } from "pino";
import { randomBytes } from "node:crypto";
import { Aead } from "../../src/crypto/aead.js";
import { kubeClients } from "../../src/kubernetes/api/kube-client.js";
import { Controller } from "../../src/kubernetes/controller.js";
import { Metrics } from "../../src/telemetry/metrics.js";
import { TestApiServer } from "./apiserver/server.js";

describe("the controller's LISTEN connection uses the pool's database timeouts", function () {
  this.timeout(30_000);
  let api: TestApiServer;
  let blackhole: net.Server;
  const sockets: net.Socket[] = [];

  before(async () => {
    api = await new TestApiServer().start();
    // A database that accepts connections and never answers: a partition, as the client sees it.
    blackhole = net.createServer((socket) => void sockets.push(socket));
    await new Promise<void>((ok) => blackhole.listen(0, "127.0.0.1", ok));
  });
  after(async () => {
    sockets.forEach((s) => s.destroy());
    await new Promise((ok) => blackhole.close(ok));
    await api.stop();
  });

  it("gives up connecting after --db-connect-timeout, not the 5 s default", async () => {
    const url = `postgres://x:y@127.0.0.1:${(blackhole.address() as net.AddressInfo).port}/db`;
    const lines: string[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
    const kc = new k8s.KubeConfig();
    kc.loadFromString(api.kubeconfig());
    const pool = new pg.Pool({ connectionString: url });
    const controller = new Controller({
      db: pool,
      databaseUrl: url,
      dbTimeouts: { connectTimeoutMs: 200, queryTimeoutMs: 1_000 },
      aead: new Aead(new Map([[1, randomBytes(32)]])),
      account: "k8s",
      kube: kubeClients(kc),
      log,
      metrics: new Metrics(false),
      leaseNamespace: "strongroom",
    });
    const started = Date.now();
    controller.start();
    try {
      const deadline = Date.now() + 10_000;
      while (!lines.some((l) => l.includes("secret change listener could not connect")) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      const failure = lines.find((l) => l.includes("secret change listener could not connect"));
      expect(failure, "the listener reported its failed connect").to.not.equal(undefined);
      expect(JSON.parse(failure!).err).to.match(/timeout/i);
      // Generous bound (a busy machine): well under the 5 s default the listener would use without the pool's timeouts.
      expect(Date.now() - started).to.be.below(3_000);
    } finally {
      await controller.stop();
      await pool.end();
    }
  });
});
