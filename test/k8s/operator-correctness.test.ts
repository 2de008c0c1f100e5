import { expect } from "chai";
import * as k8s from "@kubernetes/client-node";
import jsonpatch from "fast-json-patch";
import pg from "pg";
import { mutatePod } from "../../src/kubernetes/webhook/mutate-pod.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { TestApiServer } from "./apiserver/server.js";
import type { WatchEvent } from "./apiserver/store.js";

const POLICY = `
- !host kubernetes/apps/web
- !variable db/password
- !permit { role: !host kubernetes/apps/web, privilege: execute, resource: !variable db/password }
`;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the operator's correctness under restarts, deletions, reconnects and silence", function () {
  this.timeout(60_000);
  let api: TestApiServer;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let server: TestServer;
  let token: string;
  const start = (databaseUrl?: string, dataKey?: string, flags: Record<string, string> = {}) =>
    startTestServer({
      account: "k8s",
      kubeConfig: kc,
      ...(databaseUrl ? { databaseUrl, dataKey } : {}),
      flags: { controller: true, namespace: "strongroom", ...flags },
    });
  const call = (method: string, path: string, body?: string) =>
    fetch(`${server.url}${path}`, { method, body, headers: { Authorization: `Token token="${token}"` } });
  const setSecret = (value: string) => call("POST", "/secrets/k8s/variable/db%2Fpassword", value);
  const decode = (s: k8s.V1Secret, file = "password") => Buffer.from(s.data![file]!, "base64").toString();

  /** A workload: `replicas` pods of one ReplicaSet, through the webhook's mutation. */
  async function workload(
    name: string,
    replicas: number,
    file = "password",
  ): Promise<{ pods: k8s.V1Pod[]; secretName: string }> {
    const pods: k8s.V1Pod[] = [];
    for (let i = 0; i < replicas; i++) {
      const pod: k8s.V1Pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: `${name}-${i}`,
          namespace: "apps",
          annotations: { "strongroom.io/inject": "true", [`strongroom.io/secret.${file}`]: "db/password" },
          ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name, uid: `rs-${name}`, controller: true }],
        },
        spec: { serviceAccountName: "web", containers: [{ name: "app", image: "app" }] },
      };
      const m = mutatePod(pod, "apps");
      if (m.kind !== "patch") throw new Error("not injected");
      pods.push(
        await core.createNamespacedPod({
          namespace: "apps",
          body: jsonpatch.applyPatch(pod, m.patch as jsonpatch.Operation[]).newDocument,
        }),
      );
    }
    return { pods, secretName: pods[0]!.metadata!.annotations!["strongroom.io/secret-name"]! };
  }
  const secret = (name: string) => core.readNamespacedSecret({ namespace: "apps", name });
  const secretEvents = (name: string) => {
    const seen: WatchEvent[] = [];
    const off = api.store.subscribe((e) => {
      if (e.key.endsWith("secrets") && e.object.metadata.name === name) seen.push(e);
    });
    return { seen, off };
  };

  before(async () => {
    api = await new TestApiServer().start();
    kc = new k8s.KubeConfig();
    kc.loadFromString(api.kubeconfig());
    core = kc.makeApiClient(k8s.CoreV1Api);
    server = await start();
    token = await (
      await fetch(`${server.url}/authn/k8s/admin/authenticate`, {
        method: "POST",
        body: server.adminKey,
        headers: { "Accept-Encoding": "base64" },
      })
    ).text();
    expect((await call("POST", "/policies/k8s/policy/root", POLICY)).status).to.equal(201);
    expect((await setSecret("v1")).status).to.equal(201);
    await until("leadership", async () => (server.controller!.leading ? true : undefined));
  });
  after(async () => {
    await server.close();
    await api.stop();
  });

  it("waits for its caches to sync after a restart: a Secret shared by 10 pods never loses an owner", async () => {
    const { secretName } = await workload("shared", 10);
    await until("10 owners", async () =>
      (await secret(secretName)).metadata!.ownerReferences!.length === 10 ? true : undefined,
    );
    await server.close();
    const { seen, off } = secretEvents(secretName);
    try {
      server = await start(server.databaseUrl, server.dataKey);
      await until("leadership", async () => (server.controller!.leading ? true : undefined));
      await server.controller!.idle();
      await new Promise((r) => setTimeout(r, 300));
      await server.controller!.idle();
    } finally {
      off();
    }
    const owners = seen.map((e) => (e.type === "DELETED" ? 0 : (e.object.metadata.ownerReferences?.length ?? 0)));
    expect(
      owners.filter((n) => n < 10),
      `owner counts written: ${owners.join(",")}`,
    ).to.deep.equal([]);
    expect(seen, "a restart on a synced cluster writes nothing").to.deep.equal([]);
  });

  it("never brings back the Secrets of workloads deleted all at once, nor announces them", async () => {
    const workloads = await Promise.all([0, 1, 2, 3, 4].map((i) => workload(`gone${i}`, 6, `pw${i}`)));
    for (const w of workloads) await until("the Secret", () => secret(w.secretName));
    await server.controller!.idle();
    const watched = workloads.map((w) => secretEvents(w.secretName));
    try {
      await Promise.all(
        workloads.flatMap((w) =>
          w.pods.map((p) => core.deleteNamespacedPod({ namespace: "apps", name: p.metadata!.name! })),
        ),
      );
      await new Promise((r) => setTimeout(r, 500));
      await server.controller!.idle();
    } finally {
      watched.forEach((w) => w.off());
    }
    expect(
      watched
        .flatMap((w) => w.seen)
        .filter((e) => e.type === "ADDED")
        .map((e) => e.object.metadata.name),
      "re-created",
    ).to.deep.equal([]);
    for (const w of workloads) expect(await secret(w.secretName).catch(() => "absent")).to.equal("absent");
    const announced = (await core.listNamespacedEvent({ namespace: "apps" })).items.filter(
      (e) => e.reason === "SecretsInjected" && workloads.some((w) => e.message?.includes(w.secretName)),
    );
    expect(announced).to.have.length(workloads.length);
  });

  it("sends one success Event per Secret, on the workload, not one per pod", async () => {
    const { secretName } = await workload("events", 6, "evt");
    await until("the Secret", () => secret(secretName));
    await server.controller!.idle();
    const events = (await core.listNamespacedEvent({ namespace: "apps" })).items.filter(
      (e) => e.reason === "SecretsInjected" && e.message?.includes(secretName),
    );
    expect(events).to.have.length(1);
    expect(events[0]!.involvedObject).to.include({ kind: "ReplicaSet", name: "events" });
  });

  it("re-resolves every key after its LISTEN connection was cut, so a rotation made in the gap arrives", async () => {
    const { secretName } = await workload("gap", 2, "gap");
    await until("the Secret", () => secret(secretName));
    await server.controller!.idle();
    const db = new pg.Client({ connectionString: server.databaseUrl });
    await db.connect();
    try {
      const cut = await db.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE query ILIKE 'LISTEN%' AND datname = current_database() AND pid <> pg_backend_pid()`,
      );
      // One LISTEN per server process (secrets/changes.ts), shared by the controller and the watch hub.
      expect(cut.rowCount).to.equal(1);
    } finally {
      await db.end();
    }
    // Written while no listener listens: the notification is lost for good.
    expect((await setSecret("written-in-the-gap")).status).to.equal(201);
    await until(
      "the rotated value",
      async () => (decode(await secret(secretName), "gap") === "written-in-the-gap" ? true : undefined),
      8_000,
    );
  });

  it("delivers a value changed during a key's first reconcile (its change signal finds no key indexed yet)", async () => {
    await server.controller!.idle();
    const pool = server.services.pool;
    const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
    const reads = new Set([
      "secret-latest-of-many",
      "secret-latest-values",
      "secret-latest-values-if-current",
      "secret-latest-of-one",
    ]);
    let armed = true;
    // The controller's first read of the new key returns the old value; before it is handed
    // back, the value changes and its signal arrives (while the key is still unindexed).
    pool.query = (async (config: { name?: string }, ...rest: unknown[]) => {
      const result = await query(config, ...rest);
      if (armed && reads.has(config?.name ?? "")) {
        armed = false;
        expect((await setSecret("changed-mid-reconcile")).status).to.equal(201);
        await new Promise((r) => setTimeout(r, 300));
      }
      return result;
    }) as typeof pool.query;
    try {
      const { secretName } = await workload("midway", 1, "midway");
      // Well inside the 5-minute refresh: only the signal can bring it.
      await until(
        "the changed value",
        async () => (decode(await secret(secretName), "midway") === "changed-mid-reconcile" ? true : undefined),
        5_000,
      );
      expect(armed).to.equal(false);
    } finally {
      pool.query = query as typeof pool.query;
    }
  });

  it("reports queue work ready to run apart from scheduled refreshes", async () => {
    await server.controller!.idle();
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).to.match(/^strongroom_queue_depth 0$/m);
    expect(Number(/^strongroom_queue_scheduled (\d+)$/m.exec(text)?.[1])).to.be.greaterThan(0);
    expect(text).to.match(/^strongroom_controller_leading 1$/m);
  });

  it("keeps /ready of the API and webhook up when the controller's watch goes quiet, and says so at /health/controller", async () => {
    await server.close();
    server = await start(server.databaseUrl, server.dataKey, { "watch-stale-after": "1" });
    await until("leadership", async () => (server.controller!.leading ? true : undefined));
    const unhealthy = await until("the controller to report silence", async () => {
      const res = await fetch(`${server.url}/health/controller`);
      // Before its caches sync it is also 503 ("not synced yet"): wait for the silence itself.
      const body = res.status === 503 ? ((await res.json()) as { reason: string }) : undefined;
      return body && /silent/.test(body.reason) ? body : undefined;
    });
    expect(unhealthy.reason).to.match(/silent/);
    expect((await fetch(`${server.url}/ready`)).status).to.equal(200);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await (await fetch(`${server.url}/metrics`)).text()).to.match(/^strongroom_controller_healthy 0$/m);
  });
});
