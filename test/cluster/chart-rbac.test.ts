import { expect } from "chai";
import * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { applyManifests, kubectl, NAMESPACE } from "./chart.js";
import { adminConfig, installation, type Installation } from "./fixture.js";
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
    const lease = JSON.parse(kubectl(inst.cp, ["get", "lease", "strongroom-controller", "-n", NAMESPACE, "-o", "json"]));
    expect(lease.spec.holderIdentity).to.be.a("string").and.not.equal("");
    const names = (await core.listNamespacedSecret({ namespace: NAMESPACE })).items.map((s) => s.metadata!.name);
    expect(names).to.include.members(["strongroom-data-key", "strongroom-initial-admin", "strongroom-webhook-tls"]);
    expect(inst.server.output()).to.not.match(/forbidden/i);
  });

  it("registers a webhook certificate valid for the URL the API server calls (IP SAN 127.0.0.1)", async () => {
    const { X509Certificate } = await import("node:crypto");
    const secret = await core.readNamespacedSecret({ namespace: NAMESPACE, name: "strongroom-webhook-tls" });
    const cert = new X509Certificate(Buffer.from(secret.data!["tls.crt"]!, "base64"));
    expect(cert.subjectAltName).to.equal("IP Address:127.0.0.1");
  });

  it("cannot list or watch Secrets, nor touch the data key (least privilege)", () => {
    const token = serviceAccountToken(inst.cp, "strongroom");
    const can = (...args: string[]): string => {
      try {
        return kubectl(inst.cp, ["--token", token, "auth", "can-i", ...args]).trim();
      } catch (err) {
        return /\bno\b/.test((err as Error).message) ? "no" : (err as Error).message;
      }
    };
    expect(can("list", "secrets", "-A")).to.equal("no");
    expect(can("watch", "secrets", "-n", "default")).to.equal("no");
    expect(can("update", "secrets/strongroom-data-key", "-n", NAMESPACE)).to.equal("no");
    expect(can("delete", "secrets/strongroom-data-key", "-n", NAMESPACE)).to.equal("no");
    expect(can("patch", "mutatingwebhookconfigurations/other")).to.equal("no");
    expect(can("patch", "mutatingwebhookconfigurations/strongroom")).to.equal("yes");
  });

  it("fails clearly when the chart's RBAC lacks one verb (get on its own Secrets)", async () => {
    const role = inst.manifests.find((m) => m.kind === "Role" && m.metadata.name === "strongroom-bootstrap")!;
    const rules = (role as unknown as { rules: { verbs: string[]; resourceNames?: string[] }[] }).rules;
    const crippled = { ...role, rules: rules.map((r) => (r.verbs.includes("get") ? { ...r, verbs: ["list"] } : r)) };
    applyManifests(inst.cp, stringify(crippled));
    try {
      const result = await failedServerStart(inst.cp, inst.manifests, serviceAccountToken(inst.cp, "strongroom"));
      expect(result.code).to.not.equal(0);
      // What an operator reads in the pod's log: which object, which verb, which identity.
      expect(result.output).to.match(/secrets "strongroom-data-key" is forbidden/);
      expect(result.output).to.match(/system:serviceaccount:strongroom:strongroom/);
      expect(result.output).to.match(/cannot get resource "secrets"/);
    } finally {
      applyManifests(inst.cp, stringify(role));
    }
  });
});
