/**
 * `strongroom server` as a local process configured exactly as the chart's Deployment
 * configures the container: the same args and env, with only what a pod would get from its
 * node replaced by local equivalents (ports, the service-account token and CA files, a
 * kubeconfig holding a TokenRequest token of the chart's own ServiceAccount). Every call it
 * makes to the API server is therefore authorized by the chart's RBAC and nothing more.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { freePort, kubeconfigYaml, type ControlPlane } from "./control-plane.js";
import { kubectl, NAMESPACE, type Manifest } from "./chart.js";

const ROOT = join(import.meta.dirname, "..", "..");

export interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  /** REST API port (HTTPS with the server-made certificate). */
  port: number;
  output(): string;
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: as a node dies with its pod. */
  kill(): Promise<void>;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
}
interface Container {
  args: string[];
  env: EnvVar[];
}

export function serverContainer(manifests: Manifest[]): Container {
  const deployment = manifests.find((m) => m.kind === "Deployment") as unknown as {
    spec: { template: { spec: { containers: Container[] } } };
  };
  return deployment.spec.template.spec.containers[0]!;
}

/** A TokenRequest token of a ServiceAccount, as the kubelet would project into the pod. */
export function serviceAccountToken(
  cp: ControlPlane,
  name: string,
  namespace = NAMESPACE,
  extra: string[] = [],
): string {
  return kubectl(cp, ["create", "token", name, "-n", namespace, "--duration=2h", ...extra]).trim();
}

/** The env the kubelet would give the container: values, the pod's namespace, Secret keys. */
async function resolveEnv(env: EnvVar[], core: k8s.CoreV1Api): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of env) {
    if (e.value !== undefined) out[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.namespace") out[e.name] = NAMESPACE;
    else if (e.valueFrom?.secretKeyRef) {
      const secret = await core.readNamespacedSecret({ namespace: NAMESPACE, name: e.valueFrom.secretKeyRef.name });
      const data = secret.data?.[e.valueFrom.secretKeyRef.key];
      if (data === undefined)
        throw new Error(`Secret ${e.valueFrom.secretKeyRef.name} has no ${e.valueFrom.secretKeyRef.key}`);
      out[e.name] = Buffer.from(data, "base64").toString();
    } else throw new Error(`cannot resolve env ${e.name} locally`);
  }
  return out;
}

export async function startServerProcess(
  cp: ControlPlane,
  manifests: Manifest[],
  opts: {
    serviceAccount?: string;
    token?: string;
    extraArgs?: string[];
    env?: Record<string, string>;
    name?: string;
    webhookPort?: number;
  } = {},
): Promise<ServerProcess> {
  const container = serverContainer(manifests);
  const token = opts.token ?? serviceAccountToken(cp, opts.serviceAccount ?? "strongroom");
  const name = opts.name ?? `server-${Date.now()}`;
  const kubeconfig = join(cp.dir, `${name}.kubeconfig`);
  const tokenFile = join(cp.dir, `${name}.token`);
  writeFileSync(kubeconfig, kubeconfigYaml(cp.server, cp.caPem, token));
  writeFileSync(tokenFile, token);
  const admin = new k8s.KubeConfig();
  admin.loadFromFile(cp.adminKubeconfig);
  const env = await resolveEnv(container.env, admin.makeApiClient(k8s.CoreV1Api));
  // A free port instead of the container's 8080; everything else as the chart says.
  // A second server on this machine cannot share the webhook port the chart names.
  const replaced = ["--port=", ...(opts.webhookPort ? ["--webhook-port="] : [])];
  const args = [
    ...container.args.filter((a) => !replaced.some((p) => a.startsWith(p))),
    "--port=0",
    "--host=127.0.0.1",
    ...(opts.webhookPort ? [`--webhook-port=${opts.webhookPort}`] : []),
    ...(opts.extraArgs ?? []),
  ];
  // The sources, not dist/: the tier tests the working tree. tsx by URL: cwd is the temp dir.
  const child = spawn(
    process.execPath,
    [
      "--import",
      pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href,
      join(ROOT, "src", "cli", "main.ts"),
      ...args,
    ],
    {
      cwd: cp.dir,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/root",
        KUBECONFIG: kubeconfig,
        // In the pod the default JWKS URI (https://kubernetes.default.svc/openid/v1/jwks) is read
        // with the pod's CA and token; here the same API server answers on 127.0.0.1.
        STRONGROOM_KUBERNETES_JWKS_URI: `${cp.server}/openid/v1/jwks`,
        STRONGROOM_KUBERNETES_JWKS_CA_FILE: cp.caFile,
        STRONGROOM_KUBERNETES_JWKS_TOKEN_FILE: tokenFile,
        ...env,
        ...opts.env,
      },
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((ok) => child.once("exit", (code) => ok(code)));
  const waitFor = async (pattern: RegExp, ms = 30_000): Promise<RegExpExecArray> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const match = pattern.exec(stdout);
      if (match) return match;
      if (child.exitCode !== null)
        throw new Error(`server exited ${child.exitCode}:\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`);
      if (Date.now() > deadline)
        throw new Error(
          `no ${pattern} in the server's output within ${ms} ms:\n${stdout.slice(-4000)}\n${stderr.slice(-2000)}`,
        );
      await new Promise((ok) => setTimeout(ok, 50));
    }
  };
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  };
  // The server must not outlive the test process, whatever happens.
  process.once("exit", () => child.kill("SIGKILL"));
  try {
    const port = Number((await waitFor(/"port":(\d+)[^\n]*strongroom server listening/, 60_000))[1]);
    return { child, port, output: () => stdout + stderr, waitFor, stop, kill };
  } catch (err) {
    await kill();
    throw err;
  }
}

/** Starts a server expected to fail; its exit code and all its output. */
export async function failedServerStart(
  cp: ControlPlane,
  manifests: Manifest[],
  token: string,
): Promise<{ code: number | null; output: string }> {
  try {
    const server = await startServerProcess(cp, manifests, {
      token,
      name: `failing-${Date.now()}`,
      webhookPort: await freePort(),
    });
    const output = server.output();
    await server.stop();
    return { code: 0, output };
  } catch (err) {
    return { code: 1, output: (err as Error).message };
  }
}
