import { expect } from "chai";
import type { V1Pod } from "@kubernetes/client-node";
import fastJsonPatch from "fast-json-patch";
import { mutatePod, type Mutation } from "../../src/kubernetes/webhook/mutate-pod.js";
import type { AgentInjectionOptions } from "../../src/kubernetes/webhook/agent-patch.js";

const AGENT: AgentInjectionOptions = {
  image: "ghcr.io/example/strongroom:1.0",
  serverUrl: "https://strongroom.strongroom.svc:8080",
  account: "default",
  authenticator: "authn-kubernetes",
  audience: "strongroom",
};

const pod = (annotations: Record<string, string>, extra: Partial<V1Pod["spec"]> = {}): V1Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    generateName: "app-",
    namespace: "prod",
    annotations: { "strongroom.io/inject": "true", ...annotations },
  },
  spec: { serviceAccountName: "app", containers: [{ name: "app", image: "app:1" }], ...extra },
});
const GROUP = {
  "strongroom.io/secrets.app.env": "- DB_USER: db/user\n- DB_PASSWORD: db/password\n",
  "strongroom.io/format.app.env": "dotenv",
  "strongroom.io/file-mode.app.env": "0400",
};
const apply = (p: V1Pod, m: Mutation): V1Pod => {
  if (m.kind !== "patch") throw new Error(`expected a patch, got ${JSON.stringify(m)}`);
  return fastJsonPatch.applyPatch(structuredClone(p), m.patch as fastJsonPatch.Operation[]).newDocument;
};

