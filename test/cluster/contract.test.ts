/**
 * The stand-in API server (test/k8s/apiserver) must answer as the real one does for what
 * Strongroom relies on: one scenario, run against both, compared as transcripts. A difference
 * is a bug in the stand-in (fix it there), since the stand-in is what the fast suite trusts.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { parse } from "yaml";
import { TestApiServer } from "../k8s/apiserver/server.js";
import { kubectl } from "./chart.js";
import { adminConfig, controlPlane, namespace, sleep } from "./fixture.js";

const NS = "contract";
const CRD = join(import.meta.dirname, "..", "..", "crds", "strongroom.io_secretbindings.yaml");
const B = { group: "strongroom.io", version: "v1alpha1", namespace: NS, plural: "secretbindings" };

type Step = Record<string, unknown>;

/** The outcome of a call as a client sees it: the status code and reason, or the chosen fields. */
async function outcome<T>(call: () => Promise<T>, pick: (value: T) => unknown): Promise<Step> {
  try {
    return { ok: pick(await call()) };
  } catch (err) {
    const e = err as { code?: number; body?: string };
    const body = typeof e.body === "string" ? (JSON.parse(e.body) as { reason?: string; kind?: string }) : {};
    return { code: e.code, kind: body.kind, reason: body.reason };
  }
}

