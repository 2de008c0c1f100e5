/**
 * One operator test setup: the stand-in API server with the SecretBinding CRD, a Strongroom
 * server with its controller leading, a policy and values loaded, and the helpers every
 * operator test needs (pods through the webhook's mutation, bindings, Secrets, Events).
 */
import * as k8s from "@kubernetes/client-node";
import jsonpatch from "fast-json-patch";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { mutatePod } from "../../src/kubernetes/webhook/mutate-pod.js";
import { TestApiServer } from "../k8s/apiserver/server.js";
import { startTestServer, type TestServer } from "./server.js";

export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const BINDINGS = { group: "strongroom.io", version: "v1alpha1", plural: "secretbindings" };
export const MANAGED_BY = { "app.kubernetes.io/managed-by": "strongroom" };

type BindingStatus = { status: { conditions: { status: string; reason: string; message: string }[] } };

export class OperatorFixture {
  api!: TestApiServer;
  kc!: k8s.KubeConfig;
  core!: k8s.CoreV1Api;
  custom!: k8s.CustomObjectsApi;
  server!: TestServer;
  #token = "";

  constructor(readonly namespace = "apps") {}

  async start(policy: string, values: Record<string, string>): Promise<this> {
    this.api = await new TestApiServer().start();
    this.kc = new k8s.KubeConfig();
    this.kc.loadFromString(this.api.kubeconfig());
    this.core = this.kc.makeApiClient(k8s.CoreV1Api);
    this.custom = this.kc.makeApiClient(k8s.CustomObjectsApi);
    const crd = parse(readFileSync("crds/strongroom.io_secretbindings.yaml", "utf8"));
    await fetch(`${this.api.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`, {
      method: "POST",
      body: JSON.stringify(crd),
    });
    this.server = await startTestServer({
      account: "k8s",
      kubeConfig: this.kc,
      flags: { controller: true, namespace: "strongroom" },
    });
    const auth = await fetch(`${this.server.url}/authn/k8s/admin/authenticate`, {
      method: "POST",
      body: this.server.adminKey,
      headers: { "Accept-Encoding": "base64" },
    });
    this.#token = await auth.text();
    const loaded = await this.call("POST", "/policies/k8s/policy/root", policy);
    if (loaded.status !== 201) throw new Error(`policy load: ${loaded.status} ${await loaded.text()}`);
    for (const [id, value] of Object.entries(values)) await this.setSecret(id, value);
    await until("leadership", async () => (this.server.controller!.leading ? true : undefined));
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    await this.api?.stop();
  }

  call(method: string, path: string, body?: string): Promise<Response> {
    return fetch(`${this.server.url}${path}`, {
      method,
      body,
      headers: { Authorization: `Token token="${this.#token}"` },
    });
  }

  async setSecret(id: string, value: string): Promise<void> {
    const res = await this.call("POST", `/secrets/k8s/variable/${encodeURIComponent(id)}`, value);
    if (res.status !== 201) throw new Error(`set ${id}: ${res.status}`);
  }

  /** A pod as the webhook mutates it (not yet created): its Secret name is in its annotations. */
  mutated(name: string, serviceAccountName: string, annotations: Record<string, string>): k8s.V1Pod {
    const pod: k8s.V1Pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: this.namespace, annotations: { "strongroom.io/inject": "true", ...annotations } },
      spec: { serviceAccountName, containers: [{ name: "app", image: "app" }] },
    };
    const m = mutatePod(pod, this.namespace);
    if (m.kind !== "patch") throw new Error(`not injected: ${JSON.stringify(m)}`);
    return jsonpatch.applyPatch(pod, m.patch as jsonpatch.Operation[]).newDocument;
  }

  createPod(pod: k8s.V1Pod): Promise<k8s.V1Pod> {
    return this.core.createNamespacedPod({ namespace: this.namespace, body: pod });
  }

  secret(name: string): Promise<k8s.V1Secret | undefined> {
    return this.core.readNamespacedSecret({ namespace: this.namespace, name }).catch(() => undefined);
  }

  createSecret(
    name: string,
    data: Record<string, string>,
    metadata: Partial<k8s.V1ObjectMeta> = {},
  ): Promise<k8s.V1Secret> {
    const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
    return this.core.createNamespacedSecret({
      namespace: this.namespace,
      body: { metadata: { name, ...metadata }, data: encoded },
    });
  }

  createBinding(name: string, spec: object): Promise<unknown> {
    const body = { apiVersion: "strongroom.io/v1alpha1", kind: "SecretBinding", metadata: { name }, spec };
    return this.custom.createNamespacedCustomObject({ ...BINDINGS, namespace: this.namespace, body });
  }

  deleteBinding(name: string): Promise<unknown> {
    return this.custom.deleteNamespacedCustomObject({ ...BINDINGS, namespace: this.namespace, name });
  }

  /** The binding once its Ready condition has this reason. */
  bindingWith(name: string, reason: string): Promise<BindingStatus> {
    return until(`${name} Ready reason ${reason}`, async () => {
      const b = (await this.custom.getNamespacedCustomObject({
        ...BINDINGS,
        namespace: this.namespace,
        name,
      })) as Partial<BindingStatus>;
      return b.status?.conditions?.[0]?.reason === reason ? (b as BindingStatus) : undefined;
    });
  }

  async events(name: string, reason?: string): Promise<k8s.CoreV1Event[]> {
    const list = await this.core.listNamespacedEvent({
      namespace: this.namespace,
      fieldSelector: `involvedObject.name=${name}`,
    });
    return list.items.filter((e) => !reason || e.reason === reason);
  }
}

export const decode = (secret: k8s.V1Secret | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(secret?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));
