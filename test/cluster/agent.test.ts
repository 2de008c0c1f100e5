import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { kubectl } from "./chart.js";
import { freePort } from "./control-plane.js";
import { adminConfig, installation, namespace, until, type Installation } from "./fixture.js";
import { serviceAccountToken } from "./server-process.js";

const ROOT = join(import.meta.dirname, "..", "..");
const NS = "agent-apps";
const POLICY = `
- !host kubernetes/${NS}/app
- !variable agent/key
- !permit { role: !host kubernetes/${NS}/app, privilege: execute, resource: !variable agent/key }
`;

describe("agent mode: the injected agent, run with a pod-bound TokenRequest token", function () {
  this.timeout(120_000);
  let inst: Installation;
  let pod: k8s.V1Pod;
  let agent: ChildProcess | undefined;
  let dir: string;

  before(async () => {
    inst = await installation();
    await namespace(NS);
    kubectl(inst.cp, ["create", "serviceaccount", "app", "-n", NS]);
    await inst.admin.loadPolicy(POLICY);
    await inst.admin.setSecret("agent/key", "a1");
    dir = mkdtempSync(join(inst.cp.dir, "agent-"));
  });
  after(() => {
    agent?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("gets the agent container and its projected token from the webhook", async () => {
    const core = adminConfig(inst.cp).makeApiClient(k8s.CoreV1Api);
    pod = await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: {
          name: "app",
          annotations: {
            "strongroom.io/inject": "true",
            "strongroom.io/inject-mode": "agent",
            "strongroom.io/secret.key": "agent/key",
          },
        },
        spec: { serviceAccountName: "app", containers: [{ name: "app", image: "registry.example/app:1" }] },
      },
    });
    const all = [...(pod.spec!.initContainers ?? []), ...pod.spec!.containers];
    expect(all.some((c) => c.env?.some((e) => e.name === "STRONGROOM_URL"))).to.equal(true);
    // Besides the API server's own kube-api-access volume (no audience): the agent's token.
    const audiences = pod
      .spec!.volumes!.flatMap((v) => v.projected?.sources ?? [])
      .flatMap((s) => (s.serviceAccountToken?.audience ? [s.serviceAccountToken.audience] : []));
    expect(audiences).to.deep.equal(["strongroom"]);
  });

  it("logs in with the pod's token (authn-kubernetes), writes the file and follows a rotation", async () => {
    const container = [...(pod.spec!.initContainers ?? []), ...pod.spec!.containers].find((c) =>
      c.env?.some((e) => e.name === "STRONGROOM_URL"),
    )!;
    const env = Object.fromEntries(container.env!.map((e) => [e.name, e.value ?? ""]));
    // What the kubelet would project: a token bound to this pod, for the agent's audience.
    const tokenFile = join(dir, "token");
    writeFileSync(
      tokenFile,
      serviceAccountToken(inst.cp, "app", NS, [
        "--audience=strongroom",
        "--bound-object-kind=Pod",
        `--bound-object-name=${pod.metadata!.name}`,
        `--bound-object-uid=${pod.metadata!.uid}`,
      ]),
    );
    const files = join(dir, "files");
    // The container's command runs dist/agent/main.js; here the same entry point from the sources.
    agent = spawn(
      process.execPath,
      [
        "--import",
        pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href,
        join(ROOT, "src", "agent", "main.ts"),
        ...(container.args ?? []),
      ],
      {
        env: {
          PATH: process.env.PATH ?? "",
          ...env,
          // The Service URL resolves only inside a cluster; the same server answers here.
          STRONGROOM_URL: inst.admin.url,
          STRONGROOM_TOKEN_FILE: tokenFile,
          STRONGROOM_AGENT_DIR: files,
          STRONGROOM_AGENT_HEALTH_PORT: String(await freePort()),
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    agent.stdout!.on("data", (c: Buffer) => (output += c.toString()));
    agent.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    const content = (): Promise<string | undefined> => Promise.resolve(readFileSync(join(files, "key"), "utf8"));
    await until("the agent's first write", async () => ((await content()) === "a1" ? true : undefined), 30_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n${output}`, { cause: err });
      },
    );
    const rotated = Date.now();
    await inst.admin.setSecret("agent/key", "a2");
    await until("the rotated file", async () => ((await content()) === "a2" ? true : undefined), 10_000);
    expect(Date.now() - rotated).to.be.below(5_000);
  });
});
