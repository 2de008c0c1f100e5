import { expect } from "chai";
import jsonpatch from "fast-json-patch";
import { readFileSync } from "node:fs";
import * as k8s from "@kubernetes/client-node";
import { parse } from "yaml";
import { Client } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { httpsRequest, selfSignedCertificate, type TestCertificate } from "../support/tls.js";
import { TestApiServer } from "./apiserver/server.js";

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

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the operator end to end: webhook → pod → controller → Secret", function () {
  this.timeout(60_000);
  let api: TestApiServer;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let tls: TestCertificate;
  let server: TestServer;
  let admin: Client;
  const decode = (secret: k8s.V1Secret): Record<string, string> =>
    Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));
  const secretNamed = (name: string) => () => core.readNamespacedSecret({ namespace: "apps", name });
  const managedSecrets = async (): Promise<k8s.V1Secret[]> =>
    (await core.listNamespacedSecret({ namespace: "apps", labelSelector: "app.kubernetes.io/managed-by=strongroom" }))
      .items;
  const eventsFor = async (pod: k8s.V1Pod): Promise<k8s.CoreV1Event[]> =>
    (await core.listNamespacedEvent({ namespace: "apps", fieldSelector: `involvedObject.name=${pod.metadata!.name}` }))
      .items;

  /** What a ReplicaSet does: send the pod through the webhook, apply the patch, create it. */
  async function createThroughWebhook(
    serviceAccountName: string,
    annotations: Record<string, string>,
  ): Promise<k8s.V1Pod> {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        generateName: `${serviceAccountName}-7c9f-`,
        namespace: "apps",
        annotations: { "strongroom.io/inject": "true", ...annotations },
      },
      spec: { serviceAccountName, containers: [{ name: "app", image: "app" }] },
    };
    const review = {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: { uid: "u1", kind: { kind: "Pod" }, namespace: "apps", operation: "CREATE", object: pod },
    };
    const res = await httpsRequest(`https://127.0.0.1:${server.webhookPort}/mutate-pods`, tls.cert, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(review),
    });
    const response = JSON.parse(res.text).response;
    expect(response.allowed).to.equal(true);
    const mutated = jsonpatch.applyPatch(pod, JSON.parse(Buffer.from(response.patch, "base64").toString())).newDocument;
    return core.createNamespacedPod({ namespace: "apps", body: mutated });
  }

  const startStrongroom = (databaseUrl?: string, dataKey?: string) =>
    startTestServer({
      account: "k8s",
      kubeConfig: kc,
      ...(databaseUrl ? { databaseUrl, dataKey } : {}),
      flags: {
        controller: true,
        "webhook-port": "0",
        "tls-cert": tls.certFile,
        "tls-key": tls.keyFile,
        namespace: "strongroom",
      },
    });

  before(async () => {
    api = await new TestApiServer().start();
    kc = new k8s.KubeConfig();
    kc.loadFromString(api.kubeconfig());
    core = kc.makeApiClient(k8s.CoreV1Api);
    await fetch(`${api.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`, {
      method: "POST",
      body: JSON.stringify(parse(readFileSync("crds/strongroom.io_secretbindings.yaml", "utf8"))),
    });
    tls = selfSignedCertificate();
    server = await startStrongroom();
    admin = new Client(server.url, "k8s");
    const auth = await httpsRequest(`${server.url}/authn/k8s/admin/authenticate`, tls.cert, {
      method: "POST",
      body: server.adminKey,
      headers: { "Accept-Encoding": "base64" },
    });
    admin.token = auth.text;
    const call = (method: string, path: string, body: string) =>
      httpsRequest(`${server.url}${path}`, tls.cert, {
        method,
        body,
        headers: { Authorization: `Token token="${admin.token}"` },
      });
    expect((await call("POST", "/policies/k8s/policy/root", POLICY)).status).to.equal(201);
    for (const [id, value] of [
      ["db/password", "s3cr3t"],
      ["db/user", "app"],
      ["other/token", "not-yours"],
    ])
      expect((await call("POST", `/secrets/k8s/variable/${encodeURIComponent(id!)}`, value!)).status).to.equal(201);
    await until("leadership", async () => (server.controller!.leading ? true : undefined));
  });
  after(async () => {
    await server.close();
    await api.stop();
  });

  const BINDINGS = { group: "strongroom.io", version: "v1alpha1", namespace: "apps", plural: "secretbindings" };
  const createBinding = (name: string, spec: object) =>
    kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
      ...BINDINGS,
      body: { apiVersion: "strongroom.io/v1alpha1", kind: "SecretBinding", metadata: { name }, spec },
    });
  const bindingWhen = (name: string, status: string) =>
    until(`${name} Ready=${status}`, async () => {
      const b: any = await kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({ ...BINDINGS, name });
      return b.status?.conditions?.[0]?.status === status ? b : undefined;
    });

  const setSecret = (id: string, value: string) =>
    httpsRequest(`${server.url}/secrets/k8s/variable/${encodeURIComponent(id)}`, tls.cert, {
      method: "POST",
      body: value,
      headers: { Authorization: `Token token="${admin.token}"` },
    });

  let web1: k8s.V1Pod;
  let web2: k8s.V1Pod;
  let secretName: string;

  it("gives an annotated pod a Secret whose keys are its files and whose values are the variables' bytes", async () => {
    web1 = await createThroughWebhook("web", {
      "strongroom.io/secret.password": "db/password",
      "strongroom.io/secret.user": "db/user",
    });
    secretName = web1.metadata!.annotations!["strongroom.io/secret-name"]!;
    const secret = await until("the Secret", secretNamed(secretName));
    expect(decode(secret)).to.deep.equal({ password: "s3cr3t", user: "app" });
    expect(secret.metadata!.ownerReferences!.map((o) => o.uid)).to.deep.equal([web1.metadata!.uid]);
    expect(web1.spec!.volumes![0]!.projected!.sources![0]!.secret!.name).to.equal(secretName);
  });

  it("lets a second replica reuse the same Secret (one Secret, both pods as owners)", async () => {
    web2 = await createThroughWebhook("web", {
      "strongroom.io/secret.user": "db/user",
      "strongroom.io/secret.password": "db/password",
    });
    expect(web2.metadata!.annotations!["strongroom.io/secret-name"]).to.equal(secretName);
    await until("both owners", async () =>
      (await secretNamed(secretName)()).metadata!.ownerReferences!.length === 2 ? true : undefined,
    );
    expect((await managedSecrets()).map((s) => s.metadata!.name)).to.deep.equal([secretName]);
  });

  it("updates the Secret within a second of POST /secrets, and nudges the pods to re-sync", async () => {
    const started = Date.now();
    expect((await setSecret("db/password", "rotated-1")).status).to.equal(201);
    await until(
      "the rotated value",
      async () => (decode(await secretNamed(secretName)()).password === "rotated-1" ? true : undefined),
      1000,
    );
    const elapsed = Date.now() - started;
    expect(elapsed).to.be.below(1000);
    await until("the pod annotation", async () =>
      (await core.readNamespacedPod({ namespace: "apps", name: web1.metadata!.name! })).metadata!.annotations![
        "strongroom.io/secret-version"
      ]
        ? true
        : undefined,
    );
  });

  it("gives a pod whose service account has no host nothing but a denial Event", async () => {
    const pod = await createThroughWebhook("intruder", { "strongroom.io/secret.password": "db/password" });
    const events = await until("a denial event", async () =>
      (await eventsFor(pod)).length ? await eventsFor(pod) : undefined,
    );
    expect(events[0]).to.include({ type: "Warning", reason: "HostNotFound" });
    expect(events[0]!.message).to.contain("kubernetes/apps/intruder");
    expect((await managedSecrets()).map((s) => s.metadata!.name)).to.not.include(
      pod.metadata!.annotations!["strongroom.io/secret-name"],
    );
  });

  it("denies a pod that claims a host bound to another service account", async () => {
    const pod = await createThroughWebhook("web", {
      "strongroom.io/host": "billing/app",
      "strongroom.io/secret.password": "db/password",
    });
    const events = await until("a denial event", async () =>
      (await eventsFor(pod)).length ? await eventsFor(pod) : undefined,
    );
    expect(events[0]).to.include({ type: "Warning", reason: "HostNotBound" });
    const allowed = await createThroughWebhook("billing", {
      "strongroom.io/host": "billing/app",
      "strongroom.io/secret.password": "db/password",
    });
    const secret = await until(
      "the billing Secret",
      secretNamed(allowed.metadata!.annotations!["strongroom.io/secret-name"]!),
    );
    expect(decode(secret)).to.deep.equal({ password: "rotated-1" });
  });

  it("denies a pod asking for a variable its identity may not execute, and leaks nothing", async () => {
    const pod = await createThroughWebhook("other", {
      "strongroom.io/secret.token": "other/token",
      "strongroom.io/secret.password": "db/password",
    });
    const events = await until("a denial event", async () =>
      (await eventsFor(pod)).length ? await eventsFor(pod) : undefined,
    );
    expect(events[0]).to.include({ type: "Warning", reason: "Forbidden" });
    expect(events[0]!.message).to.not.contain("not-yours");
    await server.controller!.idle();
    expect(
      await secretNamed(pod.metadata!.annotations!["strongroom.io/secret-name"]!)().catch(() => "absent"),
    ).to.equal("absent");
  });

  it("ignores a pod that names another identity's Secret", async () => {
    const intruder = await createThroughWebhook("other", { "strongroom.io/secret.token": "other/token" });
    await core.patchNamespacedPod(
      {
        namespace: "apps",
        name: intruder.metadata!.name!,
        body: { metadata: { annotations: { "strongroom.io/secret-name": secretName } } },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    const events = await until("a mismatch event", async () => {
      const list = (await eventsFor(intruder)).filter((e) => e.reason === "SecretNameMismatch");
      return list.length ? list : undefined;
    });
    expect(events[0]!.type).to.equal("Warning");
    await server.controller!.idle();
    const owners = (await secretNamed(secretName)()).metadata!.ownerReferences!.map((o) => o.uid);
    expect(owners).to.not.include(intruder.metadata!.uid);
  });

  it("deletes the Secret once no pod uses it", async () => {
    await core.deleteNamespacedPod({ namespace: "apps", name: web1.metadata!.name! });
    await until("one owner left", async () =>
      (await secretNamed(secretName)()).metadata!.ownerReferences!.length === 1 ? true : undefined,
    );
    await core.deleteNamespacedPod({ namespace: "apps", name: web2.metadata!.name! });
    await until("the Secret to go", async () =>
      (await secretNamed(secretName)().catch(() => "gone")) === "gone" ? true : undefined,
    );
  });

  it("converges after a controller restart without duplicates", async () => {
    const pod = await createThroughWebhook("web", { "strongroom.io/secret.password": "db/password" });
    const name = pod.metadata!.annotations!["strongroom.io/secret-name"]!;
    await until("the Secret", secretNamed(name));
    const before = (await managedSecrets()).map((s) => s.metadata!.name).sort();
    await server.close();
    // While no controller runs: the value changes and someone deletes the Secret.
    await core.deleteNamespacedSecret({ namespace: "apps", name });
    server = await startStrongroom(server.databaseUrl, server.dataKey);
    expect((await setSecret("db/password", "while-down")).status).to.equal(201);
    const secret = await until("the recreated Secret", async () => {
      const s = await secretNamed(name)();
      return decode(s).password === "while-down" ? s : undefined;
    });
    expect(secret.metadata!.ownerReferences!.map((o) => o.uid)).to.deep.equal([pod.metadata!.uid]);
    expect((await managedSecrets()).map((s) => s.metadata!.name).sort()).to.deep.equal(before);
  });

  it("syncs a SecretBinding into its own Secret and reports Ready", async () => {
    await createBinding("db-creds", {
      serviceAccountName: "web",
      items: [
        { path: "password", variable: "db/password" },
        { path: "username", variable: "db/user" },
      ],
    });
    const secret = await until("the binding's Secret", secretNamed("db-creds"));
    expect(decode(secret)).to.deep.equal({ password: "while-down", username: "app" });
    expect(secret.metadata!.ownerReferences![0]).to.include({
      kind: "SecretBinding",
      name: "db-creds",
      controller: true,
    });
    const binding = await bindingWhen("db-creds", "True");
    expect(binding.status.conditions[0]).to.include({ type: "Ready", reason: "Synced" });
    expect(binding.status.observedGeneration).to.equal(1);
    expect(binding.status.lastSyncTime).to.match(/^\d{4}-/);
    expect((await setSecret("db/user", "app-2")).status).to.equal(201);
    await until(
      "the binding's rotated value",
      async () => (decode(await secretNamed("db-creds")()).username === "app-2" ? true : undefined),
      1000,
    );
  });

  it("reports a SecretBinding it may not resolve as Ready=False with the reason", async () => {
    await createBinding("greedy", {
      serviceAccountName: "other",
      items: [{ path: "password", variable: "db/password" }],
    });
    const binding = await bindingWhen("greedy", "False");
    expect(binding.status.conditions[0].reason).to.equal("Forbidden");
    expect(await secretNamed("greedy")().catch(() => "absent")).to.equal("absent");
  });

  it("re-lists after its watch is dropped and its resourceVersion expired (410 Gone), and keeps working", async () => {
    api.store.compact();
    api.dropWatches();
    const relists = () =>
      api.requests.filter((r) => r.method === "GET" && r.path.startsWith("/api/v1/pods?") && !r.path.includes("watch="))
        .length;
    const before = relists();
    const pod = await createThroughWebhook("web", { "strongroom.io/secret.only-user": "db/user" });
    const secret = await until(
      "a Secret after the re-list",
      secretNamed(pod.metadata!.annotations!["strongroom.io/secret-name"]!),
      15_000,
    );
    expect(decode(secret)).to.deep.equal({ "only-user": "app-2" });
    expect(relists()).to.be.greaterThan(before);
  });

  it("elects one leader among replicas through a Lease", async () => {
    const second = await startStrongroom(server.databaseUrl, server.dataKey);
    try {
      await new Promise((r) => setTimeout(r, 500));
      expect([server.controller!.leading, second.controller!.leading]).to.deep.equal([true, false]);
      const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
      const lease = await coordination.readNamespacedLease({ namespace: "strongroom", name: "strongroom-controller" });
      expect(lease.spec!.holderIdentity).to.be.a("string").and.not.equal("");
      await server.close();
      await until("the second replica to lead", async () => (second.controller!.leading ? true : undefined), 10_000);
    } finally {
      server = second;
    }
  });

  it("exports controller metrics", async () => {
    const text = await until("reconcile metrics", async () => {
      const t = (await httpsRequest(`${server.url}/metrics`, tls.cert)).text;
      return /strongroom_reconcile_total\{kind="pod",outcome="success"\} \d+/.test(t) ? t : undefined;
    });
    expect(text).to.contain("strongroom_reconcile_duration_seconds_bucket");
    expect(text).to.contain("strongroom_queue_depth");
    expect(text).to.contain("strongroom_watch_last_event_age_seconds");
  });
});