describe("webhook: inject-mode agent and init (no Secret)", () => {
  it("agent: a native sidecar first among init containers, memory emptyDir read-only in the app, projected token for the agent only", () => {
    const input = pod(
      { ...GROUP, "strongroom.io/inject-mode": "agent" },
      { initContainers: [{ name: "migrate", image: "m:1" }] },
    );
    const out = apply(input, mutatePod(input, "prod", AGENT));
    const agent = out.spec!.initContainers![0]!;
    expect(agent.name).to.equal("strongroom-agent");
    expect(agent.restartPolicy).to.equal("Always");
    expect(agent.image).to.equal(AGENT.image);
    expect(agent.command).to.deep.equal(["node", "/app/dist/agent/strongroom-agent.cjs"]);
    expect(agent.args).to.equal(undefined);
    expect(agent.startupProbe?.httpGet?.path).to.equal("/health");
    const env = Object.fromEntries(agent.env!.map((e) => [e.name, e.value]));
    expect(env).to.include({
      STRONGROOM_URL: AGENT.serverUrl,
      STRONGROOM_LOGIN: "host/kubernetes/prod/app",
      STRONGROOM_AUTHENTICATOR: "authn-kubernetes",
      STRONGROOM_AGENT_DIR: "/var/run/secrets/strongroom",
    });
    expect(JSON.parse(env.STRONGROOM_AGENT_FILES!)).to.deep.equal({
      "app.env": { secrets: GROUP["strongroom.io/secrets.app.env"], format: "dotenv", mode: "0400" },
    });
    expect(out.spec!.volumes).to.deep.include({ name: "strongroom-secrets", emptyDir: { medium: "Memory" } });
    expect(out.spec!.volumes).to.deep.include({
      name: "strongroom-token",
      projected: {
        sources: [{ serviceAccountToken: { audience: "strongroom", expirationSeconds: 3600, path: "token" } }],
      },
    });
    expect(out.spec!.containers[0]!.volumeMounts).to.deep.equal([
      { name: "strongroom-secrets", mountPath: "/var/run/secrets/strongroom", readOnly: true },
    ]);
    expect(out.spec!.initContainers![1]!.volumeMounts).to.deep.equal([
      { name: "strongroom-secrets", mountPath: "/var/run/secrets/strongroom", readOnly: true },
    ]);
    const tokenMounts = [...out.spec!.containers, ...out.spec!.initContainers!]
      .filter((c) => c.volumeMounts?.some((m) => m.name === "strongroom-token"))
      .map((c) => c.name);
    expect(tokenMounts).to.deep.equal(["strongroom-agent"]);
    expect(out.metadata!.labels?.["strongroom.io/managed"], "no Secret for the controller to make").to.equal(undefined);
    expect(env.STRONGROOM_CA_PEM, "no private CA configured").to.equal(undefined);
  });

  it("agent: passes the server's private CA inline so the agent can verify https://…svc", () => {
    const input = pod({ ...GROUP, "strongroom.io/inject-mode": "agent" });
    const caPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const agent = apply(input, mutatePod(input, "prod", { ...AGENT, caPem })).spec!.initContainers![0]!;
    expect(agent.env).to.deep.include({ name: "STRONGROOM_CA_PEM", value: caPem });
  });

  it("init: a plain init container with --once, no restartPolicy or probes", () => {
    const input = pod({ ...GROUP, "strongroom.io/inject-mode": "init", "strongroom.io/host": "apps/batch" });
    const agent = apply(input, mutatePod(input, "prod", AGENT)).spec!.initContainers![0]!;
    expect(agent.command).to.deep.equal(["node", "/app/dist/agent/strongroom-agent.cjs"]);
    expect(agent.args).to.deep.equal(["--once"]);
    expect(agent.restartPolicy).to.equal(undefined);
    expect(agent.startupProbe).to.equal(undefined);
    expect(agent.env!.find((e) => e.name === "STRONGROOM_LOGIN")!.value).to.equal("host/apps/batch");
  });

  it("is idempotent: a re-invoked webhook adds nothing twice", () => {
    const input = pod({ ...GROUP, "strongroom.io/inject-mode": "agent" });
    const once = apply(input, mutatePod(input, "prod", AGENT));
    const again = mutatePod(once, "prod", AGENT);
    expect(again).to.deep.equal({ kind: "patch", patch: [], secretName: undefined });
  });

  describe("rejects with a clear message", () => {
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      [
        "unknown mode",
        { "strongroom.io/inject-mode": "csi", "strongroom.io/secret.a": "x" },
        /inject-mode' must be one of secret, agent, init/,
      ],
      [
        "unknown format",
        { "strongroom.io/inject-mode": "agent", "strongroom.io/secrets.f": "- A: x", "strongroom.io/format.f": "toml" },
        /unknown format 'toml'/,
      ],
      [
        "template that does not parse",
        {
          "strongroom.io/inject-mode": "agent",
          "strongroom.io/secrets.f": "- A: x",
          "strongroom.io/format.f": "template",
          "strongroom.io/template.f": '{{ secret "A" ',
        },
        /without a matching '}}'/,
      ],
      [
        "dotenv key that is no env name",
        {
          "strongroom.io/inject-mode": "agent",
          "strongroom.io/secrets.f": "- my-key: x",
          "strongroom.io/format.f": "dotenv",
        },
        /'my-key' is not a valid environment variable name for dotenv/,
      ],
      [
        "bad file mode",
        { "strongroom.io/inject-mode": "agent", "strongroom.io/secret.f": "x", "strongroom.io/file-mode.f": "0999" },
        /octal/,
      ],
      [
        "env in agent mode",
        { "strongroom.io/inject-mode": "agent", "strongroom.io/env.DB": "x" },
        /env.<NAME>' needs inject-mode secret/,
      ],
      ["bad env name", { "strongroom.io/env.1DB": "x" }, /'1DB' is not a valid environment variable name/],
    ];
    for (const [name, annotations, message] of cases) {
      it(name, () => {
        const m = mutatePod(pod(annotations), "prod", AGENT);
        expect(m.kind).to.equal("reject");
        expect((m as { message: string }).message).to.match(message);
      });
    }
    it("agent mode on a webhook without agent settings", () => {
      const m = mutatePod(pod({ ...GROUP, "strongroom.io/inject-mode": "agent" }), "prod");
      expect(m).to.deep.include({ kind: "reject" });
      expect((m as { message: string }).message).to.match(/--agent-image/);
    });
  });

  it("secret mode keeps today's single-variable form unchanged", () => {
    const m = mutatePod(pod({ "strongroom.io/secret.password": "db/password" }), "prod", AGENT);
    expect(m.kind).to.equal("patch");
    expect((m as { secretName: string }).secretName).to.match(/^strongroom-[0-9a-f]{20}$/);
  });
});
