import { expect } from "chai";
import * as k8s from "@kubernetes/client-node";
import { kubectl } from "./chart.js";
import { adminConfig, decode, installation, namespace, until, type Installation } from "./fixture.js";

const NS = "watch-apps";
const POLICY = `
- !host kubernetes/${NS}/app
- !variable watch/key
- !permit { role: !host kubernetes/${NS}/app, privilege: execute, resource: !variable watch/key }
`;

const annotatedPod = (name: string): k8s.V1Pod => ({
  metadata: { name, annotations: { "strongroom.io/inject": "true", "strongroom.io/secret.key": "watch/key" } },
  spec: { serviceAccountName: "app", containers: [{ name: "app", image: "registry.example/app:1" }] },
});

describe("watches: 410 Gone after etcd compaction, an API server restarted mid-run", function () {
  this.timeout(240_000);
  let inst: Installation;
  let core: k8s.CoreV1Api;

  const secretOf = async (pod: string): Promise<k8s.V1Secret> => {
    const p = await core.readNamespacedPod({ namespace: NS, name: pod });
    return core.readNamespacedSecret({ namespace: NS, name: p.metadata!.annotations!["strongroom.io/secret-name"]! });
  };

  before(async () => {
    inst = await installation();
    core = adminConfig(inst.cp).makeApiClient(k8s.CoreV1Api);
    await namespace(NS);
    kubectl(inst.cp, ["create", "serviceaccount", "app", "-n", NS]);
    await inst.admin.loadPolicy(POLICY);
    await inst.admin.setSecret("watch/key", "k1");
    await core.createNamespacedPod({ namespace: NS, body: annotatedPod("before") });
    await until("the first pod's Secret", () => secretOf("before"), 15_000);
  });

  it("relists after its resourceVersion was compacted away, and misses no pod created meanwhile", async () => {
    // The controller's watch is cut (its API server stops); the cluster changes through another
    // API server; etcd is compacted past the controller's resourceVersion. When its API server
    // returns, the watch resumes from a resourceVersion that no longer exists: 410 Gone.
    const staleVersion = (await core.listNamespacedPod({ namespace: NS })).metadata!.resourceVersion!;
    let compactedAt = 0;
    await inst.cp.whileApiserverDown(async (otherKubeconfig) => {
      const other = new k8s.KubeConfig();
      other.loadFromFile(otherKubeconfig);
      const otherCore = other.makeApiClient(k8s.CoreV1Api);
      // The webhook is called by this API server too (same configuration in etcd).
      await otherCore.createNamespacedPod({ namespace: NS, body: annotatedPod("during") });
      for (let i = 0; i < 5; i++)
        await otherCore.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: `churn-${i}` } } });
      compactedAt = await inst.cp.compactEtcd();
    });
    expect(compactedAt).to.be.greaterThan(Number(staleVersion));
    // What the controller's watch met on resuming from a version of before the outage: 410 Gone.
    const resumed = kubectl(inst.cp, [
      "get",
      "--raw",
      `/api/v1/namespaces/${NS}/pods?watch=1&resourceVersion=${staleVersion}&timeoutSeconds=2`,
    ]);
    expect(resumed).to.match(/"type":"ERROR".*"code":410/);
    const secret = await until(
      "the Secret of the pod created while the watch was cut",
      () => secretOf("during"),
      60_000,
    );
    expect(decode(secret)).to.deep.equal({ key: "k1" });
  });

  it("resumes by itself after an API server restart: a rotation still reaches the Secrets", async () => {
    await inst.cp.restartApiserver();
    await inst.admin.setSecret("watch/key", "k2");
    for (const pod of ["before", "during"])
      await until(
        `${pod}'s rotated Secret`,
        async () => (decode(await secretOf(pod)).key === "k2" ? true : undefined),
        60_000,
      );
    await core.createNamespacedPod({ namespace: NS, body: annotatedPod("after") });
    expect(
      decode(await until("the Secret of a pod created after the restart", () => secretOf("after"), 30_000)),
    ).to.deep.equal({ key: "k2" });
  });
});
