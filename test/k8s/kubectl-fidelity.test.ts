import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { kubectlPath } from "../support/binaries.js";
import { TestApiServer } from "./apiserver/server.js";

describe("the test API server, driven by the real kubectl", function () {
  this.timeout(60_000);
  let api: TestApiServer;
  let dir: string;
  let kubeconfig: string;
  // Asynchronous on purpose: the API server answers from this same process.
  const kubectl = (...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(
        kubectlPath(),
        ["--kubeconfig", kubeconfig, ...args],
        { encoding: "utf8", timeout: 30_000 },
        (err, stdout, stderr) => resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const ok = async (...args: string[]): Promise<string> => {
    const res = await kubectl(...args);
    expect(res.status, `kubectl ${args.join(" ")}: ${res.stderr}`).to.equal(0);
    return res.stdout;
  };

  before(async () => {
    api = await new TestApiServer().start();
    dir = mkdtempSync(join(tmpdir(), "strongroom-kubectl-"));
    kubeconfig = join(dir, "config");
    writeFileSync(kubeconfig, api.kubeconfig());
  });
  after(async () => {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers discovery: kubectl version and api-resources", async () => {
    expect(await ok("version", "-o", "json")).to.contain("v1.33.0");
    const resources = await ok("api-resources");
    expect(resources).to.match(/pods\s+po\s+v1\s+true\s+Pod/);
    expect(resources).to.match(/leases\s+coordination.k8s.io\/v1\s+true\s+Lease/);
  });

  it("accepts our CRDs with kubectl apply -f crds/ and then serves the new kind", async () => {
    expect(await ok("apply", "--validate=false", "-f", "crds/")).to.contain(
      "customresourcedefinition.apiextensions.k8s.io/secretbindings.strongroom.io created",
    );
    expect(await ok("api-resources", "--api-group=strongroom.io")).to.match(
      /secretbindings\s+sbind\s+strongroom.io\/v1alpha1\s+true\s+SecretBinding/,
    );
    writeFileSync(
      join(dir, "binding.yaml"),
      "apiVersion: strongroom.io/v1alpha1\nkind: SecretBinding\nmetadata: { name: db, namespace: default }\nspec:\n  items: [{ path: password, variable: db/password }]\n",
    );
    expect(await ok("apply", "--validate=false", "-f", join(dir, "binding.yaml"))).to.contain(
      "secretbinding.strongroom.io/db created",
    );
    expect(JSON.parse(await ok("get", "secretbinding", "db", "-o", "json")).spec.items[0].variable).to.equal(
      "db/password",
    );
    expect(await ok("apply", "--validate=false", "-f", join(dir, "binding.yaml"))).to.contain("unchanged");
  });

  it("answers kubectl's protobuf bodies with 415, and turns a Secret's stringData into data", async () => {
    const typed = await kubectl("create", "secret", "generic", "creds", "--from-literal=user=alice");
    expect(api.requests.some((r) => r.method === "POST" && r.contentType?.includes("protobuf"))).to.equal(true);
    expect(typed.status).to.not.equal(0);
    expect(typed.stderr).to.contain("the body of the request was in an unknown format");
    writeFileSync(
      join(dir, "s.yaml"),
      "apiVersion: v1\nkind: Secret\nmetadata: { name: plain }\nstringData: { token: abc }\n",
    );
    await ok("apply", "--validate=false", "-f", join(dir, "s.yaml"));
    const plain = JSON.parse(await ok("get", "secret", "plain", "-o", "json"));
    expect(plain.data).to.deep.equal({ token: Buffer.from("abc").toString("base64") });
    expect(plain.stringData).to.equal(undefined);
  });

  it("creates, lists with label selectors, patches and deletes pods", async () => {
    writeFileSync(
      join(dir, "pod.yaml"),
      "apiVersion: v1\nkind: Pod\nmetadata: { name: web, labels: { app: web, tier: front } }\nspec: { containers: [{ name: c, image: nginx }] }\n",
    );
    await ok("apply", "--validate=false", "-f", join(dir, "pod.yaml"));
    expect(
      JSON.parse(await ok("get", "pods", "-l", "app=web", "-o", "json")).items.map((p: any) => p.metadata.name),
    ).to.deep.equal(["web"]);
    expect(JSON.parse(await ok("get", "pods", "-l", "app in (api,db)", "-o", "json")).items).to.have.length(0);
    expect(
      JSON.parse(await ok("get", "pods", "--field-selector", "metadata.name=web", "-o", "json")).items,
    ).to.have.length(1);
    await ok("label", "pod", "web", "strongroom.io/managed=true");
    expect(JSON.parse(await ok("get", "pod", "web", "-o", "json")).metadata.labels["strongroom.io/managed"]).to.equal(
      "true",
    );
    await ok("annotate", "pod", "web", "note=hello");
    expect(await ok("get", "pod", "web", "-o", "jsonpath={.metadata.annotations.note}")).to.equal("hello");
    expect(await ok("delete", "pod", "web")).to.contain('pod "web" deleted');
    const missing = await kubectl("get", "pod", "web");
    expect(missing.status).to.not.equal(0);
    expect(missing.stderr).to.contain('pods "web" not found');
  });

  it("collects garbage: a Secret owned by a deleted pod disappears", async () => {
    const pod = JSON.parse(await ok("run", "owner", "--image=nginx", "-o", "json", "--dry-run=none"));
    writeFileSync(
      join(dir, "owned.yaml"),
      JSON.stringify({
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name: "owned",
          ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: "owner", uid: pod.metadata.uid }],
        },
        data: {},
      }),
    );
    await ok("apply", "--validate=false", "-f", join(dir, "owned.yaml"));
    await ok("delete", "pod", "owner");
    expect((await kubectl("get", "secret", "owned")).status).to.not.equal(0);
  });

  it("refuses a stale update with 409 Conflict and an existing name with 409 AlreadyExists", async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(api.kubeconfig());
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const created = await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "cm" }, data: { a: "1" } },
    });
    await core.replaceNamespacedConfigMap({ namespace: "default", name: "cm", body: { ...created, data: { a: "2" } } });
    const stale = await core
      .replaceNamespacedConfigMap({ namespace: "default", name: "cm", body: { ...created, data: { a: "3" } } })
      .catch((e: { code: number }) => e);
    expect((stale as { code: number }).code).to.equal(409);
    const dup = await core
      .createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "cm" } } })
      .catch((e: { code: number; body: string }) => e);
    expect((dup as { code: number }).code).to.equal(409);
    expect(JSON.parse((dup as { body: string }).body).reason).to.equal("AlreadyExists");
  });

  it("streams watch events from a resourceVersion and answers an expired one with 410 Gone", async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(api.kubeconfig());
    const from = api.store.resourceVersion;
    const events: string[] = [];
    const watch = new k8s.Watch(kc);
    const req = await watch.watch(
      "/api/v1/namespaces/default/configmaps",
      { resourceVersion: String(from) },
      (type, obj: k8s.V1ConfigMap) => events.push(`${type} ${obj.metadata?.name}`),
      () => undefined,
    );
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "watched" } } });
    await core.deleteNamespacedConfigMap({ namespace: "default", name: "watched" });
    await new Promise((r) => setTimeout(r, 200));
    req.abort();
    expect(events).to.deep.equal(
      ["ADDED watched", "MODIFIED watched", "DELETED watched"].filter((e) => !e.startsWith("MODIFIED")),
    );
    api.store.compact();
    const gone: { code?: number }[] = [];
    const expired = await watch.watch(
      "/api/v1/namespaces/default/configmaps",
      { resourceVersion: String(from) },
      (type, obj: { code?: number }) => type === "ERROR" && gone.push(obj),
      () => undefined,
    );
    await new Promise((r) => setTimeout(r, 200));
    expired.abort();
    expect(gone[0]?.code).to.equal(410);
  });
});
