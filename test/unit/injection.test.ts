import { expect } from "chai";
import { parseDuration, parseInjection } from "../../src/kubernetes/injection/annotations.js";
import { identityKey, managedSecretName, podSecretName } from "../../src/kubernetes/injection/secret-name.js";
import { podSecretData, podSecretVariables } from "../../src/kubernetes/reconcilers/pod-secret-data.js";
import { mutatePod } from "../../src/kubernetes/webhook/mutate-pod.js";

describe("unit: managedSecretName is a persisted contract", () => {
  // Running pods name their Secret by these values: a change orphans every one after an upgrade.
  it("derives the known names", () => {
    expect(managedSecretName("apps", "sa:web", { password: "db/password", user: "db/user" })).to.equal(
      "strongroom-38e00f8cbd31a251073c",
    );
    expect(managedSecretName("apps", "sa:billing|host:billing/app", { password: "db/password" })).to.equal(
      "strongroom-b4d811314bc73706232a",
    );
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

describe("unit: the Secret name with grouped files and env (issue 11)", () => {
  const GROUP = {
    "strongroom.io/secrets.app.env": "- DB_USER: db/user\n- DB_PASSWORD: db/password\n",
    "strongroom.io/format.app.env": "dotenv",
  };
  const nameOf = (annotations: Record<string, string>, sa = "web") => {
    const spec = parseInjection({ "strongroom.io/inject": "true", ...annotations });
    if ("problems" in spec) throw new Error(spec.problems.join("; "));
    return podSecretName("apps", spec, sa);
  };
  it("keeps exactly today's name for pods that use only secret.<file> (with or without file-mode)", () => {
    expect(nameOf({ "strongroom.io/secret.password": "db/password", "strongroom.io/secret.user": "db/user" })).to.equal(
      "strongroom-38e00f8cbd31a251073c",
    );
    expect(
      nameOf({
        "strongroom.io/secret.password": "db/password",
        "strongroom.io/secret.user": "db/user",
        "strongroom.io/file-mode.user": "0400",
      }),
    ).to.equal("strongroom-38e00f8cbd31a251073c");
  });
  it("derives the known name when groups and env are present", () => {
    expect(
      nameOf({ "strongroom.io/secret.password": "db/password", ...GROUP, "strongroom.io/env.DB_USER": "db/user" }),
    ).to.equal("strongroom-6cf057e6b218e0d3b0b8");
  });
  it("differs whenever the grouped files, format, template or env differ", () => {
    const base = nameOf(GROUP);
    const names = [
      base,
      nameOf({ ...GROUP, "strongroom.io/format.app.env": "bash" }),
      nameOf({ ...GROUP, "strongroom.io/secrets.app.env": "- DB_USER: db/user\n- DB_PASSWORD: db/other\n" }),
      nameOf({ ...GROUP, "strongroom.io/secrets.app.env": "- DB_PASSWORD: db/password\n- DB_USER: db/user\n" }),
      nameOf({
        "strongroom.io/secrets.app.env": GROUP["strongroom.io/secrets.app.env"],
        "strongroom.io/format.app.env": "template",
        "strongroom.io/template.app.env": '{{ secret "DB_USER" }}',
      }),
      nameOf({
        "strongroom.io/secrets.app.env": GROUP["strongroom.io/secrets.app.env"],
        "strongroom.io/format.app.env": "template",
        "strongroom.io/template.app.env": '{{ secret "DB_PASSWORD" }}',
      }),
      nameOf({ ...GROUP, "strongroom.io/env.DB_USER": "db/user" }),
      nameOf({ ...GROUP, "strongroom.io/env.DB_NAME": "db/user" }),
      nameOf({ "strongroom.io/env.DB_USER": "db/user" }),
      nameOf({ ...GROUP }, "api"),
    ];
    expect(new Set(names).size).to.equal(names.length);
    expect(
      nameOf({ ...GROUP, "strongroom.io/file-mode.app.env": "0400" }),
      "a file mode is the volume's, not the Secret's",
    ).to.equal(base);
    expect(
      nameOf({ ...GROUP, "strongroom.io/secrets.app.env": "-   DB_USER:   db/user\n-  DB_PASSWORD: db/password" }),
      "YAML whitespace is no content",
    ).to.equal(base);
  });
  it("refuses a file whose name is an env key", () => {
    const spec = parseInjection({
      "strongroom.io/inject": "true",
      "strongroom.io/secret.env.DB": "x",
      "strongroom.io/env.DB": "y",
    });
    expect("problems" in spec && spec.problems.join()).to.match(
      /file 'env.DB' would share its Secret key with 'strongroom.io\/env.DB'/,
    );
  });
});

describe("unit: Secret data of a Secret-mode pod", () => {
  const specOf = (annotations: Record<string, string>) => {
    const spec = parseInjection({ "strongroom.io/inject": "true", ...annotations });
    if ("problems" in spec) throw new Error(spec.problems.join("; "));
    return spec;
  };
  const values = new Map([
    ["db/user", Buffer.from("app")],
    ["db/password", Buffer.from('p"w$1')],
    ["bin", Buffer.from([0xff, 0xfe])],
  ]);
  const decoded = (data: Record<string, string>) =>
    Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString("latin1")]));
  it("has one key per file (raw or rendered) and one env.<NAME> key per env variable", () => {
    const spec = specOf({
      "strongroom.io/secret.pw": "db/password",
      "strongroom.io/secrets.app.env": "- DB_USER: db/user\n- DB_PASSWORD: db/password",
      "strongroom.io/format.app.env": "dotenv",
      "strongroom.io/env.DB_USER": "db/user",
    });
    expect(podSecretVariables(spec).sort()).to.deep.equal(["db/password", "db/user"]);
    const result = podSecretData(spec, values);
    expect(result.ok && decoded(result.data)).to.deep.equal({
      pw: 'p"w$1',
      "app.env": 'DB_USER="app"\nDB_PASSWORD="p\\"w\\$1"\n',
      "env.DB_USER": "app",
    });
  });
  it("refuses a binary value in a text format with a message that holds no value", () => {
    const spec = specOf({ "strongroom.io/secrets.f": "- B: bin", "strongroom.io/format.f": "properties" });
    const result = podSecretData(spec, values);
    expect(result.ok).to.equal(false);
    expect(!result.ok && result.message).to.match(/file 'f': the value of 'B' is binary/);
  });
});

describe("unit: annotation parsing", () => {
  it("reads files, mount path, refresh interval and containers", () => {
    const spec = parseInjection({
      "strongroom.io/inject": "true",
      "strongroom.io/secret.db.pw": " db/password ",
      "strongroom.io/mount-path": "/etc/s",
      "strongroom.io/refresh-interval": "1m30s",
      "strongroom.io/containers": "app, side",
    });
    expect(spec).to.deep.include({
      files: { "db.pw": "db/password" },
      mountPath: "/etc/s",
      refreshMs: 90_000,
      containers: ["app", "side"],
    });
  });
  it("names every problem", () => {
    const result = parseInjection({
      "strongroom.io/secret.../x": "v",
      "strongroom.io/refresh-interval": "1ms",
      "strongroom.io/mount-path": "../x",
      "strongroom.io/bogus": "1",
    });
    expect("problems" in result && result.problems.join("\n"))
      .to.match(/valid file name/)
      .and.match(/refresh-interval/)
      .and.match(/mount-path/)
      .and.match(/unknown annotation/);
  });
  it("parses Go-style durations and refuses the rest", () => {
    expect(parseDuration("1h30m")).to.equal(5_400_000);
    expect(parseDuration("500ms")).to.equal(500);
    expect(parseDuration("5 m")).to.equal(undefined);
    expect(parseDuration("")).to.equal(undefined);
  });
});

describe("unit: mutatePod", () => {
  const pod = (annotations: Record<string, string>) => ({
    metadata: { annotations: { "strongroom.io/inject": "true", ...annotations } },
    spec: { serviceAccountName: "web", containers: [{ name: "app" }] },
  });
  it("skips pods that did not opt in", () => {
    expect(mutatePod({ metadata: {}, spec: { containers: [] } }, "apps")).to.deep.equal({ kind: "skip" });
  });
  it("adds the label, the Secret name, a read-only projected volume and its mount", () => {
    const m = mutatePod(pod({ "strongroom.io/secret.password": "db/password" }), "apps");
    expect(m.kind).to.equal("patch");
    if (m.kind !== "patch") return;
    expect(m.secretName).to.equal(managedSecretName("apps", "sa:web", { password: "db/password" }));
    expect(m.patch.map((p) => p.path)).to.deep.equal([
      "/metadata/labels",
      "/metadata/annotations/strongroom.io~1secret-name",
      "/spec/volumes",
      "/spec/containers/0/volumeMounts",
    ]);
    expect(m.patch[3]!.value).to.deep.equal([
      { name: "strongroom-secrets", mountPath: "/var/run/secrets/strongroom", readOnly: true },
    ]);
  });
  it("rejects unknown containers and subPath mounts of its volume", () => {
    expect(mutatePod(pod({ "strongroom.io/secret.p": "x", "strongroom.io/containers": "nope" }), "apps")).to.include({
      kind: "reject",
    });
    const sub = {
      ...pod({ "strongroom.io/secret.p": "x" }),
      spec: {
        containers: [{ name: "app", volumeMounts: [{ name: "strongroom-secrets", mountPath: "/s", subPath: "p" }] }],
      },
    };
    expect(mutatePod(sub, "apps")).to.include({ kind: "reject" });
  });
});
