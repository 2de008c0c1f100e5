import { expect } from "chai";
import * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { kubectl } from "./chart.js";
import { adminConfig, decode, installation, namespace, until, type Installation } from "./fixture.js";

const NS = "binding-apps";
const POLICY = `
- !host kubernetes/${NS}/app
- !variable binding/token
- !permit { role: !host kubernetes/${NS}/app, privilege: execute, resource: !variable binding/token }
`;

const binding = (name: string, spec: unknown): string =>
  stringify({ apiVersion: "strongroom.io/v1alpha1", kind: "SecretBinding", metadata: { name, namespace: NS }, spec });

describe("SecretBinding: the CRD as the real API server serves it", function () {
  this.timeout(120_000);
  let inst: Installation;
  let custom: k8s.CustomObjectsApi;
  const apply = (yaml: string): string =>
    kubectl(inst.cp, ["apply", "--server-side", "--validate=strict", "-f", "-"], yaml);
  const refused = (yaml: string): string => {
    try {
      apply(yaml);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error("the API server accepted it");
  };
  const get = (name: string) =>
    custom.getNamespacedCustomObject({
      group: "strongroom.io",
      version: "v1alpha1",
      namespace: NS,
      plural: "secretbindings",
      name,
    }) as Promise<{ status?: { conditions?: { type: string; status: string; reason?: string }[] } }>;

  before(async () => {
    inst = await installation();
    custom = adminConfig(inst.cp).makeApiClient(k8s.CustomObjectsApi);
    await namespace(NS);
    kubectl(inst.cp, ["create", "serviceaccount", "app", "-n", NS]);
    await inst.admin.loadPolicy(POLICY);
    await inst.admin.setSecret("binding/token", "t0k3n");
  });

  it("rejects invalid specs with the schema's messages", () => {
    expect(refused(binding("empty", { items: [] }))).to.match(
      /spec\.items: Invalid value: 0: spec\.items in body should have at least 1 items/,
    );
    expect(refused(binding("slash", { items: [{ path: "../etc", variable: "x" }] }))).to.match(
      /spec\.items\[0\]\.path in body should match/,
    );
    expect(refused(binding("novar", { items: [{ path: "a" }] }))).to.match(
      /spec\.items\[0\]\.variable: Required value/,
    );
    expect(refused(binding("every", { items: [{ path: "a", variable: "x" }], refreshInterval: "soon" }))).to.match(
      /spec\.refreshInterval in body should match/,
    );
    expect(refused(binding("typo", { items: [{ path: "a", variable: "x" }], secretname: "x" }))).to.match(
      /unknown field "spec\.secretname"|\.spec\.secretname: field not declared in schema/,
    );
  });

  it("gets its status through the status subresource, and keeps the Secret in sync", async () => {
    apply(
      binding("db", {
        serviceAccountName: "app",
        secretName: "db-creds",
        items: [{ path: "token", variable: "binding/token" }],
      }),
    );
    const ready = await until("Ready=True", async () => {
      const b = await get("db");
      return b.status?.conditions?.find((c) => c.type === "Ready" && c.status === "True") ? b : undefined;
    });
    expect(ready.status!.conditions!.find((c) => c.type === "Ready")!.status).to.equal("True");
    const core = adminConfig(inst.cp).makeApiClient(k8s.CoreV1Api);
    expect(decode(await core.readNamespacedSecret({ namespace: NS, name: "db-creds" }))).to.deep.equal({
      token: "t0k3n",
    });
    // A write of .status through the main resource is ignored by the API server.
    kubectl(inst.cp, [
      "patch",
      "secretbinding",
      "db",
      "-n",
      NS,
      "--type=merge",
      "-p",
      JSON.stringify({ status: { conditions: [{ type: "Ready", status: "False" }] } }),
    ]);
    expect((await get("db")).status!.conditions!.find((c) => c.type === "Ready")!.status).to.equal("True");
  });

  it("shows the printer columns in `kubectl get secretbindings`", () => {
    const [header, row] = kubectl(inst.cp, ["get", "secretbindings", "-n", NS]).trim().split("\n");
    expect(header!.split(/\s{2,}/)).to.deep.equal(["NAME", "READY", "REASON", "SECRET", "LAST SYNC", "AGE"]);
    expect(row!.split(/\s{2,}/).slice(0, 4)).to.deep.equal(["db", "True", row!.split(/\s{2,}/)[2], "db-creds"]);
    expect(kubectl(inst.cp, ["get", "sbind", "db", "-n", NS, "-o", "name"]).trim()).to.equal(
      "secretbinding.strongroom.io/db",
    );
  });
});
