import { expect } from "chai";
import jsonpatch from "fast-json-patch";
import * as k8s from "@kubernetes/client-node";
import { startTestServer, type TestServer } from "../support/server.js";
import { httpsRequest, selfSignedCertificate, type TestCertificate } from "../support/tls.js";
import { managedSecretName } from "../../src/kubernetes/injection/secret-name.js";
import { TestApiServer } from "./apiserver/server.js";

const POLICY = `
- !host kubernetes/apps/web
- !variable db/password
- !variable db/user
- !variable blob
- !permit { role: !host kubernetes/apps/web, privilege: execute, resources: [ !variable db/password, !variable db/user, !variable blob ] }
`;

const GROUPS = {
  "strongroom.io/secret.password": "db/password",
  "strongroom.io/secrets.app.env": "- DB_USER: db/user\n- DB_PASSWORD: db/password\n",
  "strongroom.io/format.app.env": "dotenv",
  "strongroom.io/file-mode.app.env": "0400",
  "strongroom.io/secrets.config.json": "- user: db/user\n- password: db/password\n",
  "strongroom.io/format.config.json": "json",
  "strongroom.io/secrets.dsn": "- U: db/user\n- P: db/password\n",
  "strongroom.io/format.dsn": "template",
  "strongroom.io/template.dsn": 'postgres://{{ secret "U" }}:{{ secret "P" | urlquery }}@db:5432/app',
  "strongroom.io/env.DB_PASSWORD": "db/password",
};

