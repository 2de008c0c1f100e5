import { expect } from "chai";
import * as k8s from "@kubernetes/client-node";
import { kubectl } from "./chart.js";
import { adminConfig, installation, namespace, until, type Installation } from "./fixture.js";

const NS = "webhook-apps";
const POLICY = `
- !host kubernetes/${NS}/web
- !variable web/password
- !permit { role: !host kubernetes/${NS}/web, privilege: execute, resource: !variable web/password }
`;

describe("the admission webhook, called by the real API server", function () {
  this.timeout(120_000);
  let inst: Installation;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;

  /** Admission reviews the webhook answered so far (all outcomes). */
  const reviews = async (): Promise<number> => {
    const res = await inst.admin.call("GET", "/metrics");
    return [...res.text.matchAll(/^strongroom_webhook_injections_total\{[^}]*\} (\d+)/gm)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
  };
  const pod = (name: string, annotations: Record<string, string>): k8s.V1Pod => ({
    metadata: { name, annotations },
    spec: { serviceAccountName: "web", containers: [{ name: "app", image: "registry.example/app:1" }] },
  });

  before(async () => {
    inst = await installation();
    const kc = adminConfig(inst.cp);
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    await namespace(NS);
    kubectl(inst.cp, ["create", "serviceaccount", "web", "-n", NS]);
    await inst.admin.loadPolicy(POLICY);
    await inst.admin.setSecret("web/password", "hunter2");
  });

  it("gives an annotated Deployment's pods the projected volume (ReplicaSet → webhook → pod)", async () => {
    const labels = { app: "web" };
    await apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: {
              labels,
              annotations: { "strongroom.io/inject": "true", "strongroom.io/secret.password": "web/password" },
            },
            spec: { serviceAccountName: "web", containers: [{ name: "app", image: "registry.example/app:1" }] },
          },
        },
      },
    });
    const pods = await until("the Deployment's two pods", async () => {
      const items = (await core.listNamespacedPod({ namespace: NS, labelSelector: "app=web" })).items;
      return items.length === 2 ? items : undefined;
    });
    for (const p of pods) {
      const secretName = p.metadata!.annotations!["strongroom.io/secret-name"];
      expect(secretName).to.be.a("string");
      const volume = p.spec!.volumes!.find((v) => v.projected?.sources?.some((s) => s.secret?.name === secretName));
      expect(volume, "projected volume").to.not.equal(undefined);
      const mount = p.spec!.containers[0]!.volumeMounts!.find((m) => m.name === volume!.name);
      expect(mount).to.include({ mountPath: "/var/run/secrets/strongroom", readOnly: true });
    }
  });

  it("is never sent a pod without the opt-in annotation (matchConditions, evaluated by the API server)", async () => {
    const before = await reviews();
    await core.createNamespacedPod({ namespace: NS, body: pod("plain", {}) });
    await core.createNamespacedPod({
      namespace: NS,
      body: pod("opted-out", { "strongroom.io/inject": "false", "strongroom.io/secret.password": "web/password" }),
    });
    await core.createNamespacedPod({
      namespace: NS,
      body: pod("opted-in", { "strongroom.io/inject": "true", "strongroom.io/secret.password": "web/password" }),
    });
    // Only the last one reached the webhook.
    expect((await reviews()) - before).to.equal(1);
  });

  it("refuses opted-in pods and admits all others while the webhook is down", async () => {
    const exit = await inst.server.stop();
    expect(exit).to.equal(0);
    try {
      const refused = await core
        .createNamespacedPod({
          namespace: NS,
          body: pod("refused", { "strongroom.io/inject": "true", "strongroom.io/secret.password": "web/password" }),
        })
        .catch((err: unknown) => err);
      expect(refused).to.be.instanceOf(Error);
      const body = JSON.parse((refused as { body: string }).body);
      expect(body.code).to.equal(500);
      expect(body.message).to.match(/failed calling webhook "pods\.strongroom\.io".*connection refused/);
      const admitted = await core.createNamespacedPod({ namespace: NS, body: pod("admitted", {}) });
      expect(admitted.spec!.volumes!.map((v) => v.name)).to.not.include("strongroom-secrets");
    } finally {
      await inst.restart();
    }
    const again = await core.createNamespacedPod({
      namespace: NS,
      body: pod("after-restart", { "strongroom.io/inject": "true", "strongroom.io/secret.password": "web/password" }),
    });
    expect(again.metadata!.annotations!["strongroom.io/secret-name"]).to.be.a("string");
  });
});
