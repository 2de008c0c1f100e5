/**
 * The controller's Kubernetes client over TLS reuses a small, bounded set of connections
 * (src/kubernetes/api/connection-pool.ts): what the API server sees is connections accepted.
 */
import { expect } from "chai";
import * as k8s from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { API_CONNECTIONS } from "../../src/kubernetes/api/connection-pool.js";
import { kubeClients } from "../../src/kubernetes/api/kube-client.js";
import { selfSignedCertificate } from "../support/tls.js";
import { TestApiServer } from "./apiserver/server.js";

describe("k8s: API connections (one bounded pool per cluster, watches apart)", () => {
  let api: TestApiServer;
  let clients: ReturnType<typeof kubeClients>;

  beforeEach(async () => {
    const tls = selfSignedCertificate();
    api = await new TestApiServer({ tls: { cert: tls.cert, key: readFileSync(tls.keyFile) } }).start();
    const config = new k8s.KubeConfig();
    config.loadFromString(api.kubeconfig());
    clients = kubeClients(config);
  });

  afterEach(async () => {
    await api.stop();
  });

  it("serves 60 concurrent calls of every verb over at most the pool's connections, and reuses them afterwards", async () => {
    const { core } = clients;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        core.createNamespacedSecret({
          namespace: "apps",
          body: { metadata: { name: `s${i}` }, stringData: { v: "1" } },
        }),
      ),
    );
    await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => core.readNamespacedSecret({ namespace: "apps", name: `s${i}` })),
      ...Array.from({ length: 20 }, (_, i) =>
        core.patchNamespacedSecret(
          { namespace: "apps", name: `s${i}`, body: { metadata: { labels: { n: String(i) } } } },
          k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
        ),
      ),
    ]);
    expect(api.connections).to.be.at.most(API_CONNECTIONS);
    const before = api.connections;
    for (let i = 0; i < 10; i++) await core.listNamespacedSecret({ namespace: "apps" });
    expect(api.connections).to.equal(before);
    const listed = await core.listNamespacedSecret({ namespace: "apps" });
    expect(listed.items.map((s) => s.metadata?.labels?.n).filter(Boolean)).to.have.length(20);
  });

  it("keeps answering calls while more watches than the pool has connections are open", async () => {
    const watch = new k8s.Watch(clients.config);
    const aborts: AbortController[] = [];
    const started: string[] = [];
    for (let i = 0; i < API_CONNECTIONS + 2; i++) {
      aborts.push(
        await watch.watch(
          "/api/v1/namespaces/apps/secrets",
          {},
          (type) => started.push(type),
          () => undefined,
        ),
      );
    }
    try {
      await clients.core.createNamespacedSecret({
        namespace: "apps",
        body: { metadata: { name: "seen-by-all" }, stringData: { v: "1" } },
      });
      const read = await clients.core.readNamespacedSecret({ namespace: "apps", name: "seen-by-all" });
      expect(Buffer.from(read.data!.v!, "base64").toString()).to.equal("1");
      const deadline = Date.now() + 5000;
      while (started.length < API_CONNECTIONS + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(started).to.have.length(API_CONNECTIONS + 2);
    } finally {
      for (const a of aborts) a.abort();
    }
  });
});
