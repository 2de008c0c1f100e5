/**
 * One operator test setup: the stand-in API server with the SecretBinding CRD, a Strongroom
 * server with its controller leading (and, if asked, its admission webhook over TLS), a policy
 * and values loaded, and the helpers every operator test needs (pods through the webhook or its
 * mutation, workloads, bindings, Secrets, Events, metrics, restarts).
 */
import * as k8s from "@kubernetes/client-node";
import jsonpatch from "fast-json-patch";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { mutatePod } from "../../src/kubernetes/webhook/mutate-pod.js";
import { TestApiServer } from "../k8s/apiserver/server.js";
import type { WatchEvent } from "../k8s/apiserver/store.js";
import { startTestServer, type TestServer } from "./server.js";
import { httpsRequest, selfSignedCertificate, type TestCertificate } from "./tls.js";

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

type BindingStatus = {
  status: {
    conditions: { type: string; status: string; reason: string; message: string }[];
    observedGeneration?: number;
    lastSyncTime?: string;
  };
};

export interface OperatorOptions {
  /** The namespace the pods, Secrets and bindings live in ("apps"). */
  namespace?: string;
  /** Serve the admission webhook (and so the API) over TLS with a throw-away certificate. */
  webhook?: boolean;
  /** More server flags, on top of the controller's. */
  flags?: Record<string, string>;
}

export class OperatorFixture {
  api!: TestApiServer;
  kc!: k8s.KubeConfig;
  core!: k8s.CoreV1Api;
  custom!: k8s.CustomObjectsApi;
  server!: TestServer;
  readonly namespace: string;
  #tls: TestCertificate | undefined;
  #token = "";