/** What Strongroom relies on: Secrets (stringData, conflicts, patches, selectors, watch), the SecretBinding status subresource, Lease times. */
export async function scenario(kc: k8s.KubeConfig): Promise<Record<string, Step>> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const t: Record<string, Step> = {};
  const body = {
    metadata: { name: "s1", labels: { "app.kubernetes.io/managed-by": "strongroom" } },
    stringData: { a: "1" },
  };
  let rv = "";
  t.create = await outcome(
    () => core.createNamespacedSecret({ namespace: NS, body }),
    (s) => {
      rv = s.metadata!.resourceVersion!;
      return { data: s.data, stringData: s.stringData, type: s.type, uid: typeof s.metadata!.uid };
    },
  );
  t.createAgain = await outcome(
    () => core.createNamespacedSecret({ namespace: NS, body }),
    () => "created",
  );
  const events: string[] = [];
  const watch = await new k8s.Watch(kc).watch(
    `/api/v1/namespaces/${NS}/secrets`,
    { resourceVersion: rv },
    (type: string, obj: k8s.V1Secret) =>
      events.push(
        `${type} ${obj.metadata!.name} ${Object.keys(obj.data ?? {})
          .sort()
          .join(",")}`,
      ),
    () => undefined,
  );
  t.replaceStale = await outcome(
    () =>
      core.replaceNamespacedSecret({
        namespace: NS,
        name: "s1",
        body: { metadata: { name: "s1", resourceVersion: "1" }, data: { a: "Mg==" } },
      }),
    () => "replaced",
  );
  t.mergePatch = await outcome(
    () =>
      core.patchNamespacedSecret(
        { namespace: NS, name: "s1", body: { metadata: { labels: { extra: "x" } }, data: { b: "Mw==" } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      ),
    (s) => ({ labels: s.metadata!.labels, keys: Object.keys(s.data ?? {}).sort() }),
  );
  t.jsonPatchFailedTest = await outcome(
    () =>
      core.patchNamespacedSecret(
        {
          namespace: NS,
          name: "s1",
          body: [
            { op: "test", path: "/data/a", value: "bm9wZQ==" },
            { op: "remove", path: "/data/a" },
          ],
        },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
      ),
    () => "patched",
  );
  t.getMissing = await outcome(
    () => core.readNamespacedSecret({ namespace: NS, name: "absent" }),
    () => "found",
  );
  t.listSelected = await outcome(
    () =>
      core.listNamespacedSecret({ namespace: NS, labelSelector: "app.kubernetes.io/managed-by=strongroom,extra=x" }),
    (l) => l.items.map((s) => s.metadata!.name),
  );
  t.deleted = await outcome(
    () => core.deleteNamespacedSecret({ namespace: NS, name: "s1" }),
    () => "deleted",
  );
  await sleep(500);
  watch.abort();
  t.watch = { ok: events };

  // In the real cluster Strongroom's own controller reconciles b1 too and may add its Ready
  // condition at any moment: the contract is the status subresource's rules, so compare the
  // fields this scenario writes (observedGeneration) and the generation, not the controller's.
  const bindingView = (b: { status?: unknown; metadata: { generation?: number } }) => {
    const status = b.status as { observedGeneration?: number } | undefined;
    return {
      status: status ? { observedGeneration: status.observedGeneration } : null,
      generation: b.metadata.generation,
    };
  };
  const binding = {
    apiVersion: "strongroom.io/v1alpha1",
    kind: "SecretBinding",
    metadata: { name: "b1" },
    spec: { items: [{ path: "a", variable: "v" }] },
    status: { observedGeneration: 7 },
  };
  t.bindingCreate = await outcome(
    () =>
      custom.createNamespacedCustomObject({ ...B, body: binding }) as Promise<{
        status?: unknown;
        metadata: { generation?: number };
      }>,
    bindingView,
  );
  t.bindingStatus = await outcome(
    () =>
      custom.patchNamespacedCustomObjectStatus(
        { ...B, name: "b1", body: { status: { observedGeneration: 1 } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      ) as Promise<{ status?: unknown; metadata: { generation?: number } }>,
    bindingView,
  );
  t.bindingSpecPatch = await outcome(
    () =>
      custom.patchNamespacedCustomObject(
        { ...B, name: "b1", body: { spec: { secretName: "x" }, status: { observedGeneration: 9 } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      ) as Promise<{ status?: unknown; metadata: { generation?: number } }>,
    bindingView,
  );
  // metav1.MicroTime: six fractional digits or a 400 (the leader elector's bug, found here).
  const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
  const lease = (name: string, renewTime: string): k8s.V1Lease => ({
    metadata: { name },
    spec: { holderIdentity: "a", leaseDurationSeconds: 15, renewTime: renewTime as never },
  });
  t.leaseMillis = await outcome(
    () => coordination.createNamespacedLease({ namespace: NS, body: lease("l1", "2026-01-02T03:04:05.678Z") }),
    () => "created",
  );
  t.leaseMicros = await outcome(
    () => coordination.createNamespacedLease({ namespace: NS, body: lease("l2", "2026-01-02T03:04:05.678000Z") }),
    (l) => String(l.spec!.renewTime instanceof Date ? l.spec!.renewTime.toISOString() : l.spec!.renewTime),
  );
  return t;
}

describe("contract: the stand-in API server agrees with the real one", function () {
  this.timeout(120_000);
  let standIn: TestApiServer;

  before(async () => {
    await namespace(NS);
    standIn = await new TestApiServer().start();
    await fetch(`${standIn.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`, {
      method: "POST",
      body: JSON.stringify(parse(readFileSync(CRD, "utf8"))),
    });
    // The real one has the CRD from the chart (applied by another file) or gets it now.
    kubectl(controlPlane(), ["apply", "--server-side", "-f", CRD]);
    kubectl(controlPlane(), [
      "wait",
      "--for=condition=Established",
      "crd/secretbindings.strongroom.io",
      "--timeout=60s",
    ]);
  });
  after(() => standIn.stop());

  it("gives the same answers to the same scenario", async () => {
    const real = await scenario(adminConfig());
    const kc = new k8s.KubeConfig();
    kc.loadFromString(standIn.kubeconfig());
    const fake = await scenario(kc);
    for (const step of Object.keys(real))
      expect(fake[step], `${step} (real: ${JSON.stringify(real[step])})`).to.deep.equal(real[step]);
  });
});
