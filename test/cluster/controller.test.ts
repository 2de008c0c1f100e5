import { expect } from "chai";
import * as k8s from "@kubernetes/client-node";
import { kubectl, NAMESPACE } from "./chart.js";
import { adminConfig, decode, installation, namespace, sleep, until, type Installation } from "./fixture.js";
import { freePort } from "./control-plane.js";
import { startServerProcess } from "./server-process.js";

const NS = "controller-apps";
const POLICY = `
- !host kubernetes/${NS}/app
- !variable app/password
- !permit { role: !host kubernetes/${NS}/app, privilege: execute, resource: !variable app/password }
`;

describe("the controller against the real API server and garbage collector", function () {
  this.timeout(120_000);
  let inst: Installation;
  let core: k8s.CoreV1Api;
  let pod: k8s.V1Pod;
  let secretName: string;

  const secret = (): Promise<k8s.V1Secret> => core.readNamespacedSecret({ namespace: NS, name: secretName });
  const leaseHolder = (): string =>
    JSON.parse(kubectl(inst.cp, ["get", "lease", "strongroom-controller", "-n", NAMESPACE, "-o", "json"])).spec
      .holderIdentity ?? "";

  before(async () => {
    inst = await installation();
    core = adminConfig(inst.cp).makeApiClient(k8s.CoreV1Api);
    await namespace(NS);
    kubectl(inst.cp, ["create", "serviceaccount", "app", "-n", NS]);
    await inst.admin.loadPolicy(POLICY);
    await inst.admin.setSecret("app/password", "v1");
  });

  it("writes the pod's managed Secret, owned by the pod", async () => {
    pod = await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: {
          name: "app",
          annotations: { "strongroom.io/inject": "true", "strongroom.io/secret.password": "app/password" },
        },
        spec: { serviceAccountName: "app", containers: [{ name: "app", image: "registry.example/app:1" }] },
      },
    });
    secretName = pod.metadata!.annotations!["strongroom.io/secret-name"]!;
    const written = await until("the managed Secret", secret);
    expect(decode(written)).to.deep.equal({ password: "v1" });
    const owners = written.metadata!.ownerReferences!.map((o) => ({
      apiVersion: o.apiVersion,
      kind: o.kind,
      name: o.name,
      uid: o.uid,
    }));
    expect(owners).to.deep.equal([{ apiVersion: "v1", kind: "Pod", name: "app", uid: pod.metadata!.uid }]);
    expect(written.metadata!.labels!["app.kubernetes.io/managed-by"]).to.equal("strongroom");
  });

  it("brings a rotation (POST /secrets) to the Secret within a second", async () => {
    const started = Date.now();
    await inst.admin.setSecret("app/password", "v2");
    await until("the rotated value", async () => (decode(await secret()).password === "v2" ? true : undefined), 1_000);
    expect(Date.now() - started).to.be.below(1_000);
  });

  it("writes nothing after a restart when nothing changed", async () => {
    const before = (await secret()).metadata!.resourceVersion;
    const oldHolder = leaseHolder();
    await inst.server.stop();
    await inst.restart();
    await until(
      "a new leader",
      async () => (leaseHolder() !== oldHolder && leaseHolder() !== "" ? true : undefined),
      30_000,
    );
    await inst.server.waitFor(/became leader/);
    await sleep(2_000);
    expect((await secret()).metadata!.resourceVersion).to.equal(before);
  });

  it("has one leader among two servers, and the other takes over within the lease duration when it is killed", async () => {
    const second = await startServerProcess(inst.cp, inst.manifests, { name: "second", webhookPort: await freePort() });
    try {
      await sleep(2_000);
      const leaders = [inst.server, second].filter((s) => /became leader/.test(s.output()));
      expect(leaders).to.have.length(1);
      expect(/became leader/.test(second.output())).to.equal(false);
      const killedAt = Date.now();
      await inst.server.kill();
      await second.waitFor(/became leader/, 20_000);
      // Lease duration 15 s (the server's default), plus the retry period.
      expect(Date.now() - killedAt).to.be.below(20_000);
      await inst.admin.setSecret("app/password", "v3").catch(() => undefined);
    } finally {
      await second.stop();
      await inst.restart();
    }
    await inst.admin.setSecret("app/password", "v3");
    await until(
      "the value written by the new leader",
      async () => (decode(await secret()).password === "v3" ? true : undefined),
      20_000,
    );
  });

  it("lets the real garbage collector delete the Secret once its pod is gone", async () => {
    await core.deleteNamespacedPod({ namespace: NS, name: "app" });
    const gone = async (): Promise<true | undefined> => {
      try {
        await secret();
        return undefined;
      } catch (err) {
        if ((err as { code?: number }).code === 404) return true;
        throw err;
      }
    };
    await until("the Secret's deletion", gone, 60_000);
  });
});
