/**
 * One control plane and one Strongroom installation for the whole cluster tier (starting a
 * control plane costs seconds; every test file shares it). Mocha root hooks: the control plane
 * and the test Postgres start before the first file and stop after the last, on failure too.
 */
import { readFileSync } from "node:fs";
import * as k8s from "@kubernetes/client-node";
import { Agent, request } from "undici";
import { freshDatabase, startTestPostgres, stopTestPostgres } from "../support/postgres.js";
import { applyManifests, helmTemplate, kubectl, NAMESPACE, type Manifest } from "./chart.js";
import { freePort, startControlPlane, type ControlPlane } from "./control-plane.js";
import { startServerProcess, type ServerProcess } from "./server-process.js";

let plane: ControlPlane | undefined;

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    this.timeout(180_000);
    await startTestPostgres();
    plane = await startControlPlane();
    for (const line of plane.versions) console.log(`      ${line}`);
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(60_000);
    await installed
      ?.then(async (i) => {
        await i.server.stop();
        if (process.env.CLUSTER_DEBUG) process.stderr.write(`strongroom server output:\n${i.server.output()}\n`);
      })
      .catch(() => undefined);
    await plane?.stop();
    await stopTestPostgres();
  },
};

export function controlPlane(): ControlPlane {
  if (!plane) throw new Error("the control plane is not running (run through test/cluster/run.sh)");
  return plane;
}

export function adminConfig(cp = controlPlane()): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cp.adminKubeconfig);
  return kc;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await sleep(25);
  }
}

/** The REST API as a client sees it: HTTPS, trusting the server-made CA. */
export class Api {
  readonly dispatcher: Agent;
  token: string | undefined;
  constructor(
    readonly url: string,
    caPem: string,
    readonly account = "default",
  ) {
    this.dispatcher = new Agent({ connect: { ca: caPem } });
  }
  async call(
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; text: string }> {
    const auth: Record<string, string> = this.token ? { authorization: `Token token="${this.token}"` } : {};
    const res = await request(`${this.url}${path}`, {
      method: method as "GET",
      dispatcher: this.dispatcher,
      headers: { ...auth, ...headers },
      ...(body !== undefined ? { body } : {}),
    });
    return { status: res.statusCode, text: await res.body.text() };
  }
  async login(login: string, apiKey: string): Promise<this> {
    const res = await this.call("POST", `/authn/${this.account}/${encodeURIComponent(login)}/authenticate`, apiKey, {
      "accept-encoding": "base64",
    });
    if (res.status !== 200) throw new Error(`authenticate ${login}: ${res.status} ${res.text}`);
    this.token = res.text;
    return this;
  }
  async loadPolicy(policy: string): Promise<void> {
    const res = await this.call("POST", `/policies/${this.account}/policy/root`, policy);
    if (res.status !== 201) throw new Error(`policy: ${res.status} ${res.text}`);
  }
  async setSecret(id: string, value: string): Promise<void> {
    const res = await this.call("POST", `/secrets/${this.account}/variable/${encodeURIComponent(id)}`, value);
    if (res.status !== 201) throw new Error(`set ${id}: ${res.status} ${res.text}`);
  }
}

export interface Installation {
  cp: ControlPlane;
  manifests: Manifest[];
  /** kubectl's output of the first apply. */
  applied: string;
  yaml: string;
  values: Record<string, unknown>;
  server: ServerProcess;
  webhookPort: number;
  /** The server-made CA (Secret strongroom-webhook-tls). */
  caPem: string;
  adminKey: string;
  admin: Api;
  /** Replaces the running server (e.g. after a test stopped it). */
  restart(): Promise<ServerProcess>;
}

let installed: Promise<Installation> | undefined;

/** The chart applied and its server running: once per run. */
export function installation(): Promise<Installation> {
  installed ??= install();
  return installed;
}

export async function chartValues(
  cp: ControlPlane,
  webhookPort: number,
  databaseUrl: string,
): Promise<Record<string, unknown>> {
  return {
    database: { url: databaseUrl },
    webhook: { port: webhookPort, url: `https://127.0.0.1:${webhookPort}/mutate-pods` },
    authnKubernetes: { issuer: cp.issuer },
    // identity.test.ts: Conjur's authn-jwt with the cluster's tokens.
    authenticators: ["authn-jwt/kube"],
  };
}

async function install(): Promise<Installation> {
  const cp = controlPlane();
  kubectl(cp, ["create", "namespace", NAMESPACE]);
  const webhookPort = await freePort();
  const values = await chartValues(cp, webhookPort, await freshDatabase());
  const { yaml, manifests } = helmTemplate(cp, values);
  const applied = applyManifests(cp, yaml);
  kubectl(cp, ["wait", "--for=condition=Established", "crd/secretbindings.strongroom.io", "--timeout=60s"]);
  const core = adminConfig(cp).makeApiClient(k8s.CoreV1Api);
  const secret = async (name: string): Promise<Record<string, string>> =>
    Object.fromEntries(
      Object.entries((await core.readNamespacedSecret({ namespace: NAMESPACE, name })).data ?? {}).map(([k, v]) => [
        k,
        Buffer.from(v, "base64").toString(),
      ]),
    );
  const inst = { cp, manifests, applied, yaml, values, webhookPort } as Installation;
  inst.restart = async () => {
    inst.server = await startServerProcess(cp, manifests, { name: "main" });
    await inst.server.waitFor(/webhook certificate ready/);
    // The REST port is chosen afresh on each start.
    if (inst.adminKey)
      inst.admin = await new Api(`https://127.0.0.1:${inst.server.port}`, inst.caPem).login("admin", inst.adminKey);
    return inst.server;
  };
  await inst.restart();
  inst.caPem = (await secret("strongroom-webhook-tls"))["ca.crt"]!;
  inst.adminKey = (await secret("strongroom-initial-admin"))["api-key"]!;
  inst.admin = await new Api(`https://127.0.0.1:${inst.server.port}`, inst.caPem).login("admin", inst.adminKey);
  return inst;
}

/** A namespace for one test file, with its default ServiceAccount (made by the controller manager). */
export async function namespace(name: string): Promise<void> {
  const cp = controlPlane();
  kubectl(cp, ["create", "namespace", name]);
  const core = adminConfig(cp).makeApiClient(k8s.CoreV1Api);
  await until(`ServiceAccount ${name}/default`, () =>
    core.readNamespacedServiceAccount({ namespace: name, name: "default" }),
  );
}

export const decode = (secret: k8s.V1Secret): Record<string, string> =>
  Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));

export const readText = (file: string): string => readFileSync(file, "utf8");
