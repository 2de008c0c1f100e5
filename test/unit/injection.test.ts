import { expect } from "chai";
import { parseDuration, parseInjection } from "../../src/kubernetes/injection/annotations.js";
import { identityKey, managedSecretName } from "../../src/kubernetes/injection/secret-name.js";
import { mutatePod } from "../../src/kubernetes/webhook/mutate-pod.js";

describe("unit: managedSecretName is a persisted contract", () => {
  // Running pods name their Secret by these values: a change orphans every one after an upgrade.
  it("derives the known names", () => {
    expect(managedSecretName("apps", "sa:web", { password: "db/password", user: "db/user" })).to.equal("strongroom-38e00f8cbd31a251073c");
    expect(managedSecretName("apps", "sa:billing|host:billing/app", { password: "db/password" })).to.equal("strongroom-b4d811314bc73706232a");
  });
  it("ignores the order of files, and separates namespaces and identities", () => {
    const a = managedSecretName("apps", "sa:web", { b: "y", a: "x" });
    expect(managedSecretName("apps", "sa:web", { a: "x", b: "y" })).to.equal(a);
    expect(managedSecretName("other", "sa:web", { a: "x", b: "y" })).to.not.equal(a);
    expect(managedSecretName("apps", "sa:api", { a: "x", b: "y" })).to.not.equal(a);
  });
  it("keys identity by service account, plus a claimed host", () => {
    expect(identityKey({ host: undefined }, undefined)).to.equal("sa:default");
    expect(identityKey({ host: "billing/app" }, "billing")).to.equal("sa:billing|host:billing/app");
  });
});

describe("unit: annotation parsing", () => {
  it("reads files, mount path, refresh interval and containers", () => {
    const spec = parseInjection({ "strongroom.io/inject": "true", "strongroom.io/secret.db.pw": " db/password ", "strongroom.io/mount-path": "/etc/s", "strongroom.io/refresh-interval": "1m30s", "strongroom.io/containers": "app, side" });
    expect(spec).to.deep.include({ files: { "db.pw": "db/password" }, mountPath: "/etc/s", refreshMs: 90_000, containers: ["app", "side"] });
  });
  it("names every problem", () => {
    const result = parseInjection({ "strongroom.io/secret.../x": "v", "strongroom.io/refresh-interval": "1ms", "strongroom.io/mount-path": "../x", "strongroom.io/bogus": "1" });
    expect("problems" in result && result.problems.join("\n")).to.match(/valid file name/).and.match(/refresh-interval/).and.match(/mount-path/).and.match(/unknown annotation/);
  });
  it("parses Go-style durations and refuses the rest", () => {
    expect(parseDuration("1h30m")).to.equal(5_400_000);
    expect(parseDuration("500ms")).to.equal(500);
    expect(parseDuration("5 m")).to.equal(undefined);
    expect(parseDuration("")).to.equal(undefined);
  });
});

describe("unit: mutatePod", () => {
  const pod = (annotations: Record<string, string>) => ({ metadata: { annotations: { "strongroom.io/inject": "true", ...annotations } }, spec: { serviceAccountName: "web", containers: [{ name: "app" }] } });
  it("skips pods that did not opt in", () => {
    expect(mutatePod({ metadata: {}, spec: { containers: [] } }, "apps")).to.deep.equal({ kind: "skip" });
  });
  it("adds the label, the Secret name, a read-only projected volume and its mount", () => {
    const m = mutatePod(pod({ "strongroom.io/secret.password": "db/password" }), "apps");
    expect(m.kind).to.equal("patch");
    if (m.kind !== "patch") return;
    expect(m.secretName).to.equal(managedSecretName("apps", "sa:web", { password: "db/password" }));
    expect(m.patch.map((p) => p.path)).to.deep.equal(["/metadata/labels", "/metadata/annotations/strongroom.io~1secret-name", "/spec/volumes", "/spec/containers/0/volumeMounts"]);
    expect(m.patch[3]!.value).to.deep.equal([{ name: "strongroom-secrets", mountPath: "/var/run/secrets/strongroom", readOnly: true }]);
  });
  it("rejects unknown containers and subPath mounts of its volume", () => {
    expect(mutatePod(pod({ "strongroom.io/secret.p": "x", "strongroom.io/containers": "nope" }), "apps")).to.include({ kind: "reject" });
    const sub = { ...pod({ "strongroom.io/secret.p": "x" }), spec: { containers: [{ name: "app", volumeMounts: [{ name: "strongroom-secrets", mountPath: "/s", subPath: "p" }] }] } };
    expect(mutatePod(sub, "apps")).to.include({ kind: "reject" });
  });
});
