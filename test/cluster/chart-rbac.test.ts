import { expect } from "chai";
import * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { applyManifests, kubectl, NAMESPACE } from "./chart.js";
import { adminConfig, installation, until, type Installation } from "./fixture.js";
import { failedServerStart, serviceAccountToken } from "./server-process.js";

describe("the chart on a real API server: manifests, RBAC, the server's own objects", function () {
  this.timeout(120_000);
  let inst: Installation;
  let core: k8s.CoreV1Api;

  before(async () => {
    inst = await installation();
    core = adminConfig(inst.cp).makeApiClient(k8s.CoreV1Api);
  });

  it("applies every rendered manifest with fieldValidation=Strict (server-side apply)", () => {
    const lines = inst.applied.trim().split("\n");
    expect(lines).to.have.length(inst.manifests.length);
    for (const line of lines) expect(line).to.match(/ serverside-applied$/);
    // A second apply (a GitOps resync) is accepted too, and leaves the server-patched caBundle alone.
    applyManifests(inst.cp, inst.yaml);
    const config = JSON.parse(kubectl(inst.cp, ["get", "mutatingwebhookconfiguration", "strongroom", "-o", "json"]));
    expect(Buffer.from(config.webhooks[0].clientConfig.caBundle, "base64").toString()).to.equal(inst.caPem);
  });

  it("runs with a TokenRequest token of the chart's ServiceAccount: it takes the Lease and creates its Secrets", async () => {
    const lease = await until(
      "the Lease",
      async () =>
        JSON.parse(kubectl(inst.cp, ["get", "lease", "strongroom-controller", "-n", NAMESPACE, "-o", "json"])) as {
          spec: { holderIdentity?: string };
        },
      20_000,
    );
    expect(lease.spec.holderIdentity).to.be.a("string").and.not.equal("");
    const names = (await core.listNamespacedSecret({ namespace: NAMESPACE })).items.map((s) => s.metadata!.name);
    expect(names).to.include.members(["strongroom-data-key", "strongroom-initial-admin", "strongroom-webhook-tls"]);
    await inst.server.waitFor(/became leader/, 20_000);
    expect(inst.server.output()).to.not.match(/forbidden/i);
  });

  it("registers a webhook certificate valid for the URL the API server calls (IP SAN 127.0.0.1)", async () => {
    const { X509Certificate } = await import("node:crypto");
    const secret = await core.readNamespacedSecret({ namespace: NAMESPACE, name: "strongroom-webhook-tls" });
    const cert = new X509Certificate(Buffer.from(secret.data!["tls.crt"]!, "base64"));
    expect(cert.subjectAltName).to.equal("IP Address:127.0.0.1");
  });

  it("cannot reach beyond the chart's grants (least privilege, where RBAC can say it)", () => {
    const token = serviceAccountToken(inst.cp, "strongroom");
    const can = (...args: string[]): string => {
      try {
        return kubectl(inst.cp, ["--token", token, "auth", "can-i", ...args]).trim();
      } catch (err) {
        // `can-i` answers "no" on stdout with exit status 1.
        return /\bno\s*$/.test((err as Error).message) ? "no" : (err as Error).message;
      }
    };
    expect(can("patch", "mutatingwebhookconfigurations/other")).to.equal("no");
    expect(can("patch", "mutatingwebhookconfigurations/strongroom")).to.equal("yes");
    expect(can("create", "leases", "-n", "default")).to.equal("no");
    expect(can("update", "leases/strongroom-controller", "-n", NAMESPACE)).to.equal("yes");
    expect(can("create", "pods", "-n", "default")).to.equal("no");
    expect(can("update", "clusterroles")).to.equal("no");
  });

  it("syncs its controller with exactly the chart's RBAC (its Secret informer's list/watch included)", async () => {
    const can = (verb: string, resource: string): boolean => {
      try {
        kubectl(inst.cp, [
          "auth",
          "can-i",
          verb,
          resource,
          "--all-namespaces",
          "--as",
          `system:serviceaccount:${NAMESPACE}:strongroom`,
        ]);
        return true;
      } catch {
        return false;
      }
    };
    expect(can("list", "secrets") && can("watch", "secrets")).to.equal(true);
    // No extra grant anywhere in this tier: the controller's caches sync and it leads.
    const health = await until(
      "the controller healthy",
      async () => {
        const res = await inst.admin.call("GET", "/health/controller");
        return res.status === 200 ? res : undefined;
      },
      20_000,
    );
    expect(JSON.parse(health.text)).to.include({ leading: true, synced: true });
  });

  it("fails clearly when the chart's RBAC lacks one verb (get on its webhook configuration)", async () => {
    const role = inst.manifests.find((m) => m.kind === "ClusterRole" && m.metadata.name === "strongroom-webhook-ca")!;
    const rules = (role as unknown as { rules: { verbs: string[] }[] }).rules;
    const crippled = { ...role, rules: rules.map((r) => ({ ...r, verbs: r.verbs.filter((v) => v !== "get") })) };
    applyManifests(inst.cp, stringify(crippled));
    try {
      const result = await failedServerStart(inst.cp, inst.manifests, serviceAccountToken(inst.cp, "strongroom"));
      expect(result.code, result.output).to.not.equal(0);
      // What an operator reads in the pod's log: one line, which step, object, verb and identity.
      expect(result.output, result.output).to.match(
        /strongroom: webhook certificate: mutatingwebhookconfigurations\.admissionregistration\.k8s\.io "strongroom" is forbidden: User "system:serviceaccount:strongroom:strongroom" cannot get resource "mutatingwebhookconfigurations"/,
      );
      expect(result.output).to.not.match(/Unknown API Status Code|\\"/);
    } finally {
      applyManifests(inst.cp, stringify(role));
    }
  });
});
