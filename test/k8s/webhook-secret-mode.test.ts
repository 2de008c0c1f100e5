import { expect } from "chai";
import type { V1Pod } from "@kubernetes/client-node";
import fastJsonPatch from "fast-json-patch";
import { mutatePod, type Mutation } from "../../src/kubernetes/webhook/mutate-pod.js";
import { managedSecretName } from "../../src/kubernetes/injection/secret-name.js";

const pod = (annotations: Record<string, string>, extra: Partial<V1Pod["spec"]> = {}): V1Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    generateName: "app-",
    namespace: "prod",
    annotations: { "strongroom.io/inject": "true", ...annotations },
  },
  spec: {
    serviceAccountName: "app",
    containers: [
      { name: "app", image: "app:1" },
      { name: "side", image: "side:1", env: [{ name: "LOG", value: "info" }] },
    ],
    ...extra,
  },
});
const GROUPS = {
  "strongroom.io/secret.password": "db/password",
  "strongroom.io/secrets.app.env": "- DB_USER: db/user\n- DB_PASSWORD: db/password\n",
  "strongroom.io/format.app.env": "dotenv",
  "strongroom.io/file-mode.app.env": "0400",
  "strongroom.io/secrets.dsn": "- U: db/user\n- P: db/password\n",
  "strongroom.io/format.dsn": "template",
  "strongroom.io/template.dsn": 'postgres://{{ secret "U" }}:{{ secret "P" | urlquery }}@db/app',
  "strongroom.io/env.DB_PASSWORD": "db/password",
};
const apply = (p: V1Pod, m: Mutation): V1Pod => {
  if (m.kind !== "patch") throw new Error(`expected a patch, got ${JSON.stringify(m)}`);
  return fastJsonPatch.applyPatch(structuredClone(p), m.patch as fastJsonPatch.Operation[]).newDocument;
};
const envRef = (secretName: string) => ({
  name: "DB_PASSWORD",
  valueFrom: { secretKeyRef: { name: secretName, key: "env.DB_PASSWORD", optional: false } },
});

describe("webhook: inject-mode secret with grouped files, file modes and env", () => {
  it("projects every file as an item (with its file-mode) and no env key, and adds env secretKeyRefs to the containers", () => {
    const input = pod(GROUPS);
    const m = mutatePod(input, "prod");
    const out = apply(input, m);
    const name = out.metadata!.annotations!["strongroom.io/secret-name"]!;
    expect(name).to.match(/^strongroom-[0-9a-f]{20}$/);
    expect(out.metadata!.labels).to.deep.equal({ "strongroom.io/managed": "true" });
    expect(out.spec!.volumes).to.deep.equal([
      {
        name: "strongroom-secrets",
        projected: {
          defaultMode: 0o440,
          sources: [
            {
              secret: {
                name,
                optional: false,
                items: [
                  { key: "app.env", path: "app.env", mode: 0o400 },
                  { key: "dsn", path: "dsn" },
                  { key: "password", path: "password" },
                ],
              },
            },
          ],
        },
      },
    ]);
    expect(out.spec!.containers[0]!.env).to.deep.equal([envRef(name)]);
    expect(out.spec!.containers[1]!.env).to.deep.equal([{ name: "LOG", value: "info" }, envRef(name)]);
    for (const c of out.spec!.containers)
      expect(c.volumeMounts).to.deep.equal([
        { name: "strongroom-secrets", mountPath: "/var/run/secrets/strongroom", readOnly: true },
      ]);
  });

  it("is idempotent: a re-invoked webhook adds nothing twice", () => {
    const input = pod(GROUPS, { initContainers: [{ name: "migrate", image: "m:1" }] });
    const once = apply(input, mutatePod(input, "prod"));
    expect(once.spec!.initContainers![0]!.env).to.have.length(1);
    const again = mutatePod(once, "prod");
    expect(again).to.deep.equal({
      kind: "patch",
      patch: [],
      secretName: once.metadata!.annotations!["strongroom.io/secret-name"],
    });
  });

  it("gives env only to the containers strongroom.io/containers selects", () => {
    const input = pod({ ...GROUPS, "strongroom.io/containers": "side" });
    const out = apply(input, mutatePod(input, "prod"));
    expect(out.spec!.containers[0]!.env).to.equal(undefined);
    expect(out.spec!.containers[0]!.volumeMounts).to.equal(undefined);
    expect(out.spec!.containers[1]!.env!.map((e) => e.name)).to.deep.equal(["LOG", "DB_PASSWORD"]);
  });

  it("env only: env references, no volume", () => {
    const input = pod({ "strongroom.io/env.DB_PASSWORD": "db/password" });
    const out = apply(input, mutatePod(input, "prod"));
    const name = out.metadata!.annotations!["strongroom.io/secret-name"]!;
    expect(out.spec!.volumes).to.equal(undefined);
    expect(out.spec!.containers[0]!.env).to.deep.equal([envRef(name)]);
  });

  it("a single-variable pod without file-mode keeps today's patch and Secret name exactly", () => {
    const input = pod({ "strongroom.io/secret.password": "db/password" });
    const m = mutatePod(input, "prod");
    const name = managedSecretName("prod", "sa:app", { password: "db/password" });
    expect(m).to.deep.include({ kind: "patch", secretName: name });
    const out = apply(input, m);
    expect(out.spec!.volumes).to.deep.equal([
      {
        name: "strongroom-secrets",
        projected: { sources: [{ secret: { name, optional: false } }], defaultMode: 0o440 },
      },
    ]);
    expect(out.spec!.containers[0]!.env).to.equal(undefined);
  });

  it("a single-variable file with file-mode gets its mode through an item, under the same Secret name", () => {
    const input = pod({ "strongroom.io/secret.password": "db/password", "strongroom.io/file-mode.password": "0400" });
    const out = apply(input, mutatePod(input, "prod"));
    const name = managedSecretName("prod", "sa:app", { password: "db/password" });
    expect(out.spec!.volumes![0]!.projected!.sources).to.deep.equal([
      { secret: { name, optional: false, items: [{ key: "password", path: "password", mode: 0o400 }] } },
    ]);
  });

  describe("rejects with a clear message", () => {
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      [
        "unknown format",
        { "strongroom.io/secrets.f": "- A: x", "strongroom.io/format.f": "toml" },
        /unknown format 'toml'/,
      ],
      [
        "template that does not parse",
        {
          "strongroom.io/secrets.f": "- A: x",
          "strongroom.io/format.f": "template",
          "strongroom.io/template.f": '{{ secret "A" ',
        },
        /without a matching '}}'/,
      ],
      [
        "bash key that is no env name",
        { "strongroom.io/secrets.f": "- my-key: x", "strongroom.io/format.f": "bash" },
        /'my-key' is not a valid environment variable name for bash/,
      ],
      [
        "file named like an env key",
        { "strongroom.io/secret.env.DB": "x", "strongroom.io/env.DB": "y" },
        /would share its Secret key/,
      ],
      [
        "a container that sets the env name itself",
        { "strongroom.io/env.LOG": "x" },
        /container 'side' already sets env LOG/,
      ],
    ];
    for (const [name, annotations, message] of cases) {
      it(name, () => {
        const m = mutatePod(pod(annotations), "prod");
        expect(m.kind).to.equal("reject");
        expect((m as { message: string }).message).to.match(message);
      });
    }
  });
});