/** What each key must hold for a user and a password (the formats' escaping is tested in test/unit/render-*). */
const expected = (user: string, password: string, passwordInUrl: string) => ({
  password,
  "app.env": `DB_USER="${user}"\nDB_PASSWORD="${password.replaceAll('"', '\\"').replaceAll("$", "\\$")}"\n`,
  "config.json": JSON.stringify({ user, password }, null, 2) + "\n",
  dsn: `postgres://${user}:${passwordInUrl}@db:5432/app`,
  "env.DB_PASSWORD": password,
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the operator in Secret mode: grouped files and env rendered into the pod's Secret", function () {
  this.timeout(60_000);
  let api: TestApiServer;
  let core: k8s.CoreV1Api;
  let tls: TestCertificate;
  let server: TestServer;
  let token: string;
  const decode = (secret: k8s.V1Secret): Record<string, string> =>
    Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));
  const secretNamed = (name: string) => () => core.readNamespacedSecret({ namespace: "apps", name });
  const managedSecretNames = async (): Promise<string[]> =>
    (
      await core.listNamespacedSecret({ namespace: "apps", labelSelector: "app.kubernetes.io/managed-by=strongroom" })
    ).items.map((s) => s.metadata!.name!);
  const eventsFor = async (pod: k8s.V1Pod): Promise<k8s.CoreV1Event[]> =>
    (await core.listNamespacedEvent({ namespace: "apps", fieldSelector: `involvedObject.name=${pod.metadata!.name}` }))
      .items;
  const setSecret = (id: string, value: string | Buffer) =>
    httpsRequest(`${server.url}/secrets/k8s/variable/${encodeURIComponent(id)}`, tls.cert, {
      method: "POST",
      body: value,
      headers: { Authorization: `Token token="${token}"` },
    });

  /** What a ReplicaSet does: send the pod through the webhook, apply the patch, create it. */
  async function createThroughWebhook(
    annotations: Record<string, string>,
    mutate: (pod: k8s.V1Pod) => void = () => undefined,
  ): Promise<k8s.V1Pod> {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        generateName: "web-7c9f-",
        namespace: "apps",
        annotations: { "strongroom.io/inject": "true", ...annotations },
      },
      spec: { serviceAccountName: "web", containers: [{ name: "app", image: "app" }] },
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
    expect(response.allowed, response.status?.message).to.equal(true);
    const mutated: k8s.V1Pod = response.patch
      ? jsonpatch.applyPatch(pod, JSON.parse(Buffer.from(response.patch, "base64").toString())).newDocument
      : pod;
    mutate(mutated);
    return core.createNamespacedPod({ namespace: "apps", body: mutated });
  }

  before(async () => {
    api = await new TestApiServer().start();
    const kc = new k8s.KubeConfig();
    kc.loadFromString(api.kubeconfig());
    core = kc.makeApiClient(k8s.CoreV1Api);
    tls = selfSignedCertificate();
    server = await startTestServer({
      account: "k8s",
      kubeConfig: kc,
      flags: {
        controller: true,
        "webhook-port": "0",
        "tls-cert": tls.certFile,
        "tls-key": tls.keyFile,
        namespace: "strongroom",
        "agent-image": "strongroom:test",
        "agent-server-url": "https://strongroom.strongroom.svc:8080",
      },
    });
    token = (
      await httpsRequest(`${server.url}/authn/k8s/admin/authenticate`, tls.cert, {
        method: "POST",
        body: server.adminKey,
        headers: { "Accept-Encoding": "base64" },
      })
    ).text;
    expect(
      (
        await httpsRequest(`${server.url}/policies/k8s/policy/root`, tls.cert, {
          method: "POST",
          body: POLICY,
          headers: { Authorization: `Token token="${token}"` },
        })
      ).status,
    ).to.equal(201);
    for (const [id, value] of [
      ["db/password", 'p@ss "w$rd"'],
      ["db/user", "app"],
      ["blob", "text for now"],
    ])
      expect((await setSecret(id!, value!)).status).to.equal(201);
    await until("leadership", async () => (server.controller!.leading ? true : undefined));
  });
  after(async () => {
    await server.close();
    await api.stop();
  });

  let pod: k8s.V1Pod;
  let secretName: string;

  it("writes one Secret key per file (raw, dotenv, json, template) and one per env variable, with the right bytes", async () => {
    pod = await createThroughWebhook(GROUPS);
    secretName = pod.metadata!.annotations!["strongroom.io/secret-name"]!;
    const secret = await until("the Secret", secretNamed(secretName));
    expect(decode(secret)).to.deep.equal(expected("app", 'p@ss "w$rd"', "p%40ss+%22w%24rd%22"));
    // The pod reads the files through items (env keys never become files) and env through secretKeyRef.
    const source = pod.spec!.volumes![0]!.projected!.sources![0]!.secret!;
    expect(source.name).to.equal(secretName);
    expect(source.items!.map((i) => [i.key, i.mode])).to.deep.equal([
      ["app.env", 0o400],
      ["config.json", undefined],
      ["dsn", undefined],
      ["password", undefined],
    ]);
    expect(pod.spec!.containers[0]!.env).to.deep.equal([
      {
        name: "DB_PASSWORD",
        valueFrom: { secretKeyRef: { name: secretName, key: "env.DB_PASSWORD", optional: false } },
      },
    ]);
    for (const item of source.items!) expect(Object.keys(secret.data!)).to.include(item.key);
  });

  it("re-renders every file and the env key within a second of a rotation", async () => {
    const started = Date.now();
    expect((await setSecret("db/password", "rotated 2/2")).status).to.equal(201);
    await until(
      "the re-rendered Secret",
      async () => (decode(await secretNamed(secretName)())["env.DB_PASSWORD"] === "rotated 2/2" ? true : undefined),
      1000,
    );
    expect(Date.now() - started).to.be.below(1000);
    expect(decode(await secretNamed(secretName)())).to.deep.equal(expected("app", "rotated 2/2", "rotated+2%2F2"));
  });

  it("gives workloads that differ only in a format their own Secrets", async () => {
    const bash = await createThroughWebhook({ ...GROUPS, "strongroom.io/format.app.env": "bash" });
    const name = bash.metadata!.annotations!["strongroom.io/secret-name"]!;
    expect(name).to.not.equal(secretName);
    const secret = await until("the bash Secret", secretNamed(name));
    expect(decode(secret)["app.env"]).to.equal("export DB_USER='app'\nexport DB_PASSWORD='rotated 2/2'\n");
    expect(decode(await secretNamed(secretName)())["app.env"]).to.equal('DB_USER="app"\nDB_PASSWORD="rotated 2/2"\n');
  });

  it("refuses a binary value in a text format with a Warning Event (no value in it) and leaves the last good Secret untouched", async () => {
    const binary = await createThroughWebhook({
      "strongroom.io/secrets.blob.env": "- BLOB: blob\n",
      "strongroom.io/format.blob.env": "dotenv",
    });
    const name = binary.metadata!.annotations!["strongroom.io/secret-name"]!;
    const good = await until("the text Secret", secretNamed(name));
    expect(decode(good)).to.deep.equal({ "blob.env": 'BLOB="text for now"\n' });
    const bytes = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0xff, 0x00, 0x41]);
    expect((await setSecret("blob", bytes)).status).to.equal(201);
    const events = await until("a RenderFailed Event", async () => {
      const list = (await eventsFor(binary)).filter((e) => e.reason === "RenderFailed");
      return list.length ? list : undefined;
    });
    expect(events[0]!.type).to.equal("Warning");
    expect(events[0]!.message).to.match(/file 'blob.env': the value of 'BLOB' is binary/);
    expect(events[0]!.message).to.not.contain(bytes.toString("base64")).and.not.contain(bytes.toString("latin1"));
    await server.controller!.idle();
    const after = await secretNamed(name)();
    expect(after.metadata!.resourceVersion).to.equal(good.metadata!.resourceVersion);
    expect(decode(after)).to.deep.equal({ "blob.env": 'BLOB="text for now"\n' });
  });

  it("gives agent-mode pods no Secret, even one labelled managed and naming a Secret", async () => {
    const agent = await createThroughWebhook({
      "strongroom.io/inject-mode": "agent",
      "strongroom.io/secret.token": "db/password",
    });
    expect(agent.metadata!.annotations!["strongroom.io/secret-name"]).to.equal(undefined);
    expect(agent.spec!.initContainers![0]!.name).to.equal("strongroom-agent");
    const secretMode = await createThroughWebhook({ "strongroom.io/secret.only": "db/user" });
    const shared = secretMode.metadata!.annotations!["strongroom.io/secret-name"]!;
    await until("the secret-mode pod's Secret", secretNamed(shared));
    // Hand-edited (or hostile) init pods carrying the label and the name a Secret-mode pod would get.
    const forge = (name: string) => (p: k8s.V1Pod) => {
      p.metadata!.labels = { "strongroom.io/managed": "true" };
      p.metadata!.annotations!["strongroom.io/secret-name"] = name;
    };
    const ownName = managedSecretName("apps", "sa:web", { alone: "db/user" });
    const alone = await createThroughWebhook(
      { "strongroom.io/inject-mode": "init", "strongroom.io/secret.alone": "db/user" },
      forge(ownName),
    );
    const joiner = await createThroughWebhook(
      { "strongroom.io/inject-mode": "init", "strongroom.io/secret.only": "db/user" },
      forge(shared),
    );
    // Barrier: the pod watch is ordered, so once a later pod's Secret exists both were seen; idle() waits out their reconciles.
    const later = await createThroughWebhook({ "strongroom.io/secret.later": "db/user" });
    await until("the later pod's Secret", secretNamed(later.metadata!.annotations!["strongroom.io/secret-name"]!));
    await server.controller!.idle();
    expect(await managedSecretNames()).to.not.include(ownName);
    const owners = (await secretNamed(shared)()).metadata!.ownerReferences!.map((o) => o.uid);
    expect(owners, "an init-mode pod is no owner of a Secret-mode pod's Secret").to.deep.equal([
      secretMode.metadata!.uid,
    ]);
    expect(owners).to.not.include(alone.metadata!.uid).and.not.include(joiner.metadata!.uid);
  });
});
