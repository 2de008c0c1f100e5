import { expect } from "chai";
import * as k8s from "@kubernetes/client-node";
import { decode, OperatorFixture, until } from "../support/operator-fixture.js";

const POLICY = `
- !host kubernetes/apps/web
- !host kubernetes/apps/other
- !host
  id: billing/app
  annotations: { kubernetes/namespace: apps, kubernetes/service-account: billing }
- !variable db/password
- !variable db/user
- !variable other/token
- !permit { role: !host kubernetes/apps/web, privilege: execute, resources: [ !variable db/password, !variable db/user ] }
- !permit { role: !host billing/app, privilege: execute, resource: !variable db/password }
- !permit { role: !host kubernetes/apps/other, privilege: execute, resource: !variable other/token }
`;

describe("the operator end to end: webhook → pod → controller → Secret", function () {
  this.timeout(60_000);
  const k = new OperatorFixture({ webhook: true });
  before(() => k.start(POLICY, { "db/password": "s3cr3t", "db/user": "app", "other/token": "not-yours" }));
  after(() => k.stop());

  let web1: k8s.V1Pod;
  let web2: k8s.V1Pod;
  let secretName: string;

  it("gives an annotated pod a Secret whose keys are its files and whose values are the variables' bytes", async () => {
    web1 = await k.createThroughWebhook("web", {
      "strongroom.io/secret.password": "db/password",
      "strongroom.io/secret.user": "db/user",
    });
    secretName = web1.metadata!.annotations!["strongroom.io/secret-name"]!;
    const secret = await until("the Secret", () => k.secret(secretName));
    expect(decode(secret)).to.deep.equal({ password: "s3cr3t", user: "app" });
    expect(secret.metadata!.ownerReferences!.map((o) => o.uid)).to.deep.equal([web1.metadata!.uid]);
    expect(web1.spec!.volumes![0]!.projected!.sources![0]!.secret!.name).to.equal(secretName);
  });

  it("lets a second replica reuse the same Secret (one Secret, both pods as owners)", async () => {
    web2 = await k.createThroughWebhook("web", {
      "strongroom.io/secret.user": "db/user",
      "strongroom.io/secret.password": "db/password",
    });
    expect(web2.metadata!.annotations!["strongroom.io/secret-name"]).to.equal(secretName);
    await until("both owners", async () =>
      (await k.secret(secretName))?.metadata?.ownerReferences?.length === 2 ? true : undefined,
    );
    expect(await k.managedSecretNames()).to.deep.equal([secretName]);
  });

  it("updates the Secret within a second of POST /secrets, and nudges the pods to re-sync", async () => {
    const started = Date.now();
    await k.setSecret("db/password", "rotated-1");
    await until(
      "the rotated value",
      async () => ((await k.secretValues(secretName)).password === "rotated-1" ? true : undefined),
      1000,
    );
    const elapsed = Date.now() - started;
    expect(elapsed).to.be.below(1000);
    await until("the pod annotation", async () =>
      (await k.core.readNamespacedPod({ namespace: k.namespace, name: web1.metadata!.name! })).metadata!.annotations![
        "strongroom.io/secret-version"
      ]
        ? true
        : undefined,
    );
  });

  it("gives a pod whose service account has no host nothing but a denial Event", async () => {
    const pod = await k.createThroughWebhook("intruder", { "strongroom.io/secret.password": "db/password" });
    const events = await until("a denial event", async () => {
      const list = await k.events(pod.metadata!.name!);
      return list.length ? list : undefined;
    });
    expect(events[0]).to.include({ type: "Warning", reason: "HostNotFound" });
    expect(events[0]!.message).to.contain("kubernetes/apps/intruder");
    expect(await k.managedSecretNames()).to.not.include(pod.metadata!.annotations!["strongroom.io/secret-name"]);
  });

  it("denies a pod that claims a host bound to another service account", async () => {
    const pod = await k.createThroughWebhook("web", {
      "strongroom.io/host": "billing/app",
      "strongroom.io/secret.password": "db/password",
    });
    const events = await until("a denial event", async () => {
      const list = await k.events(pod.metadata!.name!);
      return list.length ? list : undefined;
    });
    expect(events[0]).to.include({ type: "Warning", reason: "HostNotBound" });
    const allowed = await k.createThroughWebhook("billing", {
      "strongroom.io/host": "billing/app",
      "strongroom.io/secret.password": "db/password",
    });
    const secret = await until("the billing Secret", () =>
      k.secret(allowed.metadata!.annotations!["strongroom.io/secret-name"]!),
    );
    expect(decode(secret)).to.deep.equal({ password: "rotated-1" });
  });

  it("denies a pod asking for a variable its identity may not execute, and leaks nothing", async () => {
    const pod = await k.createThroughWebhook("other", {
      "strongroom.io/secret.token": "other/token",
      "strongroom.io/secret.password": "db/password",
    });
    const events = await until("a denial event", async () => {
      const list = await k.events(pod.metadata!.name!);
      return list.length ? list : undefined;
    });
    expect(events[0]).to.include({ type: "Warning", reason: "Forbidden" });
    expect(events[0]!.message).to.not.contain("not-yours");
    await k.server.controller!.idle();
    expect((await k.secret(pod.metadata!.annotations!["strongroom.io/secret-name"]!)) ?? "absent").to.equal("absent");
  });

  it("ignores a pod that names another identity's Secret", async () => {
    const intruder = await k.createThroughWebhook("other", { "strongroom.io/secret.token": "other/token" });
    await k.core.patchNamespacedPod(
      {
        namespace: k.namespace,
        name: intruder.metadata!.name!,
        body: { metadata: { annotations: { "strongroom.io/secret-name": secretName } } },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    const events = await until("a mismatch event", async () => {
      const list = await k.events(intruder.metadata!.name!, "SecretNameMismatch");
      return list.length ? list : undefined;
    });
    expect(events[0]!.type).to.equal("Warning");
    await k.server.controller!.idle();
    const owners = (await k.secret(secretName))!.metadata!.ownerReferences!.map((o) => o.uid);
    expect(owners).to.not.include(intruder.metadata!.uid);
  });

  it("deletes the Secret once no pod uses it", async () => {
    await k.deletePod(web1.metadata!.name!);
    await until("one owner left", async () =>
      (await k.secret(secretName))?.metadata?.ownerReferences?.length === 1 ? true : undefined,
    );
    await k.deletePod(web2.metadata!.name!);
    await until("the Secret to go", async () =>
      ((await k.secret(secretName)) ?? "gone") === "gone" ? true : undefined,
    );
  });

  it("converges after a controller restart without duplicates", async () => {
    const pod = await k.createThroughWebhook("web", { "strongroom.io/secret.password": "db/password" });
    const name = pod.metadata!.annotations!["strongroom.io/secret-name"]!;
    await until("the Secret", () => k.secret(name));
    const before = (await k.managedSecretNames()).sort();
    await k.server.close();
    // While no controller runs: the value changes and someone deletes the Secret.
    await k.core.deleteNamespacedSecret({ namespace: k.namespace, name });
    k.server = await k.startReplica();
    await k.setSecret("db/password", "while-down");
    const secret = await until("the recreated Secret", async () => {
      const s = await k.secret(name);
      return decode(s).password === "while-down" ? s : undefined;
    });
    expect(secret.metadata!.ownerReferences!.map((o) => o.uid)).to.deep.equal([pod.metadata!.uid]);
    expect((await k.managedSecretNames()).sort()).to.deep.equal(before);
  });

  it("syncs a SecretBinding into its own Secret and reports Ready", async () => {
    await k.createBinding("db-creds", {
      serviceAccountName: "web",
      items: [
        { path: "password", variable: "db/password" },
        { path: "username", variable: "db/user" },
      ],
    });
    const secret = await until("the binding's Secret", () => k.secret("db-creds"));
    expect(decode(secret)).to.deep.equal({ password: "while-down", username: "app" });
    expect(secret.metadata!.ownerReferences![0]).to.include({
      kind: "SecretBinding",
      name: "db-creds",
      controller: true,
    });
    const binding = await k.bindingReady("db-creds", "True");
    expect(binding.status.conditions[0]).to.include({ type: "Ready", reason: "Synced" });
    expect(binding.status.observedGeneration).to.equal(1);
    expect(binding.status.lastSyncTime).to.match(/^\d{4}-/);
    await k.setSecret("db/user", "app-2");
    await until(
      "the binding's rotated value",
      async () => ((await k.secretValues("db-creds")).username === "app-2" ? true : undefined),
      1000,
    );
  });

  it("reports a SecretBinding it may not resolve as Ready=False with the reason", async () => {
    await k.createBinding("greedy", {
      serviceAccountName: "other",
      items: [{ path: "password", variable: "db/password" }],
    });
    const binding = await k.bindingReady("greedy", "False");
    expect(binding.status.conditions[0]?.reason).to.equal("Forbidden");
    expect((await k.secret("greedy")) ?? "absent").to.equal("absent");
  });

  it("re-lists after its watch is dropped and its resourceVersion expired (410 Gone), and keeps working", async () => {
    k.api.store.compact();
    k.api.dropWatches();
    const relists = () =>
      k.api.requests.filter(
        (r) => r.method === "GET" && r.path.startsWith("/api/v1/pods?") && !r.path.includes("watch="),
      ).length;
    const before = relists();
    const pod = await k.createThroughWebhook("web", { "strongroom.io/secret.only-user": "db/user" });
    const secret = await until(
      "a Secret after the re-list",
      () => k.secret(pod.metadata!.annotations!["strongroom.io/secret-name"]!),
      15_000,
    );
    expect(decode(secret)).to.deep.equal({ "only-user": "app-2" });
    expect(relists()).to.be.greaterThan(before);
  });

  it("elects one leader among replicas through a Lease", async () => {
    const second = await k.startReplica();
    try {
      await new Promise((r) => setTimeout(r, 500));
      expect([k.server.controller!.leading, second.controller!.leading]).to.deep.equal([true, false]);
      const coordination = k.kc.makeApiClient(k8s.CoordinationV1Api);
      const lease = await coordination.readNamespacedLease({ namespace: "strongroom", name: "strongroom-controller" });
      expect(lease.spec!.holderIdentity).to.be.a("string").and.not.equal("");
      await k.server.close();
      await until("the second replica to lead", async () => (second.controller!.leading ? true : undefined), 10_000);
    } finally {
      k.server = second;
    }
  });

  it("exports controller metrics", async () => {
    const text = await until("reconcile metrics", async () => {
      const t = await k.metrics();
      return /strongroom_reconcile_total\{kind="pod",outcome="success"\} \d+/.test(t) ? t : undefined;
    });
    expect(text).to.contain("strongroom_reconcile_duration_seconds_bucket");
    expect(text).to.contain("strongroom_queue_depth");
    expect(text).to.contain("strongroom_watch_last_event_age_seconds");
  });
});
