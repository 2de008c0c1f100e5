import { expect } from "chai";
import pg from "pg";
import { OperatorFixture, until } from "../support/operator-fixture.js";

const POLICY = `
- !host kubernetes/apps/web
- !variable db/password
- !permit { role: !host kubernetes/apps/web, privilege: execute, resource: !variable db/password }
`;

describe("the operator's correctness under restarts, deletions, reconnects and silence", function () {
  this.timeout(60_000);
  const k = new OperatorFixture();
  before(() => k.start(POLICY, { "db/password": "v1" }));
  after(() => k.stop());
  /** A workload of `replicas` pods of the service account web, with the file `file` holding db/password. */
  const workload = (name: string, replicas: number, file = "password") =>
    k.createWorkload(name, replicas, "web", { [`strongroom.io/secret.${file}`]: "db/password" });

  it("waits for its caches to sync after a restart: a Secret shared by 10 pods never loses an owner", async () => {
    const { secretName } = await workload("shared", 10);
    await until("10 owners", async () =>
      (await k.secret(secretName))?.metadata?.ownerReferences?.length === 10 ? true : undefined,
    );
    await k.server.close();
    const { seen, off } = k.recordSecretWrites(secretName);
    try {
      k.server = await k.startReplica();
      await until("leadership", async () => (k.server.controller!.leading ? true : undefined));
      await k.server.controller!.idle();
      await new Promise((r) => setTimeout(r, 300));
      await k.server.controller!.idle();
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
    for (const w of workloads) await until("the Secret", () => k.secret(w.secretName));
    await k.server.controller!.idle();
    const watched = workloads.map((w) => k.recordSecretWrites(w.secretName));
    try {
      await Promise.all(workloads.flatMap((w) => w.pods.map((p) => k.deletePod(p.metadata!.name!))));
      await new Promise((r) => setTimeout(r, 500));
      await k.server.controller!.idle();
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
    for (const w of workloads) expect((await k.secret(w.secretName)) ?? "absent").to.equal("absent");
    const announced = (await k.eventsWith("SecretsInjected")).filter((e) =>
      workloads.some((w) => e.message?.includes(w.secretName)),
    );
    expect(announced).to.have.length(workloads.length);
  });

  it("sends one success Event per Secret, on the workload, not one per pod", async () => {
    const { secretName } = await workload("events", 6, "evt");
    await until("the Secret", () => k.secret(secretName));
    await k.server.controller!.idle();
    const events = (await k.eventsWith("SecretsInjected")).filter((e) => e.message?.includes(secretName));
    expect(events).to.have.length(1);
    expect(events[0]!.involvedObject).to.include({ kind: "ReplicaSet", name: "events" });
  });

  it("re-resolves every key after its LISTEN connection was cut, so a rotation made in the gap arrives", async () => {
    const { secretName } = await workload("gap", 2, "gap");
    await until("the Secret", () => k.secret(secretName));
    await k.server.controller!.idle();
    const db = new pg.Client({ connectionString: k.server.databaseUrl });
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
    await k.setSecret("db/password", "written-in-the-gap");
    await until(
      "the rotated value",
      async () => ((await k.secretValues(secretName)).gap === "written-in-the-gap" ? true : undefined),
      8_000,
    );
  });

  it("delivers a value changed during a key's first reconcile (its change signal finds no key indexed yet)", async () => {
    await k.server.controller!.idle();
    const pool = k.server.services.pool;
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
        await k.setSecret("db/password", "changed-mid-reconcile");
        await new Promise((r) => setTimeout(r, 300));
      }
      return result;
    }) as typeof pool.query;
    try {
      const { secretName } = await workload("midway", 1, "midway");
      // Well inside the 5-minute refresh: only the signal can bring it.
      await until(
        "the changed value",
        async () => ((await k.secretValues(secretName)).midway === "changed-mid-reconcile" ? true : undefined),
        5_000,
      );
      expect(armed).to.equal(false);
    } finally {
      pool.query = query as typeof pool.query;
    }
  });

  it("reports queue work ready to run apart from scheduled refreshes", async () => {
    await k.server.controller!.idle();
    const text = await k.metrics();
    expect(text).to.match(/^strongroom_queue_depth 0$/m);
    expect(Number(/^strongroom_queue_scheduled (\d+)$/m.exec(text)?.[1])).to.be.greaterThan(0);
    expect(text).to.match(/^strongroom_controller_leading 1$/m);
  });

  it("keeps /ready of the API and webhook up when the controller's watch goes quiet, and says so at /health/controller", async () => {
    await k.server.close();
    k.server = await k.startReplica({ "watch-stale-after": "1" });
    await until("leadership", async () => (k.server.controller!.leading ? true : undefined));
    const unhealthy = await until("the controller to report silence", async () => {
      const res = await fetch(`${k.server.url}/health/controller`);
      // Before its caches sync it is also 503 ("not synced yet"): wait for the silence itself.
      const body = res.status === 503 ? ((await res.json()) as { reason: string }) : undefined;
      return body && /silent/.test(body.reason) ? body : undefined;
    });
    expect(unhealthy.reason).to.match(/silent/);
    expect((await fetch(`${k.server.url}/ready`)).status).to.equal(200);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await k.metrics()).to.match(/^strongroom_controller_healthy 0$/m);
  });
});