  constructor(readonly options: OperatorOptions = {}) {
    this.namespace = options.namespace ?? "apps";
  }

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
    if (this.options.webhook) this.#tls = selfSignedCertificate();
    this.server = await this.#startServer();
    const auth = await this.#request("POST", "/authn/k8s/admin/authenticate", this.server.adminKey, {
      "Accept-Encoding": "base64",
    });
    this.#token = auth.text;
    const loaded = await this.call("POST", "/policies/k8s/policy/root", policy);
    if (loaded.status !== 201) throw new Error(`policy load: ${loaded.status} ${loaded.text}`);
    for (const [id, value] of Object.entries(values)) await this.setSecret(id, value);
    await until("leadership", async () => (this.server.controller!.leading ? true : undefined));
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    await this.api?.stop();
  }

  /** Another Strongroom replica on the same database and data key (a restart, once the first is closed). */
  startReplica(flags: Record<string, string> = {}): Promise<TestServer> {
    return this.#startServer({ databaseUrl: this.server.databaseUrl, dataKey: this.server.dataKey }, flags);
  }

  #startServer(database: { databaseUrl?: string; dataKey?: string } = {}, flags: Record<string, string> = {}) {
    const tls = this.#tls
      ? { "webhook-port": "0", "tls-cert": this.#tls.certFile, "tls-key": this.#tls.keyFile }
      : undefined;
    return startTestServer({
      account: "k8s",
      kubeConfig: this.kc,
      ...database,
      flags: { controller: true, ...tls, namespace: "strongroom", ...this.options.flags, ...flags },
    });
  }

  /** A request to the Strongroom API as the admin (over TLS when the webhook is on). */
  call(method: string, path: string, body?: string | Buffer): Promise<{ status: number; text: string }> {
    return this.#request(method, path, body, { Authorization: `Token token="${this.#token}"` });
  }

  async #request(
    method: string,
    path: string,
    body?: string | Buffer,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; text: string }> {
    const url = `${this.server.url}${path}`;
    if (this.#tls) return httpsRequest(url, this.#tls.cert, { method, body, headers });
    const res = await fetch(url, {
      method,
      headers,
      body: typeof body === "string" ? body : body && new Uint8Array(body),
    });
    return { status: res.status, text: await res.text() };
  }

  async setSecret(id: string, value: string | Buffer): Promise<void> {
    const res = await this.call("POST", `/secrets/k8s/variable/${encodeURIComponent(id)}`, value);
    if (res.status !== 201) throw new Error(`set ${id}: ${res.status}`);
  }

  /** The server's Prometheus metrics text. */
  async metrics(): Promise<string> {
    return (await this.#request("GET", "/metrics")).text;
  }

  #pod(metadata: k8s.V1ObjectMeta, serviceAccountName: string, annotations: Record<string, string>): k8s.V1Pod {
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        ...metadata,
        namespace: this.namespace,
        annotations: { "strongroom.io/inject": "true", ...annotations },
      },
      spec: { serviceAccountName, containers: [{ name: "app", image: "app" }] },
    };
  }

  #mutate(pod: k8s.V1Pod): k8s.V1Pod {
    const m = mutatePod(pod, this.namespace);
    if (m.kind !== "patch") throw new Error(`not injected: ${JSON.stringify(m)}`);
    return jsonpatch.applyPatch(pod, m.patch as jsonpatch.Operation[]).newDocument;
  }

  /** A pod as the webhook mutates it (not yet created): its Secret name is in its annotations. */
  mutated(name: string, serviceAccountName: string, annotations: Record<string, string>): k8s.V1Pod {
    return this.#mutate(this.#pod({ name }, serviceAccountName, annotations));
  }

  /** A workload: `replicas` pods of one ReplicaSet `name`, created through the webhook's mutation. */
  async createWorkload(
    name: string,
    replicas: number,
    serviceAccountName: string,
    annotations: Record<string, string>,
  ): Promise<{ pods: k8s.V1Pod[]; secretName: string }> {
    const owner = { apiVersion: "apps/v1", kind: "ReplicaSet", name, uid: `rs-${name}`, controller: true };
    const pods: k8s.V1Pod[] = [];
    for (let i = 0; i < replicas; i++) {
      const pod = this.#pod({ name: `${name}-${i}`, ownerReferences: [owner] }, serviceAccountName, annotations);
      pods.push(await this.createPod(this.#mutate(pod)));
    }
    const secretName = pods[0]?.metadata?.annotations?.["strongroom.io/secret-name"];
    if (!secretName) throw new Error(`${name}: no Secret name in its pods' annotations`);
    return { pods, secretName };
  }

  /** A pod (named like a ReplicaSet's) as the running webhook admits it over HTTPS, not yet created. */
  async admitted(serviceAccountName: string, annotations: Record<string, string>): Promise<k8s.V1Pod> {
    if (!this.#tls) throw new Error("the webhook is off: new OperatorFixture({ webhook: true })");
    const pod = this.#pod({ generateName: `${serviceAccountName}-7c9f-` }, serviceAccountName, annotations);
    const review = {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: { uid: "u1", kind: { kind: "Pod" }, namespace: this.namespace, operation: "CREATE", object: pod },
    };
    const res = await httpsRequest(`https://127.0.0.1:${this.server.webhookPort}/mutate-pods`, this.#tls.cert, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(review),
    });
    const response = JSON.parse(res.text).response as {
      allowed: boolean;
      patch?: string;
      status?: { message?: string };
    };
    if (!response.allowed) throw new Error(`the webhook refused the pod: ${response.status?.message}`);
    if (!response.patch) return pod;
    return jsonpatch.applyPatch(pod, JSON.parse(Buffer.from(response.patch, "base64").toString())).newDocument;
  }

  /** What a ReplicaSet does: send the pod through the webhook, apply the patch, create it. */
  async createThroughWebhook(serviceAccountName: string, annotations: Record<string, string>): Promise<k8s.V1Pod> {
    return this.createPod(await this.admitted(serviceAccountName, annotations));
  }

  createPod(pod: k8s.V1Pod): Promise<k8s.V1Pod> {
    return this.core.createNamespacedPod({ namespace: this.namespace, body: pod });
  }

  deletePod(name: string): Promise<k8s.V1Pod> {
    return this.core.deleteNamespacedPod({ namespace: this.namespace, name });
  }

  secret(name: string): Promise<k8s.V1Secret | undefined> {
    return this.core.readNamespacedSecret({ namespace: this.namespace, name }).catch(() => undefined);
  }

  /** A Secret's keys and decoded values ({} while it does not exist). */
  async secretValues(name: string): Promise<Record<string, string>> {
    return decode(await this.secret(name));
  }

  /** The names of the Secrets labelled as managed by Strongroom. */
  async managedSecretNames(): Promise<string[]> {
    const list = await this.core.listNamespacedSecret({
      namespace: this.namespace,
      labelSelector: "app.kubernetes.io/managed-by=strongroom",
    });
    return list.items.flatMap((s) => s.metadata?.name ?? []);
  }

  /** Every write the API server makes to the Secret `name` from now until `off()`. */
  recordSecretWrites(name: string): { seen: WatchEvent[]; off: () => void } {
    const seen: WatchEvent[] = [];
    const off = this.api.store.subscribe((e) => {
      if (e.key.endsWith("secrets") && e.object.metadata.name === name) seen.push(e);
    });
    return { seen, off };
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
    return this.#bindingOnce(`${name} Ready reason ${reason}`, name, (c) => c?.reason === reason);
  }

  /** The binding once its Ready condition has this status ("True" or "False"). */
  bindingReady(name: string, status: "True" | "False"): Promise<BindingStatus> {
    return this.#bindingOnce(`${name} Ready=${status}`, name, (c) => c?.status === status);
  }

  #bindingOnce(
    what: string,
    name: string,
    ready: (condition: BindingStatus["status"]["conditions"][number] | undefined) => boolean,
  ): Promise<BindingStatus> {
    return until(what, async () => {
      const b = (await this.custom.getNamespacedCustomObject({
        ...BINDINGS,
        namespace: this.namespace,
        name,
      })) as Partial<BindingStatus>;
      return ready(b.status?.conditions?.[0]) ? (b as BindingStatus) : undefined;
    });
  }

  /** The Events about the object `name` (a pod, a binding), of this reason if given. */
  async events(name: string, reason?: string): Promise<k8s.CoreV1Event[]> {
    const list = await this.core.listNamespacedEvent({
      namespace: this.namespace,
      fieldSelector: `involvedObject.name=${name}`,
    });
    return list.items.filter((e) => !reason || e.reason === reason);
  }

  /** The namespace's Events of this reason, whatever object they are about. */
  async eventsWith(reason: string): Promise<k8s.CoreV1Event[]> {
    const list = await this.core.listNamespacedEvent({ namespace: this.namespace });
    return list.items.filter((e) => e.reason === reason);
  }
}

export const decode = (secret: k8s.V1Secret | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(secret?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));
